package io.factoryrunner.alert;

import io.factoryrunner.config.ConfigTable;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.error.ErrorCategory;
import io.factoryrunner.job.ItemStatus;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.job.RunListener;
import io.factoryrunner.job.RunStatus;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.sql.DataSource;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a run's end calls for: a recovery alert for each failure that is over, and a pause with an alert when a job
 * failed {@code job.<name>.auto-pause-after} runs in a row. A failure of items is over once none of the items whose
 * latest error it is is still failed, claimed or waiting in the job: they have since been done (or redriven and done),
 * or fail for another reason now. A failure of no item (a route's) is over when a job whose last run failed succeeds
 * again. A run is failed when its status is failed or any of its items failed; a run that found nothing to do counts
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
            SELECT f.fingerprint, f.row_version, f.first_seen, f.last_seen, f.occurrences,
                   CASE WHEN EXISTS (SELECT 1 FROM factory_error e
                                      WHERE e.fingerprint = f.fingerprint AND e.item_key IS NOT NULL)
                        THEN 1 ELSE 0 END
              FROM error_fingerprint f
             WHERE f.job = ? AND f.status IN ('open', 'acknowledged')""";

    /**
     * An item whose latest error in the job is under the fingerprint and that the job has not done: failed, claimed,
     * or waiting in its inbox (put back after a transient failure, or redriven). Stops at the first.
     */
    private static final String STILL_FAILING = """
            SELECT 1
              FROM factory_error e
             WHERE e.fingerprint = ? AND e.item_key IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM factory_error later
                                WHERE later.job = e.job AND later.item_key = e.item_key
                                  AND later.item_version = e.item_version AND later.fingerprint <> e.fingerprint
                                  AND COALESCE(later.last_occurred_at, later.occurred_at)
                                      > COALESCE(e.last_occurred_at, e.occurred_at))
               AND (EXISTS (SELECT 1 FROM job_state s
                             WHERE s.job = e.job AND s.item_key = e.item_key AND s.item_version = e.item_version
                               AND s.status IN ('failed', 'claimed'))
                    OR EXISTS (SELECT 1 FROM job_waiting i
                                WHERE i.job = e.job AND i.item_key = e.item_key AND i.item_version = e.item_version))
             LIMIT 1""";

    /** The items that failed under the fingerprint since it opened, with where they are now. */
    private static final String REDRIVES = """
            SELECT actor, target, at, note FROM factory_audit
             WHERE action = 'redrive' AND at >= ?
               AND (target = ? OR target IN (SELECT 'item ' || job || '/' || item_key || '/' || item_version
                                               FROM factory_error WHERE fingerprint = ? AND item_key IS NOT NULL))
             ORDER BY audit_id
             LIMIT 20""";

    private static final String ITEMS_OF = """
            SELECT e.item_key, e.item_version, MAX(s.status), MAX(s.run_id),
                   MAX(CASE WHEN i.item_key IS NULL THEN 0 ELSE 1 END)
              FROM factory_error e
              LEFT JOIN job_state s
                ON s.job = e.job AND s.item_key = e.item_key AND s.item_version = e.item_version
              LEFT JOIN job_waiting i
                ON i.job = e.job AND i.item_key = e.item_key AND i.item_version = e.item_version
             WHERE e.fingerprint = ? AND e.item_key IS NOT NULL
               AND COALESCE(e.last_occurred_at, e.occurred_at) >= ?
             GROUP BY e.item_key, e.item_version
             ORDER BY MIN(e.error_id)
             LIMIT ?""";

    private static final String COUNT_ITEMS_OF = """
            SELECT COUNT(DISTINCT e.item_key || '/' || e.item_version)
              FROM factory_error e
             WHERE e.fingerprint = ? AND e.item_key IS NOT NULL
               AND COALESCE(e.last_occurred_at, e.occurred_at) >= ?""";

    private static final String LATEST_ERROR = """
            SELECT category, exception_class, message, http_status
              FROM factory_error
             WHERE fingerprint = ?
             ORDER BY COALESCE(last_occurred_at, occurred_at) DESC, error_id DESC
             LIMIT 1""";

    /** Only while no failure has been counted on it since it was read: a failure met meanwhile keeps it open. */
    private static final String RESOLVE = """
            UPDATE error_fingerprint SET status = 'resolved', row_version = row_version + 1
             WHERE fingerprint = ? AND status IN ('open', 'acknowledged') AND row_version = ?""";

    /** How many items a recovery mail lists. */
    private static final int ITEMS_LISTED = 50;

    private final Jdbc jdbc;
    private final AlertOutbox outbox;
    private final ConfigTable configTable;
    private final PropertiesComponent properties;
    private volatile Runnable configurationWritten = () -> { };

    public RunAlerts(DataSource dataSource, AlertOutbox outbox, ConfigTable configTable,
            PropertiesComponent properties) {
        this.jdbc = Jdbc.of(dataSource);
        this.outbox = outbox;
        this.configTable = configTable;
        this.properties = properties;
    }

    record Run(long id, boolean failed, String summary) {
    }

    /** An open failure of the job: its fingerprint, as read, and whether items failed under it. */
    record OpenFailure(String fingerprint, int rowVersion, Instant firstSeen, Instant lastSeen, long occurrences,
            boolean ofItems) {
    }

    private static final String ALERTED = "SELECT COUNT(*) FROM alerts WHERE fingerprint = ?";

    private static final Jdbc.RowMapper<Long> COUNT = rs -> rs.getLong(1);

    private static final Jdbc.RowMapper<Run> RUN = rs -> new Run(rs.getLong(1),
            rs.getString(2).equals("failed") || rs.getInt(3) > 0, rs.getString(4));

    private static final Jdbc.RowMapper<OpenFailure> OPEN_FAILURE = rs -> new OpenFailure(rs.getString(1),
            rs.getInt(2), Jdbc.instant(rs, 3), Jdbc.instant(rs, 4), rs.getLong(5), rs.getInt(6) == 1);

    private static final Jdbc.RowMapper<Integer> ANY = rs -> 1;

    /** The latest error's values for the recovery mail. */
    private static final Jdbc.RowMapper<Map<String, Object>> LATEST_ERROR_VALUES = rs -> {
        Integer status = rs.getObject(4) == null ? null : rs.getInt(4);
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("category", ErrorCategory.valueOf(rs.getString(1).toUpperCase(Locale.ROOT)).label(status));
        values.put("exception", rs.getString(2));
        values.put("message", rs.getString(3));
        values.put("headline", AlertTemplates.headline(rs.getString(3)));
        return values;
    };

    /** An item that failed under a fingerprint, with where it is now. */
    private static final Jdbc.RowMapper<String> ITEM_NOW = rs -> {
        String status = rs.getString(3);
        String now = ItemStatus.DONE.db().equals(status) ? "done in run " + rs.getLong(4)
                : status != null || rs.getInt(5) == 1 ? "failing now with another error"
                : "no longer in the state store";
        return "  " + rs.getString(1) + " version " + rs.getString(2) + ": " + now;
    };

    /** One alert per run that blocks its job, whichever node sees it and however often it restarts. */
    @Override
    public void jobBlocked(String job, JobStore.RunningRun run) {
        String key = "job-blocked:" + run.runId();
        try {
            if (jdbc.queryFirst(ALERTED, COUNT, key).orElseThrow() > 0) {
                return;
            }
            outbox.enqueueOnce(AlertKind.JOB_BLOCKED, job, key, key, silentNodeValues(job, run));
        } catch (SQLException e) {
            LOG.error("Job {}: cannot write the alert that run {} of node {} blocks it: {}", job, run.runId(),
                    run.node(), Secrets.mask(e.getMessage()));
        }
    }

    /** One alert per lost node (per time it fell silent), whichever of its runs a node took over first. */
    @Override
    public void runTakenOver(String job, JobStore.RunningRun run) {
        String key = "node-lost:" + run.node() + ":" + (run.nodeLastSeen() == null ? run.startedAt()
                : run.nodeLastSeen());
        try {
            if (jdbc.queryFirst(ALERTED, COUNT, key).orElseThrow() > 0) {
                return;
            }
            Map<String, Object> values = silentNodeValues(job, run);
            values.put("this_node", properties.resolveProperty("factory.node.id").orElse("this node"));
            outbox.enqueueOnce(AlertKind.NODE_LOST, job, key, key, values);
        } catch (SQLException e) {
            LOG.error("Job {}: cannot write the alert that node {} was lost: {}", job, run.node(),
                    Secrets.mask(e.getMessage()));
        }
    }

    /** The values of an alert about a run held by a silent node: the run, its node, and since when it is silent. */
    private Map<String, Object> silentNodeValues(String job, JobStore.RunningRun run) {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
        values.put("job", job);
        values.put("run", run.runId());
        values.put("node", run.node());
        values.put("started_at", run.startedAt());
        values.put("last_seen", run.nodeLastSeen() == null ? "never" : run.nodeLastSeen());
        values.put("silent_for", TimeUtils.printDuration(run.silentFor().toMillis()));
        return values;
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
            resolveFailuresOver(job, runId, !current.failed() && recent.size() > 1 && recent.get(1).failed());
            if (current.failed() && limit > 0 && recent.size() >= limit
                    && recent.stream().limit(limit).allMatch(Run::failed)) {
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
        return jdbc.query(RECENT_RUNS, RUN, job, runId, count);
    }

    /**
     * Resolves each open failure of the job that is over, with its recovery alert in the same transaction: a failure
     * of items once none of them is still failing under it, a failure of no item when {@code jobRecovered}.
     */
    private void resolveFailuresOver(String job, long runId, boolean jobRecovered) throws SQLException {
        for (OpenFailure failure : jdbc.query(OPEN_FINGERPRINTS, OPEN_FAILURE, job)) {
            jdbc.inTransaction(tx -> {
                if (failure.ofItems() ? !stillFailing(tx, failure) : jobRecovered) {
                    resolve(tx, job, runId, failure);
                }
                return null;
            });
        }
    }

    private static boolean stillFailing(Jdbc tx, OpenFailure failure) throws SQLException {
        return tx.queryFirst(STILL_FAILING, ANY, failure.fingerprint()).isPresent();
    }

    private void resolve(Jdbc tx, String job, long runId, OpenFailure failure) throws SQLException {
        if (tx.update(RESOLVE, failure.fingerprint(), failure.rowVersion()) != 1) {
            // failed again (or resolved) meanwhile: the next run's end looks again
            return;
        }
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
        values.put("job", job);
        values.put("run", runId);
        // an open failure whose error rows were purged by retention keeps its mail readable
        for (String name : List.of("category", "exception", "message", "headline")) {
            values.put(name, "-");
        }
        tx.queryFirst(LATEST_ERROR, LATEST_ERROR_VALUES, failure.fingerprint()).ifPresent(values::putAll);
        values.put("fingerprint", failure.fingerprint());
        values.put("occurrences", failure.occurrences());
        values.put("first_seen", failure.firstSeen());
        values.put("last_seen", failure.lastSeen());
        if (failure.ofItems()) {
            values.put("why", "none of the items that failed with it is still failed or waiting in job " + job
                    + " (looked at after its run " + runId + ").");
            values.put("items", items(tx, failure));
            values.put("redrives", redrives(tx, failure));
        } else {
            values.put("why", "it was not an item's failure, and run " + runId + " of job " + job
                    + " succeeded after a failed run.");
            values.put("items", "  (none: not an item's failure)");
            values.put("redrives", "  (none)");
        }
        outbox.enqueue(tx, AlertKind.RECOVERY, job, failure.fingerprint(), values);
        LOG.info("Job {}: failure {} is over after run {}", job, failure.fingerprint().substring(0, 12), runId);
    }

    /**
     * The redrives, through the operator API, of the failure or of items that failed under it since it opened: who
     * put them back, when, and their note (the audit table's rows).
     */
    private static String redrives(Jdbc tx, OpenFailure failure) throws SQLException {
        List<String> lines = tx.query(REDRIVES, rs -> "  " + rs.getString(1) + " redrove " + rs.getString(2)
                + " at " + Jdbc.instant(rs, 3) + (rs.getString(4) == null ? "" : " (" + rs.getString(4) + ")"),
                failure.firstSeen(), "fingerprint " + failure.fingerprint(), failure.fingerprint());
        return lines.isEmpty() ? "  (none: the items went through without one)" : String.join("\n", lines);
    }

    /** The items that failed under the failure since it opened, one a line, with where each is now. */
    private static String items(Jdbc tx, OpenFailure failure) throws SQLException {
        List<String> lines = new ArrayList<>(tx.query(ITEMS_OF, ITEM_NOW, failure.fingerprint(), failure.firstSeen(),
                ITEMS_LISTED));
        if (lines.size() == ITEMS_LISTED) {
            long more = tx.queryFirst(COUNT_ITEMS_OF, COUNT, failure.fingerprint(), failure.firstSeen())
                    .orElseThrow() - ITEMS_LISTED;
            if (more > 0) {
                lines.add("  ... and " + more + " more");
            }
        }
        return lines.isEmpty() ? "  (none since it opened)" : String.join("\n", lines);
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
