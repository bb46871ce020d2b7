package io.factoryrunner.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.camel.spi.PropertiesComponent;

/**
 * Checks every configuration value whose key has a known type, wherever it comes from, before any job starts.
 * Keys are matched by pattern so that per-job keys ({@code job.<name>.cron}) are covered for every job.
 */
public final class ConfigValidator {

    private record Rule(Pattern key, ConfigType type, int min) {
    }

    private static final List<Rule> RULES = List.of(
            new Rule(Pattern.compile(".*\\.cron"), ConfigType.CRON, 0),
            new Rule(Pattern.compile("job\\.[^.]+\\.misfire"), ConfigType.MISFIRE_POLICY, 0),
            new Rule(Pattern.compile(".*\\.(enabled|paused)"), ConfigType.BOOLEAN, 0),
            new Rule(Pattern.compile(".*\\.(chunk-size|pool-size|max-attempts|limit|batch-size|max-size)"),
                    ConfigType.INTEGER, 1),
            new Rule(Pattern.compile(".*\\.auto-pause-after"), ConfigType.INTEGER, 0),
            new Rule(Pattern.compile(".*\\.(port)"), ConfigType.INTEGER, 0),
            new Rule(Pattern.compile(".*\\.(timeout|interval|retention|delay|deadline|heartbeat)"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile(".*[.-](delay|after|poll-interval)"), ConfigType.DURATION, 0),
            new Rule(Pattern.compile("factory\\..*-(timeout|interval)"), ConfigType.DURATION, 0));

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
        List<Problem> problems = new ArrayList<>();
        for (String key : all.stringPropertyNames().stream().sorted().toList()) {
            // resolve again so an environment variable or system property that overrides the key is checked
            String value = properties.resolveProperty(key).orElse(all.getProperty(key));
            check(key, value).ifPresent(message -> problems.add(new Problem(key, message)));
        }
        return problems;
    }

    /** The rules a value is held to at start, for one key and value: empty when it fits or has no known type. */
    public static Optional<String> check(String key, String value) {
        if (value == null || value.isBlank() || value.contains("{{")) {
            return Optional.empty();
        }
        for (Rule rule : RULES) {
            if (rule.key().matcher(key).matches()) {
                return rule.type().check(key, value, rule.min());
            }
        }
        return Optional.empty();
    }
}
