package io.factoryrunner.api;

import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The done items of every job, counted again in the background when the last count is older than {@code maxAge}:
 * counting a million finished items takes longer than a status call may, and a count a few seconds old is as useful.
 * Callers never wait for a count, except for the very first.
 */
final class DoneCounts {

    private static final Logger LOG = LoggerFactory.getLogger(DoneCounts.class);

    /** Counts the done items by job. */
    @FunctionalInterface
    interface Counter {
        Map<String, Long> count() throws SQLException;
    }

    record Snapshot(Map<String, Long> byJob, Instant countedAt) {
    }

    private final Counter counter;
    private final Duration maxAge;
    private final Clock clock;
    private final Executor executor;
    private final AtomicBoolean counting = new AtomicBoolean();
    private volatile Snapshot snapshot;

    DoneCounts(Counter counter, Duration maxAge, Clock clock, Executor executor) {
        this.counter = counter;
        this.maxAge = maxAge;
        this.clock = clock;
        this.executor = executor;
    }

    Snapshot get() throws SQLException {
        Snapshot last = snapshot;
        if (last == null) {
            last = new Snapshot(counter.count(), clock.instant());
            snapshot = last;
        } else if (last.countedAt().plus(maxAge).isBefore(clock.instant()) && counting.compareAndSet(false, true)) {
            executor.execute(() -> {
                try {
                    Instant at = clock.instant();
                    snapshot = new Snapshot(counter.count(), at);
                } catch (SQLException | RuntimeException e) {
                    LOG.debug("Cannot count the done items: {}", e.getMessage());
                } finally {
                    counting.set(false);
                }
            });
        }
        return last;
    }
}
