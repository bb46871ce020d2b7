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
 * The done items of every job, counted again in the background when the last count is older than {@code maxAge}, or
 * than twenty times what the last count took: counting a million finished items takes longer than a status call may,
 * a count a few seconds old is as useful, and the counting then costs at most a twentieth of one core.
 * Callers never wait for a count, except for the very first.
 */
final class DoneCounts {

    private static final Logger LOG = LoggerFactory.getLogger(DoneCounts.class);

    /** Counts the done items by job. */
    @FunctionalInterface
    interface Counter {
        Map<String, Long> count() throws SQLException;
    }

    record Snapshot(Map<String, Long> byJob, Instant countedAt, Duration took) {

        Instant staleAt(Duration maxAge) {
            Duration wait = took.multipliedBy(20);
            return countedAt.plus(wait.compareTo(maxAge) > 0 ? wait : maxAge);
        }
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

    private Snapshot count() throws SQLException {
        Instant at = clock.instant();
        long started = System.nanoTime();
        Map<String, Long> counts = counter.count();
        return new Snapshot(counts, at, Duration.ofNanos(System.nanoTime() - started));
    }

    Snapshot get() throws SQLException {
        Snapshot last = snapshot;
        if (last == null) {
            last = count();
            snapshot = last;
        } else if (last.staleAt(maxAge).isBefore(clock.instant()) && counting.compareAndSet(false, true)) {
            executor.execute(() -> {
                try {
                    snapshot = count();
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
