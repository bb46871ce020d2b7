package io.factoryrunner.alert;

import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.job.RunListener;
import io.factoryrunner.job.RunStatus;
import io.factoryrunner.logging.Secrets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run's end calls for: a recovery alert when a job whose last run failed succeeds again (its open failures
 * are resolved), and a pause with an alert when a job failed {@code job.<name>.auto-pause-after} runs in a row.
 * A run is failed when its status is failed or any of its items failed; a run that found nothing to do counts
 * neither way.
 */
public final class RunAlerts implements RunListener {

    private static final Logger LOG = LoggerFactory.getLogger(RunAlerts.class);

    private static final String RECENT_RUNS = """
            SELECT run_id, status, items_failed, error_summary
              FROM job_run
             WHERE job = ? AND run_id <= ?
               AND (status = 'failed' OR (status = 'succeeded' AND items_done + items_failed > 0))
             ORDER BY run_id DESC
             LIMIT ?""";

    private static final String OPEN_FINGERPRINTS = """
            SELECT fingerprint, exception_class FROM error_fingerprint
             WHERE job = ? AND status IN ('open', 'acknowledged')""";

    private static final String RESOLVE = """
            UPDATE error_fingerprint SET status = 'resolved', row_version = row_version + 1
             WHERE job = ? AND status IN ('open', 'acknowledged')""";

    private final DataSource dataSource;
    private final AlertOutbox outbox;
    private final ConfigTable configTable;
    private final PropertiesComponent properties;
    private volatile Runnable configurationWritten = () -> { };

    public RunAlerts(DataSource dataSource, AlertOutbox outbox, ConfigTable configTable,
            PropertiesComponent properties) {
        this.dataSource = dataSource;
        this.outbox = outbox;
        this.configTable = configTable;
        this.properties = properties;
    }

    record Run(long id, boolean failed, String summary) {
    }

    private static final String ALERTED = "SELECT COUNT(*) FROM alerts WHERE fingerprint = ?";

    /** One alert per run that blocks its job, whichever node sees it and however often it restarts. */
    @Override
    public void jobBlocked(String job, JobStore.RunningRun run) {
        String key = "job-blocked:" + run.runId();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(ALERTED)) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getLong(1) > 0) {
                    return;
                }
            }
            Map<String, Object> values = new LinkedHashMap<>();
            values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
            values.put("job", job);
            values.put("run", run.runId());
            values.put("node", run.node());
            values.put("started_at", run.startedAt());
            values.put("last_seen", run.nodeLastSeen() == null ? "never" : run.nodeLastSeen());
            values.put("silent_for", TimeUtils.printDuration(run.silentFor().toMillis()));
            outbox.enqueue(c, AlertKind.JOB_BLOCKED, job, key, values);
        } catch (SQLException e) {
            LOG.error("Job {}: cannot write the alert that run {} of node {} blocks it: {}", job, run.runId(),
                    run.node(), Secrets.mask(e.getMessage()));
        }
    }

    /** What to do once this writes to the configuration table (apply it without waiting for the next poll). */
    public void afterConfigurationWritten(Runnable action) {
        configurationWritten = action;
    }

    @Override
    public void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed, String summary) {
        if (status != RunStatus.SUCCEEDED && status != RunStatus.FAILED
                || status == RunStatus.SUCCEEDED && itemsDone + itemsFailed == 0) {
            // a run that found nothing to do tells nothing about the job's health
            return;
        }
        int limit = properties.resolveProperty("job." + job + ".auto-pause-after").map(String::trim)
                .filter(v -> !v.isEmpty()).map(Integer::parseInt).orElse(0);
        try {
            List<Run> recent = recent(job, runId, Math.max(2, limit));
            if (recent.isEmpty()) {
                return;
            }
            Run current = recent.get(0);
            if (!current.failed()) {
                if (recent.size() > 1 && recent.get(1).failed()) {
                    recover(job, runId, itemsDone);
                }
                return;
            }
            if (limit > 0 && recent.size() >= limit && recent.stream().limit(limit).allMatch(Run::failed)) {
                boolean paused = properties.resolveProperty("job." + job + ".paused").map(String::trim)
                        .map(Boolean::parseBoolean).orElse(false);
                if (!paused) {
                    pause(job, limit, current.summary());
                }
            }
        } catch (SQLException e) {
            LOG.error("Job {}: cannot decide on recovery or pause after run {}: {}", job, runId,
                    Secrets.mask(e.getMessage()));
        }
    }

    private List<Run> recent(String job, long runId, int count) throws SQLException {
        List<Run> runs = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(RECENT_RUNS)) {
            ps.setString(1, job);
            ps.setLong(2, runId);
            ps.setInt(3, count);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    runs.add(new Run(rs.getLong(1), rs.getString(2).equals("failed") || rs.getInt(3) > 0,
                            rs.getString(4)));
                }
            }
        }
        return runs;
    }

    private void recover(String job, long runId, int itemsDone) throws SQLException {
        List<String> resolved = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement ps = c.prepareStatement(OPEN_FINGERPRINTS)) {
                    ps.setString(1, job);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            resolved.add(rs.getString(2) + " (" + rs.getString(1).substring(0, 12) + ")");
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement(RESOLVE)) {
                    ps.setString(1, job);
                    ps.executeUpdate();
                }
                Map<String, Object> values = new LinkedHashMap<>();
                values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
                values.put("job", job);
                values.put("run", runId);
                values.put("items_done", itemsDone);
                values.put("resolved", resolved.isEmpty() ? "none" : String.join(", ", resolved));
                outbox.enqueue(c, AlertKind.RECOVERY, job, null, values);
                c.commit();
                LOG.info("Job {} recovered in run {}; {} failures resolved", job, runId, resolved.size());
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private void pause(String job, int failedRuns, String lastError) throws SQLException {
        configTable.set("job." + job + ".paused", "true", false,
                "paused automatically after " + failedRuns + " failed runs", "factory (auto-pause)");
        configurationWritten.run();
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
        values.put("job", job);
        values.put("failed_runs", failedRuns);
        values.put("limit", failedRuns);
        values.put("last_error", lastError == null ? "-" : lastError);
        outbox.enqueue(AlertKind.AUTO_PAUSED, job, null, values);
        LOG.warn("Job {} paused after {} failed runs in a row (job.{}.paused = true)", job, failedRuns, job);
    }
}
