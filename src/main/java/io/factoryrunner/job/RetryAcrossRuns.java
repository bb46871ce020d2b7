package io.factoryrunner.job;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;

/**
 * When an item whose transient failure outlasted a run's retries is tried again: {@code retry.next-run-delay} after
 * this failure, times {@code retry.multiplier} for each earlier attempt, up to {@code retry.next-run-max-delay};
 * never once its failures have lasted {@code retry.give-up-after}, when it is failed and waits for a redrive. Each
 * key is {@code job.<name>.retry.<key>}, else {@code factory.retry.<key>}, read at each use so a change applies at
 * once. The job acts on it and the error mail tells it, so both say the same.
 */
public final class RetryAcrossRuns {

    private final PropertiesComponent properties;

    public RetryAcrossRuns(PropertiesComponent properties) {
        this.properties = properties;
    }

    /**
     * The next attempt of an item of {@code job} that failed at {@code now}, on its {@code attempts}-th attempt,
     * failing since {@code failingSince}; empty when it is given up.
     */
    public Optional<Instant> nextAttempt(String job, int attempts, Instant failingSince, Instant now) {
        if (!now.isBefore(failingSince.plus(giveUpAfter(job)))) {
            return Optional.empty();
        }
        long first = duration(job, "next-run-delay", Duration.ofMinutes(1)).toMillis();
        long cap = duration(job, "next-run-max-delay", Duration.ofHours(1)).toMillis();
        double multiplier = Double.parseDouble(value(job, "multiplier").orElse("2"));
        long wait = (long) Math.min(cap, first * Math.pow(multiplier, Math.max(0, attempts - 1)));
        return Optional.of(now.plusMillis(wait));
    }

    public Duration giveUpAfter(String job) {
        return duration(job, "give-up-after", Duration.ofHours(24));
    }

    private Duration duration(String job, String name, Duration defaultValue) {
        return value(job, name).map(v -> Duration.ofMillis(TimeUtils.toMilliSeconds(v))).orElse(defaultValue);
    }

    private Optional<String> value(String job, String name) {
        return properties.resolveProperty("job." + job + ".retry." + name).map(String::trim)
                .filter(v -> !v.isEmpty())
                .or(() -> properties.resolveProperty("factory.retry." + name).map(String::trim)
                        .filter(v -> !v.isEmpty()));
    }
}
