package io.factoryrunner.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.text.ParseException;
import java.util.Locale;
import java.util.Optional;
import org.apache.camel.util.TimeUtils;
import org.quartz.CronExpression;

/** The types a configuration value can be checked against; each check names the key and the value it refused. */
public enum ConfigType {
    INTEGER {
        @Override
        Optional<String> problem(String value, int min) {
            try {
                int v = Integer.parseInt(value.trim());
                return v < min ? Optional.of("must be at least " + min) : Optional.empty();
            } catch (NumberFormatException e) {
                return Optional.of("must be a whole number");
            }
        }
    },
    BOOLEAN {
        @Override
        Optional<String> problem(String value, int min) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            return v.equals("true") || v.equals("false") ? Optional.empty() : Optional.of("must be true or false");
        }
    },
    DURATION {
        @Override
        Optional<String> problem(String value, int min) {
            try {
                long ms = TimeUtils.toMilliSeconds(value.trim());
                return ms < 0 ? Optional.of("must not be negative") : Optional.empty();
            } catch (RuntimeException e) {
                return Optional.of("must be a duration such as 500, 30s, 5m or 1h30m (milliseconds when no unit)");
            }
        }
    },
    MISFIRE_POLICY {
        @Override
        Optional<String> problem(String value, int min) {
            String v = value.trim();
            return v.equals("run-once") || v.equals("skip") ? Optional.empty() : Optional.of("must be run-once or skip");
        }
    },
    HTTP_URL {
        @Override
        Optional<String> problem(String value, int min) {
            try {
                URI uri = new URI(value.trim());
                String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
                if ((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null) {
                    return Optional.empty();
                }
            } catch (URISyntaxException e) {
                // refused below, with the same words as any other URL that is not one
            }
            return Optional.of("is not an absolute http:// or https:// URL, such as http://api.example.com/start");
        }
    },
    /** Comma-separated names of exception classes on the class path. */
    EXCEPTION_CLASSES {
        @Override
        Optional<String> problem(String value, int min) {
            for (String name : value.split(",")) {
                String className = name.trim();
                if (className.isEmpty()) {
                    continue;
                }
                try {
                    Class<?> type = Class.forName(className, false, ConfigType.class.getClassLoader());
                    if (!Throwable.class.isAssignableFrom(type)) {
                        return Optional.of("names " + className + ", which is not an exception class");
                    }
                } catch (ClassNotFoundException | LinkageError e) {
                    return Optional.of("names " + className + ", a class that is not on the class path (give"
                            + " exception classes by their full name, separated by commas)");
                }
            }
            return Optional.empty();
        }
    },
    CRON {
        @Override
        Optional<String> problem(String value, int min) {
            // camel-quartz accepts '+' for spaces, as a cron in an endpoint URI must not contain spaces
            String cron = value.trim().replace('+', ' ');
            try {
                CronExpression.validateExpression(cron);
                return Optional.empty();
            } catch (ParseException e) {
                return Optional.of("is not a valid Quartz cron expression (seconds minutes hours day-of-month month"
                        + " day-of-week [year], e.g. '0 0/5 * * * ?'): " + e.getMessage());
            }
        }
    };

    abstract Optional<String> problem(String value, int min);

    /** What is wrong with a value that no key names (one written in a route), as "is not ...": empty when it fits. */
    public Optional<String> problem(String value) {
        return problem(value, 0);
    }

    /** Empty when the value fits; otherwise the whole message for the operator. */
    public Optional<String> check(String key, String value, int min) {
        return problem(value, min).map(p -> "Configuration key '" + key + "' has value '"
                + ConfigValues.display(key, value, false) + "' that " + p);
    }
}
