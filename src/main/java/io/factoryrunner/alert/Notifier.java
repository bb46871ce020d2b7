package io.factoryrunner.alert;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
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
 *
 * <p>Nodes sharing the database send each alert once: a node claims a batch of due alerts (locking them with
 * {@code FOR UPDATE SKIP LOCKED}, so nodes claiming at the same moment take different alerts) until
 * {@code factory.alerts.claim-timeout} from now on the database's clock, mails them, and marks each sent only
 * while the claim is its own. A node that dies holding a claim leaves it to expire; any node takes the alerts
 * then. Every mail carries a Message-ID made of the alert's id and this installation's id, so a mail sent again
 * after such a crash is recognisable as the same one.
 */
public final class Notifier {

    private static final Logger LOG = LoggerFactory.getLogger(Notifier.class);

    /** SQLSTATE of a unique constraint violation, the same on PostgreSQL and H2. */
    private static final String UNIQUE_VIOLATION = "23505";

    private static final String DUE = """
            SELECT alert_id, kind, job, recipients, subject, body, attempts, last_error
              FROM alerts
             WHERE status = 'pending' AND next_attempt_at <= ?
             ORDER BY alert_id
             LIMIT ?""";

    private static final String DATABASE_NOW = "SELECT CURRENT_TIMESTAMP";

    // a row another node is claiming is locked: skipped, not waited for; one whose claim has expired is free again
    private static final String CLAIMABLE = """
            SELECT alert_id, kind, job, recipients, subject, body, attempts, last_error
              FROM alerts
             WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
             ORDER BY alert_id
             LIMIT ?
               FOR UPDATE SKIP LOCKED""";

    private static final String CLAIM = """
            UPDATE alerts SET claimed_by = ?, claimed_until = ?
             WHERE alert_id = ? AND status = 'pending'""";

    private static final String MARK_SENT = """
            UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,
                              claimed_until = NULL
             WHERE alert_id = ? AND status = 'pending' AND claimed_by = ?""";

    private static final String MARK_FAILED = """
            UPDATE alerts SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, claimed_by = NULL,
                              claimed_until = NULL
             WHERE alert_id = ? AND status = 'pending' AND claimed_by = ?""";

    private static final String RELEASE = """
            UPDATE alerts SET last_error = COALESCE(?, last_error), claimed_by = NULL, claimed_until = NULL
             WHERE alert_id = ? AND status = 'pending' AND claimed_by = ?""";

    // only the node that writes the reason logs the alert, so each is logged once whatever the number of nodes
    private static final String MARK_HELD = """
            UPDATE alerts SET last_error = ?
             WHERE alert_id = ? AND status = 'pending' AND last_error IS NULL""";

    private static final String INSTALLATION = "SELECT installation_id FROM factory_installation WHERE id = 1";

    private static final String INSERT_INSTALLATION = """
            INSERT INTO factory_installation (id, installation_id, created_at) VALUES (1, ?, ?)""";

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

        Alert to(String others) {
            return new Alert(id, kind, job, others, subject, body, attempts, lastError);
        }
    }

    private static final Jdbc.RowMapper<Alert> ALERT = rs -> new Alert(rs.getLong(1), rs.getString(2),
            rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6), rs.getInt(7), rs.getString(8));

    private static final Jdbc.RowMapper<Instant> TIME = rs -> Jdbc.instant(rs, 1);

    private static final Jdbc.RowMapper<String> INSTALLATION_ID = rs -> rs.getString(1);

    private static final Jdbc.RowMapper<String> RUNS_LINE = rs -> String.format(
            "  %-20s %5d runs %8d items done %6d items failed %4d runs failed", rs.getString(1), rs.getLong(2),
            rs.getLong(3), rs.getLong(4), rs.getLong(5));

    private static final Jdbc.RowMapper<String> OPEN_ERROR_LINE = rs -> String.format(
            "  %-20s %-14s %s (%d times, last %s)", rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
            Jdbc.instant(rs, 5));

    private final CamelContext context;
    private final Jdbc jdbc;
    private final Clock clock;
    private final AlertOutbox outbox;
    private final String node;
    private volatile String installation;

    public Notifier(CamelContext context, DataSource dataSource, Clock clock, AlertOutbox outbox, String node) {
        this.context = context;
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.outbox = outbox;
        this.node = node;
    }

    private PropertiesComponent properties() {
        return context.getPropertiesComponent();
    }

    private Optional<String> setting(String key) {
        return properties().resolveProperty(key).map(String::trim).filter(v -> !v.isEmpty());
    }

    /** Sends what is due; returns how many alerts were sent. Called by the notify route. */
    public int sendPending() throws SQLException {
        int limit = Integer.parseInt(setting("factory.alerts.batch-size").orElse("50"));
        Optional<String> host = setting("factory.mail.host");
        if (host.isEmpty()) {
            for (Alert alert : due(limit)) {
                if (alert.lastError() == null && jdbc.update(MARK_HELD, "no SMTP host configured", alert.id()) == 1) {
                    LOG.warn("Alert {} kept in the outbox (no SMTP host: set factory.mail.host): {} to [{}]",
                            alert.id(), alert.subject(), alert.recipients());
                }
            }
            return 0;
        }
        Duration claimTimeout = Duration.ofMillis(TimeUtils.toMilliSeconds(
                setting("factory.alerts.claim-timeout").orElse("5m")));
        String messageIdSuffix = installation() + "@factory-runner>";
        Instant claimedAt = clock.instant();
        List<Alert> claimed = claim(limit, claimTimeout);
        int sent = 0;
        for (Alert claimedAlert : claimed) {
            // written before any recipient was configured: the recipients configured now receive it
            Alert alert = claimedAlert.recipients() == null || claimedAlert.recipients().isBlank()
                    ? claimedAlert.to(outbox.recipients(claimedAlert.job())) : claimedAlert;
            if (alert.recipients() == null || alert.recipients().isBlank()) {
                if (alert.lastError() == null) {
                    LOG.warn("Alert {} kept in the outbox (no recipients: set factory.alerts.to): {}", alert.id(),
                            alert.subject());
                }
                release(alert, "no recipients configured");
                continue;
            }
            // a slow server must not keep this node mailing past its claim, when another node may take the alert
            if (clock.instant().isAfter(claimedAt.plus(claimTimeout.dividedBy(2)))) {
                release(alert, null);
                continue;
            }
            String messageId = "<alert-" + alert.id() + "." + messageIdSuffix;
            try {
                send(host.get(), alert, messageId);
            } catch (RuntimeException e) {
                Duration wait = backoff(alert.attempts() + 1);
                String reason = Secrets.mask(rootMessage(e));
                LOG.warn("Alert {} not sent (attempt {}): {}; next try in {} s", alert.id(), alert.attempts() + 1,
                        reason, wait.toSeconds());
                if (jdbc.update(MARK_FAILED, clock.instant().plus(wait),
                        reason.length() > 2000 ? reason.substring(0, 2000) : reason, alert.id(), node) != 1) {
                    LOG.warn("Alert {}: its claim passed to another node before the failed send was recorded",
                            alert.id());
                }
                continue;
            }
            if (jdbc.update(MARK_SENT, clock.instant(), alert.id(), node) != 1) {
                LOG.warn("Alert {} was mailed after its claim passed to another node, which may mail it again with"
                        + " the same Message-ID {}", alert.id(), messageId);
            }
            sent++;
        }
        return sent;
    }

    /**
     * Claims up to {@code limit} due alerts for this node, in one transaction; their claim ends {@code timeout}
     * from now on the database's clock, which every node compares against.
     */
    private List<Alert> claim(int limit, Duration timeout) throws SQLException {
        return jdbc.inTransaction(tx -> {
            Instant databaseNow = tx.queryFirst(DATABASE_NOW, TIME).orElseThrow();
            List<Alert> alerts = tx.query(CLAIMABLE, ALERT, clock.instant(), databaseNow, limit);
            Instant until = databaseNow.plus(timeout);
            for (Alert alert : alerts) {
                if (tx.update(CLAIM, node, until, alert.id()) != 1) {
                    throw new SQLException("Alert " + alert.id() + " changed while it was locked to be claimed");
                }
            }
            return alerts;
        });
    }

    /** Gives a claimed alert back for the next poll of any node, with the reason it was not sent when one is given. */
    private void release(Alert alert, String reason) throws SQLException {
        if (jdbc.update(RELEASE, reason, alert.id(), node) != 1) {
            LOG.warn("Alert {}: its claim passed to another node before it was given back", alert.id());
        }
    }

    /**
     * This installation's id, shared by the nodes on its database: the first node that needs it writes it, and a
     * node that finds it written at the same moment reads the one written.
     */
    private String installation() throws SQLException {
        String known = installation;
        if (known != null) {
            return known;
        }
        Optional<String> stored = jdbc.queryFirst(INSTALLATION, INSTALLATION_ID);
        if (stored.isEmpty()) {
            try {
                jdbc.update(INSERT_INSTALLATION, UUID.randomUUID().toString(), clock.instant());
            } catch (SQLException e) {
                if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                    throw e;
                }
            }
            stored = jdbc.queryFirst(INSTALLATION, INSTALLATION_ID);
        }
        installation = stored.orElseThrow(() -> new SQLException("factory_installation has no row"));
        return installation;
    }

    private void send(String host, Alert alert, String messageId) {
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
                exchange.getMessage().setHeader("Message-ID", messageId);
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

    /**
     * Writes the digest alert of the cron's fire scheduled at {@code slot}: runs and items per job since the last
     * digest (or a day), and open failures. Every node fires the cron; the digest of a slot is written once.
     */
    public void digest(Date slot) throws SQLException {
        Instant since = jdbc.queryFirst(LAST_DIGEST, TIME)
                .orElseGet(() -> clock.instant().minus(Duration.ofDays(1)));
        List<String> runs = jdbc.query(RUNS_SINCE, RUNS_LINE, since);
        List<String> open = jdbc.query(OPEN_ERRORS, OPEN_ERROR_LINE);
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", setting("camel.main.name").orElse("factory-runner"));
        values.put("since", since);
        values.put("runs", runs.isEmpty() ? "  (no runs)" : String.join("\n", runs));
        values.put("open_errors", open.isEmpty() ? "  (none)" : String.join("\n", open));
        if (!outbox.enqueueOnce(AlertKind.DIGEST, slot.toInstant(), values)) {
            LOG.info("Digest of {} already written by another node", slot.toInstant());
        }
    }

    private List<Alert> due(int limit) throws SQLException {
        return jdbc.query(DUE, ALERT, clock.instant(), limit);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
