package io.factoryrunner.cleanup;

import io.factoryrunner.alert.AlertOutbox;
import io.factoryrunner.db.Jdbc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes what the factory leaves behind, by retention: finished state records, ended runs, old errors and resolved
 * fingerprints, sent alerts, ended programs with their events, and processed drop files. Nothing a job still needs is
 * touched: claimed items, waiting (inbox) items, running runs, open failures, unsent alerts and programs that have not
 * ended stay whatever their age.
 */
public final class Housekeeping {

    private static final Logger LOG = LoggerFactory.getLogger(Housekeeping.class);

    private record Purge(String what, String retentionKey, String defaultRetention, String sql) {
    }

    private static final List<Purge> PURGES = List.of(
            new Purge("state records", "factory.retention.state", "30d",
                    // a done item a downstream job has not read from its feed yet is still waiting there
                    "DELETE FROM job_state WHERE status IN ('done', 'failed') AND updated_at < ?"
                            + " AND (done_seq IS NULL OR NOT EXISTS (SELECT 1 FROM job_feed f"
                            + " WHERE f.upstream = job_state.job AND f.read_seq < job_state.done_seq))"),
            new Purge("runs", "factory.retention.runs", "90d",
                    "DELETE FROM job_run WHERE status <> 'running' AND started_at < ?"),
            new Purge("errors", "factory.retention.errors", "90d",
                    "DELETE FROM factory_error WHERE occurred_at < ?"),
            new Purge("resolved failures", "factory.retention.errors", "90d",
                    "DELETE FROM error_fingerprint WHERE status = 'resolved' AND last_seen < ?"),
            // a run's tasks before the run, which they reference
            new Purge("process tasks", "factory.retention.processes", "90d", """
                    DELETE FROM process_task WHERE run_id IN (
                        SELECT run_id FROM process_run WHERE status <> 'running' AND ended_at < ?)"""),
            new Purge("process runs", "factory.retention.processes", "90d",
                    "DELETE FROM process_run WHERE status <> 'running' AND ended_at < ?"),
            new Purge("sent alerts", "factory.retention.alerts", "30d",
                    "DELETE FROM alerts WHERE status = 'sent' AND sent_at < ?"),
            // a program's events before the program: they have no foreign key to cascade from
            new Purge("program events", "factory.retention.programs", "30d", """
                    DELETE FROM program_event WHERE program_id IN (
                        SELECT id FROM program
                         WHERE status <> 'running' AND COALESCE(finished_at, errored_at, cancelled_at) < ?)"""),
            new Purge("programs", "factory.retention.programs", "30d", """
                    DELETE FROM program
                     WHERE status <> 'running' AND COALESCE(finished_at, errored_at, cancelled_at) < ?"""));

    private final Jdbc jdbc;
    private final Clock clock;
    private final PropertiesComponent properties;
    private final AlertOutbox outbox;
    private final Path home;

    public Housekeeping(DataSource dataSource, Clock clock, PropertiesComponent properties, AlertOutbox outbox,
            Path home) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.properties = properties;
        this.outbox = outbox;
        this.home = home;
    }

    /** Purges everything past its retention; returns what was removed, by kind. Called by the housekeeping route. */
    public Map<String, Long> purge() throws SQLException, IOException {
        Map<String, Long> removed = new LinkedHashMap<>();
        Instant now = clock.instant();
        for (Purge p : PURGES) {
            Instant cutoff = now.minus(retention(p.retentionKey(), p.defaultRetention()));
            removed.merge(p.what(), (long) jdbc.update(p.sql(), cutoff), Long::sum);
        }
        removed.put("drop files", purgeFiles(now.minus(retention("factory.retention.files", "7d"))));
        long total = removed.values().stream().mapToLong(Long::longValue).sum();
        LOG.info("Housekeeping removed {}", removed);
        if (total > 0) {
            StringBuilder text = new StringBuilder("Removed past their retention:\n");
            removed.forEach((what, n) -> text.append("  ").append(what).append(": ").append(n).append('\n'));
            outbox.event(null, "housekeeping", text.toString());
        }
        return removed;
    }

    private long purgeFiles(Instant cutoff) throws IOException {
        Path dir = home.resolve(properties.resolveProperty("source.drop-dir").orElse("data/drop").trim());
        long count = 0;
        for (String done : List.of(".done", ".failed")) {
            Path folder = dir.resolve(done);
            if (!Files.isDirectory(folder)) {
                continue;
            }
            try (Stream<Path> files = Files.list(folder)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff)) {
                        Files.delete(f);
                        count++;
                    }
                }
            }
        }
        return count;
    }

    private Duration retention(String key, String defaultValue) {
        String value = properties.resolveProperty(key).map(String::trim).filter(v -> !v.isEmpty()).orElse(defaultValue);
        return Duration.ofMillis(TimeUtils.toMilliSeconds(value));
    }
}
