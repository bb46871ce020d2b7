package io.factoryrunner.config;

import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.camel.Ordered;
import org.apache.camel.spi.LoadablePropertiesSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The configuration table as a Camel properties source. Camel asks sources in ascending order and takes the first
 * answer; the file locations start at order 100, so the table ranks above {@code config/application.properties}
 * and the shipped defaults, and below environment variables and system properties, which Camel asks first.
 * <p>
 * Lookups are served from a snapshot that {@link #refresh()} replaces, so a placeholder never waits on the database.
 */
public final class ConfigTablePropertiesSource implements LoadablePropertiesSource, Ordered {

    public static final int ORDER = 50;

    private static final Logger LOG = LoggerFactory.getLogger(ConfigTablePropertiesSource.class);

    private final ConfigTable table;
    private volatile Map<String, ConfigTable.Entry> snapshot = Map.of();

    public ConfigTablePropertiesSource(ConfigTable table) {
        this.table = table;
    }

    /** Reads the table again and returns the keys whose value appeared, changed or disappeared. */
    public synchronized Set<String> refresh() throws SQLException {
        Map<String, ConfigTable.Entry> fresh = table.loadAll();
        fresh.values().stream().filter(e -> e.secret() || Secrets.isSecretKey(e.key()))
                .forEach(e -> Secrets.register(e.value()));
        Set<String> changed = new HashSet<>();
        Map<String, ConfigTable.Entry> old = snapshot;
        for (var e : fresh.entrySet()) {
            ConfigTable.Entry before = old.get(e.getKey());
            if (before == null || !Objects.equals(before.value(), e.getValue().value())) {
                changed.add(e.getKey());
            }
        }
        for (String key : old.keySet()) {
            if (!fresh.containsKey(key)) {
                changed.add(key);
            }
        }
        snapshot = Map.copyOf(fresh);
        if (!changed.isEmpty()) {
            LOG.debug("Configuration table changed: {}", changed);
        }
        return changed;
    }

    public Map<String, ConfigTable.Entry> entries() {
        return snapshot;
    }

    public boolean isSecret(String key) {
        ConfigTable.Entry e = snapshot.get(key);
        return e != null && e.secret();
    }

    @Override
    public String getName() {
        return "factory_config";
    }

    @Override
    public String getProperty(String name) {
        ConfigTable.Entry e = snapshot.get(name);
        return e == null ? null : e.value();
    }

    @Override
    public Properties loadProperties() {
        Properties answer = new Properties();
        snapshot.values().stream().filter(e -> e.value() != null)
                .forEach(e -> answer.setProperty(e.key(), e.value()));
        return answer;
    }

    @Override
    public Properties loadProperties(Predicate<String> filter) {
        Properties answer = new Properties();
        loadProperties().forEach((k, v) -> {
            if (filter.test(k.toString())) {
                answer.put(k, v);
            }
        });
        return answer;
    }

    @Override
    public void reloadProperties(String location) {
        try {
            refresh();
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read the configuration table: " + e.getMessage(), e);
        }
    }

    @Override
    public int getOrder() {
        return ORDER;
    }
}
