package io.factoryrunner.config;

import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiFunction;
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

    /** The values a refresh under way would apply, for its own thread's lookups while it checks them. */
    private final ThreadLocal<Map<String, ConfigTable.Entry>> checking = new ThreadLocal<>();

    private static final Logger LOG = LoggerFactory.getLogger(ConfigTablePropertiesSource.class);

    private final ConfigTable table;
    private volatile Map<String, ConfigTable.Entry> snapshot = Map.of();
    /** Keys whose value in the table was refused, with that value: reported once, applied when it changes. */
    private final Map<String, String> refused = new HashMap<>();
    /**
     * The keys of {@link #refused} refused by a refresh's check (not by a route that could not take the value): they
     * are checked again, quietly, at each refresh, since a value held against another key may pass once that key has
     * changed.
     */
    private final Set<String> checkAgain = new HashSet<>();

    public ConfigTablePropertiesSource(ConfigTable table) {
        this.table = table;
    }

    /** Reads the table again and returns the keys whose value appeared, changed or disappeared. */
    public synchronized Set<String> refresh() throws SQLException {
        return refresh((key, value) -> Optional.empty()).changed();
    }

    /** What a refresh changed, and the values it refused this time (key to the reason), in key order. */
    public record Refresh(Set<String> changed, Map<String, String> refused) {
    }

    /**
     * Reads the table again and applies what changed, except values {@code check} refuses: such a key keeps the
     * value it had (the table's last good value, or the file's or default when the table had none), and is
     * reported once per refused value, not at every refresh. While {@code check} runs, this source answers the
     * refreshing thread with the values the refresh would apply (other threads still get the applied ones), so a
     * value held against another key (a heartbeat and the spans that must exceed it) is checked against that key as
     * it is about to be: both may change in one write. A value refused takes back what was checked against it.
     */
    public synchronized Refresh refresh(BiFunction<String, String, Optional<String>> check) throws SQLException {
        Map<String, ConfigTable.Entry> fresh = new HashMap<>(table.loadAll());
        checking.set(fresh);
        try {
            return refresh(check, fresh);
        } finally {
            checking.remove();
        }
    }

    private Refresh refresh(BiFunction<String, String, Optional<String>> check, Map<String, ConfigTable.Entry> fresh) {
        fresh.values().stream().filter(e -> e.secret() || Secrets.isSecretKey(e.key()))
                .forEach(e -> Secrets.register(e.value()));
        Map<String, ConfigTable.Entry> old = snapshot;
        Map<String, String> newlyRefused = new TreeMap<>();
        Set<String> inTable = Set.copyOf(fresh.keySet());
        Set<String> accepted = new TreeSet<>();
        Map<String, ConfigTable.Entry> read = Map.copyOf(fresh);
        // a value refused before and still there is not what the other keys are checked against
        Set<String> stillRefused = new HashSet<>();
        read.forEach((key, entry) -> {
            ConfigTable.Entry before = old.get(key);
            if (refused.containsKey(key) && Objects.equals(refused.get(key), entry.value())
                    && (before == null || !Objects.equals(before.value(), entry.value()))) {
                stillRefused.add(key);
                keep(fresh, key, before);
            }
        });
        for (var e : read.entrySet()) {
            String key = e.getKey();
            ConfigTable.Entry before = old.get(key);
            String value = e.getValue().value();
            if (before != null && Objects.equals(before.value(), value)) {
                // the table holds the applied value again
                refused.remove(key);
                continue;
            }
            if (stillRefused.contains(key)) {
                // say nothing new; apply it only if the check passes now
                if (checkAgain.contains(key) && check.apply(key, value).isEmpty()) {
                    fresh.put(key, e.getValue());
                    accepted.add(key);
                }
                continue;
            }
            Optional<String> problem = check.apply(key, value);
            if (problem.isEmpty()) {
                accepted.add(key);
                continue;
            }
            checkAgain.add(key);
            refused.put(key, value);
            newlyRefused.put(key, problem.get());
            keep(fresh, key, before);
        }
        // a value accepted while another key still held a value refused afterwards is checked again against the
        // value kept for that key instead, until every value applied passes beside the others
        boolean again = true;
        while (again) {
            again = false;
            for (String key : accepted) {
                Optional<String> problem = check.apply(key, fresh.get(key).value());
                if (problem.isPresent()) {
                    accepted.remove(key);
                    checkAgain.add(key);
                    refused.put(key, fresh.get(key).value());
                    newlyRefused.put(key, problem.get());
                    keep(fresh, key, old.get(key));
                    again = true;
                    break;
                }
            }
        }
        for (String key : accepted) {
            checkAgain.remove(key);
            if (refused.remove(key) != null) {
                LOG.info("Configuration key '{}' in factory_config has a valid value again; applied", key);
            }
        }
        refused.keySet().retainAll(inTable);
        checkAgain.retainAll(refused.keySet());
        Set<String> changed = new HashSet<>();
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
        return new Refresh(changed, newlyRefused);
    }

    /**
     * Puts the keys back to the values they had before {@code previous} (a route could not be created with the
     * new ones), and refuses their current values until the table holds others.
     */
    public synchronized void restore(Map<String, ConfigTable.Entry> previous, Set<String> keys) {
        Map<String, ConfigTable.Entry> answer = new HashMap<>(snapshot);
        for (String key : keys) {
            ConfigTable.Entry now = answer.get(key);
            refused.put(key, now == null ? null : now.value());
            checkAgain.remove(key);
            keep(answer, key, previous.get(key));
        }
        snapshot = Map.copyOf(answer);
    }

    private static void keep(Map<String, ConfigTable.Entry> entries, String key, ConfigTable.Entry before) {
        if (before == null) {
            entries.remove(key);
        } else {
            entries.put(key, before);
        }
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
        Map<String, ConfigTable.Entry> candidate = checking.get();
        ConfigTable.Entry e = (candidate != null ? candidate : snapshot).get(name);
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
