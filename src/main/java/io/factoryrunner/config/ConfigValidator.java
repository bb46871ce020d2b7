package io.factoryrunner.config;

import io.factoryrunner.logging.Secrets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.camel.spi.PropertiesComponent;

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
        return problems;
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
