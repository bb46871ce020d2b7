package io.factoryrunner.metrics;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The alert outbox's depth and the age of its oldest pending alert, read from the table when scraped, at most once
 * per {@code maxAge}: scrapers polling every second cost the database one query every few seconds.
 */
public final class AlertOutboxGauges {

    private static final Logger LOG = LoggerFactory.getLogger(AlertOutboxGauges.class);

    /** Served by the index alerts_pending (status, next_attempt_at). */
    private static final String PENDING = """
            SELECT COUNT(*), MIN(created_at) FROM alerts WHERE status = 'pending'""";

    private record Reading(Instant at, long pending, Instant oldest) {
    }

    private static final Reading NONE = new Reading(Instant.MIN, 0, null);

    private final Jdbc jdbc;
    private final Clock clock;
    private final Duration maxAge;
    private Reading last = NONE;

    public AlertOutboxGauges(DataSource dataSource, Clock clock, Duration maxAge) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.maxAge = maxAge;
    }

    /** Registers both gauges, which hold this object (nothing else does). */
    public void registerIn(MeterRegistry registry) {
        Gauge.builder("factory.alerts.pending", this, g -> g.reading().pending())
                .description("Alerts waiting in the outbox to be mailed").strongReference(true).register(registry);
        Gauge.builder("factory.alerts.oldest.pending.age", this, AlertOutboxGauges::oldestAgeSeconds)
                .description("Age in seconds of the oldest alert waiting in the outbox (0 when none)")
                .baseUnit("seconds").strongReference(true).register(registry);
    }

    private double oldestAgeSeconds() {
        Reading reading = reading();
        return reading.oldest() == null ? 0
                : Math.max(0, Duration.between(reading.oldest(), clock.instant()).toMillis() / 1000.0);
    }

    private synchronized Reading reading() {
        Instant now = clock.instant();
        if (last.at().plus(maxAge).isBefore(now)) {
            try {
                last = jdbc.queryFirst(PENDING, rs -> new Reading(now, rs.getLong(1), Jdbc.instant(rs, 2)))
                        .orElse(new Reading(now, 0, null));
            } catch (SQLException e) {
                // the last reading stands; the database check of /observe/health tells that it is down
                LOG.debug("Cannot read the alert outbox for its gauges: {}", Secrets.mask(e.getMessage()));
            }
        }
        return last;
    }
}
