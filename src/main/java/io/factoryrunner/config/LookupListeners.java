package io.factoryrunner.config;

import org.apache.camel.PropertiesLookupListener;
import org.apache.camel.component.properties.PropertiesComponent;

/**
 * Removes a lookup listener: Camel's SPI {@code PropertiesComponent} can add one but not remove it, only the
 * component class can (in a class of its own, since both types share a simple name).
 */
final class LookupListeners {

    private LookupListeners() {
    }

    static void remove(Object properties, PropertiesLookupListener listener) {
        if (properties instanceof PropertiesComponent component) {
            component.removePropertiesLookupListener(listener);
        }
    }
}
