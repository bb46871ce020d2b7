package io.factoryrunner.config;

import io.factoryrunner.logging.Secrets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;

/**
 * Checks every configuration value whose key has a known type, wherever it comes from, before any job starts.
 * Keys are matched by pattern so that per-job keys ({@code job.<name>.cron}) are covered for every job. A secret
 * (a key secret by name, or a row marked secret in the configuration table) shorter than {@link Secrets#MIN_LENGTH}
 * is refused unless it is empty or a placeholder: the logging layer could not mask it without masking ordinary words.
 */
public final class ConfigValidator {

    private record Rule(Pattern key, ConfigType type, int min) {
    }

    private static final List<Rule> RULES = List.of(
            new Rule(Pattern.compile(".*\\.cron"), ConfigType.CRON, 0),
            new Rule(Pattern.compile("job\\.[^.]+\\.misfire"), ConfigType.MISFIRE_POLICY, 0),
            new Rule(Pattern.compile(".*\\.(enabled|paused)"), ConfigType.BOOLEAN, 0),
            new Rule(Pattern.compile("process\\.[^.]+\\.start-url"), ConfigType.HTTP_URL, 0),
            new Rule(Pattern.compile(
                    ".*\\.(chunk-size|pool-size|max-attempts|limit|batch-size|max-size|workers|max-tasks)"),
                    ConfigType.INTEGER, 1),
            new Rule(Pattern.compile(".*\\.(max-)?backoff"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile(".*\\.retry\\.exceptions"), ConfigType.EXCEPTION_CLASSES, 0),
            new Rule(Pattern.compile(".*\\.auto-pause-after"), ConfigType.INTEGER, 0),
            new Rule(Pattern.compile(".*\\.(port)"), ConfigType.INTEGER, 0),
            new Rule(Pattern.compile(".*\\.(timeout|interval|retention|delay|deadline|heartbeat)"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile("factory\\.retention\\.[^.]+"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile(".*[.-](delay|after|poll-interval)"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile(".*[.-](timeout|interval)"), ConfigType.DURATION, 0));

    /** A node's heartbeat, and the spans of silence after which the others act on it. */
    private static final String HEARTBEAT = "factory.node.heartbeat";
    private static final String STALE_AFTER = "factory.node.stale-after";
    private static final String NODE_TIMEOUT = "factory.cluster.node-timeout";

    private ConfigValidator() {
    }

    /** An invalid value: its key and the whole message for the operator. */
    public record Problem(String key, String message) {
    }

    /** Returns one message per invalid value; empty when everything fits. */
    public static List<String> validate(PropertiesComponent properties) {
        return problems(properties).stream().map(Problem::message).toList();
    }

    /** Every invalid value, by key in order. */
    public static List<Problem> problems(PropertiesComponent properties) {
        Properties all = properties.loadProperties();
        Predicate<String> markedSecret = properties.getPropertiesSources().stream()
                .filter(ConfigTablePropertiesSource.class::isInstance).map(ConfigTablePropertiesSource.class::cast)
                .findFirst().<Predicate<String>>map(table -> table::isSecret).orElse(key -> false);
        List<Problem> problems = new ArrayList<>();
        for (String key : all.stringPropertyNames().stream().sorted().toList()) {
            // resolve again so an environment variable or system property that overrides the key is checked
            String value = properties.resolveProperty(key).orElse(all.getProperty(key));
            if (markedSecret.test(key) && !Secrets.isSecretKey(key)) {
                tooShortSecret(key, value).ifPresent(message -> problems.add(new Problem(key, message)));
            }
            check(key, value).ifPresent(message -> problems.add(new Problem(key, message)));
        }
        problems.addAll(nodeTimings(properties));
        return problems;
    }

    /**
     * The spans after which a node counts as silent must leave room for more than one heartbeat: a shorter one takes
     * a live node for silent between two of its heartbeats, and another node then takes over the programs and process
     * tasks it is running (stale-after) or its runs (node-timeout, in a cluster), which would then run twice. A value
     * that is not a duration is refused by its own rule already.
     */
    private static List<Problem> nodeTimings(PropertiesComponent properties) {
        List<Problem> problems = new ArrayList<>();
        String heartbeat = properties.resolveProperty(HEARTBEAT).orElse(null);
        for (String key : List.of(STALE_AFTER, NODE_TIMEOUT)) {
            String span = properties.resolveProperty(key).orElse(null);
            silentTooSoon(properties, key, heartbeat, span).ifPresent(why -> problems.add(new Problem(key,
                    spanMessage(key, span, heartbeat, why))));
        }
        return problems;
    }

    /**
     * As {@link #check(String, String)}, and for a node's heartbeat or a span after which a node counts as silent,
     * held against the other's value as it stands: what a change in the configuration table is checked with.
     */
    public static Optional<String> check(PropertiesComponent properties, String key, String value) {
        Optional<String> own = check(key, value);
        if (own.isPresent()) {
            return own;
        }
        String heartbeat = properties.resolveProperty(HEARTBEAT).orElse(null);
        if (key.equals(STALE_AFTER) || key.equals(NODE_TIMEOUT)) {
            return silentTooSoon(properties, key, heartbeat, value).map(why -> spanMessage(key, value, heartbeat,
                    why));
        }
        if (key.equals(HEARTBEAT)) {
            for (String span : List.of(STALE_AFTER, NODE_TIMEOUT)) {
                String spanValue = properties.resolveProperty(span).orElse(null);
                Optional<String> why = silentTooSoon(properties, span, value, spanValue);
                if (why.isPresent()) {
                    return Optional.of("Configuration key '" + HEARTBEAT + "' has value '" + value.trim() + "', and "
                            + span + " ('" + spanValue.trim() + "') would be no more than twice it: " + why.get()
                            + ". Keep the heartbeat below half of " + span + ", or raise that too");
                }
            }
        }
        return Optional.empty();
    }

    /** A span as a value of a duration key is written: 1m, 90s, 1500ms. */
    private static String asWritten(long millis) {
        if (millis % 3_600_000 == 0) {
            return millis / 3_600_000 + "h";
        }
        if (millis % 60_000 == 0) {
            return millis / 60_000 + "m";
        }
        return millis % 1000 == 0 ? millis / 1000 + "s" : millis + "ms";
    }

    private static String spanMessage(String key, String span, String heartbeat, String why) {
        return "Configuration key '" + key + "' has value '" + span.trim() + "', not more than twice " + HEARTBEAT
                + " ('" + heartbeat.trim() + "'): " + why + ". Give it more than "
                + asWritten(2 * millis(heartbeat).orElseThrow()) + ", or lower " + HEARTBEAT;
    }

    /**
     * What would go wrong with the span {@code key} set to {@code span} beside that heartbeat: empty when it is more
     * than twice the heartbeat, when either is not a duration, or for node-timeout outside a cluster (unused there).
     */
    private static Optional<String> silentTooSoon(PropertiesComponent properties, String key, String heartbeat,
            String span) {
        if (key.equals(NODE_TIMEOUT) && properties.resolveProperty("factory.cluster.enabled").map(String::trim)
                .filter("true"::equalsIgnoreCase).isEmpty()) {
            return Optional.empty();
        }
        Optional<Long> beat = millis(heartbeat);
        Optional<Long> silence = millis(span);
        if (beat.isEmpty() || silence.isEmpty() || silence.get() > 2 * beat.get()) {
            return Optional.empty();
        }
        return Optional.of("a live node would be taken for silent between two of its heartbeats, " + (key.equals(
                STALE_AFTER) ? "its runs reported as blocking their jobs, and its programs and process tasks taken"
                        + " over by another node while it still runs them"
                        : "declared lost, and its runs taken over by another node while it still runs them"));
    }

    /** A duration in milliseconds; empty when unset, a placeholder or not a duration by {@link ConfigType#DURATION}. */
    private static Optional<Long> millis(String value) {
        if (value == null || value.isBlank() || value.contains("{{")
                || ConfigType.DURATION.problem(value).isPresent()) {
            return Optional.empty();
        }
        return Optional.of(TimeUtils.toMilliSeconds(value.trim()));
    }

    /**
     * The rules a value is held to at start and when it changes in the table, for one key and value: empty when it
     * fits or has no known type.
     */
    public static Optional<String> check(String key, String value) {
        if (value == null || value.isBlank() || value.contains("{{")) {
            return Optional.empty();
        }
        if (Secrets.isSecretKey(key)) {
            Optional<String> shortSecret = tooShortSecret(key, value);
            if (shortSecret.isPresent()) {
                return shortSecret;
            }
        }
        for (Rule rule : RULES) {
            if (rule.key().matcher(key).matches()) {
                return rule.type().check(key, value, rule.min());
            }
        }
        return Optional.empty();
    }

    /** The value itself stays out of the message: it is a secret the log could not mask. */
    private static Optional<String> tooShortSecret(String key, String value) {
        if (value == null || Secrets.isPlaceholder(value) || value.contains("{{")
                || value.length() >= Secrets.MIN_LENGTH) {
            return Optional.empty();
        }
        return Optional.of("Configuration key '" + key + "' holds a secret of " + value.length() + " characters;"
                + " a secret needs at least " + Secrets.MIN_LENGTH + " so that it can be masked in logs, errors and"
                + " mails (leave it empty until there is one)");
    }
}
