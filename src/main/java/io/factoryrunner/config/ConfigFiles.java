package io.factoryrunner.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.camel.CamelContext;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.ResourceHelper;

/**
 * Keys that name a file ({@code *-file}: the query and output SQL files) are checked before any route starts: camel-sql
 * reads its query file only when the route starts, so without this {@code validate} passed a query file that is not
 * there and {@code run} failed on it.
 */
public final class ConfigFiles {

    private ConfigFiles() {
    }

    /** One message per key whose {@code file:} or {@code classpath:} value names nothing; empty when all are there. */
    public static List<String> problems(CamelContext context) {
        PropertiesComponent properties = context.getPropertiesComponent();
        Properties all = properties.loadProperties(key -> key.endsWith("-file"));
        List<String> problems = new ArrayList<>();
        for (String key : all.stringPropertyNames().stream().sorted().toList()) {
            String value = properties.resolveProperty(key).orElse("").trim();
            if (!value.startsWith("file:") && !value.startsWith("classpath:")) {
                continue;
            }
            Resource resource = ResourceHelper.resolveResource(context, value);
            if (resource == null || !resource.exists()) {
                // a relative file: path is looked for in the home: say where
                String lookedFor = resource == null || resource.getLocation().equals(value) ? ""
                        : " (looked for " + resource.getLocation() + ")";
                problems.add("Configuration key '" + key + "' has value '" + value + "' that names no file"
                        + lookedFor);
            }
        }
        return problems;
    }
}
