package io.factoryrunner.alert;

import io.factoryrunner.logging.Secrets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the outbox: every due pending alert goes out by SMTP (camel-mail) and is marked sent; a failed send is
 * tried again later with a growing wait, and the alert is kept until it is sent. With no SMTP host configured the
 * alerts stay in the outbox and are logged once each.
 */
public final class Notifier {

    private static final Logger LOG = LoggerFactory.getLogger(Notifier.class);

    private static final String DUE = """
            SELECT alert_id, kind, job, recipients, subject, body, attempts, last_error
              FROM alerts
             WHERE status = 'pending' AND next_attempt_at <= ?
             ORDER BY alert_id
             LIMIT ?""";

    private static final String MARK_SENT = """
            UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL
             WHERE alert_id = ? AND status = 'pending'""";

    private static final String MARK_FAILED = """
            UPDATE alerts SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
             WHERE alert_id = ? AND status = 'pending'""";

    private static final String MARK_HELD = "UPDATE alerts SET last_error = ? WHERE alert_id = ? AND status = 'pending'";

    private static final String LAST_DIGEST = "SELECT MAX(created_at) FROM alerts WHERE kind = 'digest'";

    private static final String RUNS_SINCE = """
            SELECT job, COUNT(*), SUM(items_done), SUM(items_failed),
                   SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)
              FROM job_run
             WHERE started_at >= ? AND status <> 'skipped'
             GROUP BY job
             ORDER BY job""";

    private static final String OPEN_ERRORS = """
            SELECT job, category, exception_class, occurrences, last_seen
              FROM error_fingerprint
             WHERE status IN ('open', 'acknowledged')
             ORDER BY last_seen DESC""";

    /** One alert row as the notifier reads it. */
    record Alert(long id, String kind, String job, String recipients, String subject, String body, int attempts,
            String lastError) {
    }

    private final CamelContext context;
    private final DataSource dataSource;
    private final Clock clock;
    private final AlertOutbox outbox;

    public Notifier(CamelContext context, DataSource dataSource, Clock clock, AlertOutbox outbox) {
        this.context = context;
        this.dataSource = dataSource;
        this.clock = clock;
        this.outbox = outbox;
    }

    private PropertiesComponent properties() {
        return context.getPropertiesComponent();
    }

    private Optional<String> setting(String key) {
        return properties().resolveProperty(key).map(String::trim).filter(v -> !v.isEmpty());
    }

    /** Sends what is due; returns how many alerts were sent. Called by the notify route. */
    public int sendPending() throws SQLException {
        List<Alert> due = due(Integer.parseInt(setting("factory.alerts.batch-size").orElse("50")));
        Optional<String> host = setting("factory.mail.host");
        int sent = 0;
        for (Alert alert : due) {
            if (host.isEmpty()) {
                if (alert.lastError() == null) {
                    LOG.warn("Alert {} kept in the outbox (no SMTP host: set factory.mail.host): {} to [{}]",
                            alert.id(), alert.subject(), alert.recipients());
                    update(MARK_HELD, ps -> {
                        ps.setString(1, "no SMTP host configured");
                        ps.setLong(2, alert.id());
                    });
                }
                continue;
            }
            if (alert.recipients() == null || alert.recipients().isBlank()) {
                if (alert.lastError() == null) {
                    LOG.warn("Alert {} kept in the outbox (no recipients: set factory.alerts.to): {}", alert.id(),
                            alert.subject());
                    update(MARK_HELD, ps -> {
                        ps.setString(1, "no recipients configured");
                        ps.setLong(2, alert.id());
                    });
                }
                continue;
            }
            try {
                send(host.get(), alert);
                update(MARK_SENT, ps -> {
                    ps.setTimestamp(1, Timestamp.from(clock.instant()));
                    ps.setLong(2, alert.id());
                });
                sent++;
            } catch (RuntimeException e) {
                Duration wait = backoff(alert.attempts() + 1);
                String reason = Secrets.mask(rootMessage(e));
                LOG.warn("Alert {} not sent (attempt {}): {}; next try in {} s", alert.id(), alert.attempts() + 1,
                        reason, wait.toSeconds());
                update(MARK_FAILED, ps -> {
                    ps.setTimestamp(1, Timestamp.from(clock.instant().plus(wait)));
                    ps.setString(2, reason.length() > 2000 ? reason.substring(0, 2000) : reason);
                    ps.setLong(3, alert.id());
                });
            }
        }
        return sent;
    }

    private void send(String host, Alert alert) {
        String port = setting("factory.mail.port").orElse("25");
        String protocol = setting("factory.mail.protocol").orElse("smtp");
        StringBuilder uri = new StringBuilder(protocol).append("://").append(host).append(':').append(port);
        uri.append("?connectionTimeout=").append(setting("factory.mail.timeout-ms").orElse("10000"));
        setting("factory.mail.username").ifPresent(u -> uri.append("&username=RAW(").append(u).append(')'));
        setting("factory.mail.password").ifPresent(p -> uri.append("&password=RAW(").append(p).append(')'));
        ProducerTemplate template = context.createProducerTemplate();
        try {
            Exchange result = template.send(uri.toString(), exchange -> {
                exchange.getMessage().setBody(alert.body());
                exchange.getMessage().setHeader("To", alert.recipients());
                exchange.getMessage().setHeader("From", setting("factory.mail.from").orElse("factory-runner@localhost"));
                exchange.getMessage().setHeader("Subject", alert.subject());
                exchange.getMessage().setHeader("X-Factory-Alert", String.valueOf(alert.id()));
                exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "text/plain; charset=UTF-8");
            });
            if (result.getException() != null) {
                throw new IllegalStateException(result.getException().getMessage(), result.getException());
            }
        } finally {
            try {
                template.stop();
            } catch (Exception ignored) {
                // nothing held by a stopped template matters
            }
        }
    }

    private Duration backoff(int attempts) {
        long base = TimeUtils.toMilliSeconds(setting("factory.alerts.retry-delay").orElse("30s"));
        long max = TimeUtils.toMilliSeconds(setting("factory.alerts.max-retry-delay").orElse("1h"));
        return Duration.ofMillis(Math.min(max, base * (1L << Math.min(20, attempts - 1))));
    }

    /** Writes the digest alert: runs and items per job since the last digest (or a day), and open failures. */
    public void digest() throws SQLException {
        Instant since;
        List<String> runs = new ArrayList<>();
        List<String> open = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement ps = c.prepareStatement(LAST_DIGEST); ResultSet rs = ps.executeQuery()) {
                rs.next();
                Timestamp last = rs.getTimestamp(1);
                since = last != null ? last.toInstant() : clock.instant().minus(Duration.ofDays(1));
            }
            try (PreparedStatement ps = c.prepareStatement(RUNS_SINCE)) {
                ps.setTimestamp(1, Timestamp.from(since));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        runs.add(String.format("  %-20s %5d runs %8d items done %6d items failed %4d runs failed",
                                rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement(OPEN_ERRORS); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    open.add(String.format("  %-20s %-14s %s (%d times, last %s)", rs.getString(1), rs.getString(2),
                            rs.getString(3), rs.getLong(4), rs.getTimestamp(5).toInstant()));
                }
            }
        }
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", setting("camel.main.name").orElse("factory-runner"));
        values.put("since", since);
        values.put("runs", runs.isEmpty() ? "  (no runs)" : String.join("\n", runs));
        values.put("open_errors", open.isEmpty() ? "  (none)" : String.join("\n", open));
        outbox.enqueue(AlertKind.DIGEST, null, null, values);
    }

    private List<Alert> due(int limit) throws SQLException {
        List<Alert> answer = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(DUE)) {
            ps.setTimestamp(1, Timestamp.from(clock.instant()));
            ps.setInt(2, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    answer.add(new Alert(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), rs.getString(6), rs.getInt(7), rs.getString(8)));
                }
            }
        }
        return answer;
    }

    private interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private void update(String sql, Binder binder) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            binder.bind(ps);
            ps.executeUpdate();
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
