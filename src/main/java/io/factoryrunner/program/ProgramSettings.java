package io.factoryrunner.program;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;

/**
 * The {@code program.*} settings. The retry settings are read at every failure, so a change in the configuration
 * table applies to the next one; the workers and the poll interval are read at start.
 */
final class ProgramSettings {

    private final PropertiesComponent properties;

    ProgramSettings(PropertiesComponent properties) {
        this.properties = properties;
    }

    int workers() {
        return Integer.parseInt(value("program.workers", "4"));
    }

    Duration pollInterval() {
        return duration("program.poll-interval", "1s");
    }

    int maxAttempts() {
        return Integer.parseInt(value("program.retry.max-attempts", "5"));
    }

    /** The wait before the attempt after {@code attempt}: backoff, doubled at each attempt, up to max-backoff. */
    Duration backoff(int attempt) {
        long first = duration("program.retry.backoff", "10s").toMillis();
        long cap = duration("program.retry.max-backoff", "1h").toMillis();
        double grown = first * Math.pow(2, Math.max(0, attempt - 1));
        return Duration.ofMillis((long) Math.min(cap, grown));
    }

    /** The exception classes, besides RetryableException, after which a step is tried again. */
    Set<String> retryableExceptions() {
        return Arrays.stream(value("program.retry.exceptions", "").split(",")).map(String::trim)
                .filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }

    Duration staleAfter() {
        return duration("factory.node.stale-after", "1m");
    }

    private Duration duration(String key, String defaultValue) {
        return Duration.ofMillis(TimeUtils.toMilliSeconds(value(key, defaultValue)));
    }

    private String value(String key, String defaultValue) {
        return properties.resolveProperty(key).map(String::trim).filter(v -> !v.isEmpty()).orElse(defaultValue);
    }
}
