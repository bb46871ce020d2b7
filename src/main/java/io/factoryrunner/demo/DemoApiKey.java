package io.factoryrunner.demo;

import io.factoryrunner.config.ConfigTablePropertiesSource;
import io.factoryrunner.logging.Secrets;
import java.util.UUID;
import org.apache.camel.Ordered;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.PropertiesSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DEMO ONLY: the analytics API key when the installation has none (empty or a placeholder): made up at each start,
 * so the stand-in API, which asks for the key like the real product, is never open to whoever finds the port. It
 * ranks below the configuration table and above the files, so a key set in the table later replaces it at once.
 */
public final class DemoApiKey implements PropertiesSource, Ordered {

    public static final String KEY = "analytics.api-key";

    private static final Logger LOG = LoggerFactory.getLogger(DemoApiKey.class);

    private final String value = "demo-" + UUID.randomUUID();

    private DemoApiKey() {
    }

    /** Adds a made-up key to the configuration unless one is configured. */
    public static void provideUnlessConfigured(PropertiesComponent properties) {
        if (!Secrets.isPlaceholder(properties.resolveProperty(KEY).orElse(""))) {
            return;
        }
        DemoApiKey key = new DemoApiKey();
        Secrets.register(key.value);
        properties.addPropertiesSource(key);
        LOG.info("DEMO: no {} configured; the factory and the stand-in API share one made up for this run", KEY);
    }

    @Override
    public String getName() {
        return "demo mode";
    }

    @Override
    public String getProperty(String name) {
        return KEY.equals(name) ? value : null;
    }

    @Override
    public int getOrder() {
        return ConfigTablePropertiesSource.ORDER + 10;
    }
}
