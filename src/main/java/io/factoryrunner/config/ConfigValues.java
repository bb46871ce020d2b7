package io.factoryrunner.config;

import io.factoryrunner.StartupException;
import io.factoryrunner.logging.Secrets;
import java.time.Duration;
import java.util.Optional;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;

/**
 * Typed reads of configuration values through Camel's properties component (so the same precedence applies as
 * for {@code {{key}}} placeholders). A value of the wrong type fails with the key and the value in the message.
 */
public final class ConfigValues {

    private final PropertiesComponent properties;

    public ConfigValues(PropertiesComponent properties) {
        this.properties = properties;
    }

    public Optional<String> optional(String key) {
        return properties.resolveProperty(key).map(String::trim).filter(v -> !v.isEmpty());
    }

    public String string(String key, String defaultValue) {
        return optional(key).orElse(defaultValue);
    }

    public int integer(String key, int defaultValue, int min) {
        Optional<String> raw = optional(key);
        if (raw.isEmpty()) {
            return defaultValue;
        }
        ConfigType.INTEGER.check(key, raw.get(), min).ifPresent(problem -> {
            throw new StartupException(problem);
        });
        return Integer.parseInt(raw.get().trim());
    }

    public boolean bool(String key, boolean defaultValue) {
        Optional<String> raw = optional(key);
        if (raw.isEmpty()) {
            return defaultValue;
        }
        ConfigType.BOOLEAN.check(key, raw.get(), 0).ifPresent(problem -> {
            throw new StartupException(problem);
        });
        return Boolean.parseBoolean(raw.get().toLowerCase());
    }

    public Duration duration(String key, Duration defaultValue) {
        Optional<String> raw = optional(key);
        if (raw.isEmpty()) {
            return defaultValue;
        }
        ConfigType.DURATION.check(key, raw.get(), 0).ifPresent(problem -> {
            throw new StartupException(problem);
        });
        return Duration.ofMillis(TimeUtils.toMilliSeconds(raw.get()));
    }

    /**
     * A value as it may appear in a message: masked when the key is sensitive by name or marked secret, unless the
     * value is a placeholder (empty, none, changeme...), which the operator needs to see is not a real secret.
     */
    public static String display(String key, String value, boolean secret) {
        if ((secret || Secrets.isSecretKey(key)) && !Secrets.isPlaceholder(value)) {
            return Secrets.MASK;
        }
        return Secrets.mask(value);
    }
}
