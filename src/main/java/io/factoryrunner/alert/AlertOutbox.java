package io.factoryrunner.alert;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import javax.sql.DataSource;
import org.apache.camel.spi.PropertiesComponent;

/**
 * Writes alerts into the {@code alerts} outbox; the notify job sends them. Writing is part of the caller's
 * transaction when it passes its {@link Jdbc#inTransaction} runner, so an error and its alert are stored together or
 * not at all.
 */
public final class AlertOutbox {

    private static final String INSERT = """
            INSERT INTO alerts (created_at, kind, job, fingerprint, recipients, subject, body, status, attempts,
                                next_attempt_at, slot_at, once_key)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)""";

    /** SQLSTATE of a unique constraint violation, the same on PostgreSQL and H2. */
    private static final String UNIQUE_VIOLATION = "23505";

    private final Jdbc jdbc;
    private final Clock clock;
    private final AlertTemplates templates;
    private final PropertiesComponent properties;

    public AlertOutbox(DataSource dataSource, Clock clock, AlertTemplates templates, PropertiesComponent properties) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.templates = templates;
        this.properties = properties;
    }

    public void enqueue(AlertKind kind, String job, String fingerprint, Map<String, ?> values) throws SQLException {
        enqueue(jdbc, kind, job, fingerprint, values);
    }

    /** Writes the alert through {@code tx}: inside its transaction when it runs one. */
    public void enqueue(Jdbc tx, AlertKind kind, String job, String fingerprint, Map<String, ?> values)
            throws SQLException {
        insert(tx, kind, job, fingerprint, values, null, null);
    }

    /**
     * Writes an alert that stands for one event whichever node sees it (a run blocking its job, a lost node, a
     * job's lateness), unless the alert of {@code onceKey} is there already: the key is unique in the table, so two
     * nodes that both looked and found none cannot both write it. Returns false when it was there.
     */
    public boolean enqueueOnce(AlertKind kind, String job, String fingerprint, String onceKey, Map<String, ?> values)
            throws SQLException {
        return insertOnce(() -> insert(jdbc, kind, job, fingerprint, values, null, onceKey));
    }

    /**
     * Writes the alert of a slot (a digest for one fire of its cron) unless one of its kind is there already: every
     * node fires the cron, the first to write wins. Returns false when the slot was taken.
     */
    public boolean enqueueOnce(AlertKind kind, Instant slot, Map<String, ?> values) throws SQLException {
        return insertOnce(() -> insert(jdbc, kind, null, null, values, slot, null));
    }

    @FunctionalInterface
    private interface Insert {
        void run() throws SQLException;
    }

    /** Runs an insert that a unique key may refuse: false when it did. */
    private static boolean insertOnce(Insert insert) throws SQLException {
        try {
            insert.run();
            return true;
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState())) {
                return false;
            }
            throw e;
        }
    }

    private void insert(Jdbc tx, AlertKind kind, String job, String fingerprint, Map<String, ?> values,
            Instant slot, String onceKey) throws SQLException {
        AlertTemplates.Mail mail = templates.render(kind, values);
        Instant now = clock.instant();
        tx.update(INSERT, now, kind.db(), job, fingerprint, recipients(job), cut(Secrets.mask(mail.subject()), 500),
                cut(Secrets.mask(mail.body()), 100_000), now, slot, onceKey);
    }

    /** An event worth telling (results written, items held): {@code bean:alertOutbox?method=event(...)}. */
    public void event(String job, String title, String text) throws SQLException {
        enqueue(AlertKind.EVENT, job, null, Map.of("factory", properties.resolveProperty("camel.main.name")
                .orElse("factory-runner"), "job", job == null ? "-" : job, "title", title, "text", text));
    }

    /** {@code job.<name>.alerts.to} when set, else {@code factory.alerts.to}. */
    String recipients(String job) {
        if (job != null) {
            var perJob = properties.resolveProperty("job." + job + ".alerts.to").filter(v -> !v.isBlank());
            if (perJob.isPresent()) {
                return perJob.get().trim();
            }
        }
        return properties.resolveProperty("factory.alerts.to").map(String::trim).orElse("");
    }

    private static String cut(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
