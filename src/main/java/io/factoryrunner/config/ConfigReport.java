package io.factoryrunner.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.camel.PropertiesLookupListener;
import org.apache.camel.spi.PropertiesComponent;

/** The effective configuration: every known key with its value (secrets masked) and where the value came from. */
public final class ConfigReport {

    /** One key as the factory sees it. */
    public record Line(String key, String value, String source) {
    }

    private ConfigReport() {
    }

    public static List<Line> of(PropertiesComponent properties, ConfigTablePropertiesSource table) {
        Map<String, String> sources = new ConcurrentHashMap<>();
        PropertiesLookupListener listener = (name, value, defaultValue, source) -> {
            if (source != null) {
                sources.put(name, source);
            }
        };
        properties.addPropertiesLookupListener(listener);
        try {
            List<Line> lines = new ArrayList<>();
            for (String key : new TreeSet<>(properties.loadProperties().stringPropertyNames())) {
                String value = properties.resolveProperty(key).orElse("");
                String source = describe(sources.getOrDefault(key, "?"));
                boolean secret = table != null && table.isSecret(key) && source.equals("factory_config");
                lines.add(new Line(key, ConfigValues.display(key, value, secret), source));
            }
            return lines;
        } finally {
            LookupListeners.remove(properties, listener);
        }
    }

    private static String describe(String source) {
        if (source.equals("ENV")) {
            return "environment";
        }
        if (source.equals("OverrideProperties")) {
            return "command line";
        }
        if (source.equals("SYS")) {
            return "system property";
        }
        if (source.startsWith("file:")) {
            return source.endsWith("/config/application.properties") ? "config/application.properties" : source;
        }
        if (source.startsWith("classpath:")) {
            return "jar defaults";
        }
        return source;
    }
}
