package io.factoryrunner.health;

import io.factoryrunner.alert.AlertKind;
import io.factoryrunner.alert.AlertOutbox;
import io.factoryrunner.config.ConfigValues;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobRegistry;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.support.PeriodicService;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead-man alert: every {@code factory.overdue.check-interval} it looks at each job that has
 * {@code job.<name>.overdue-after}, and finds it overdue when its last successful run ended longer ago than that (or,
 * never having succeeded, when the factory has been up longer than that). An overdue job is down in
 * {@code /observe/health} and mailed once ({@code overdue}); its next success is mailed too ({@code back_on_time}).
 * Checked on its own thread, not at the job's fires: a job whose cron no longer fires is noticed all the same.
 * Both alerts carry the fingerprint {@code overdue:run-<id of the last success>} ({@code overdue:never}), so each
 * spell of lateness is mailed once, across restarts.
 */
public final class OverdueJobs extends PeriodicService {

    private static final Logger LOG = LoggerFactory.getLogger(OverdueJobs.class);

    /** Walks the job's runs from the newest (index job_run_by_job_id) to its last success. */
    private static final String LAST_SUCCESS = """
            SELECT run_id, ended_at FROM job_run
             WHERE job = ? AND status = 'succeeded'
             ORDER BY run_id DESC
             LIMIT 1""";

    private static final String ALERTED = """
            SELECT COUNT(*) FROM alerts WHERE job = ? AND kind = ? AND fingerprint = ?""";

    /** The job's latest lateness that was mailed and whose end was not. */
    private static final String OPEN_SPELL = """
            SELECT late.fingerprint FROM alerts late
             WHERE late.job = ? AND late.kind = 'overdue'
               AND NOT EXISTS (SELECT 1 FROM alerts back
                                WHERE back.job = late.job AND back.kind = 'back_on_time'
                                  AND back.fingerprint = late.fingerprint)
             ORDER BY late.alert_id DESC
             LIMIT 1""";

    /** A job found overdue: when it last succeeded (null: never, since the factory started) and its limit. */
    public record Overdue(String job, Long lastRunId, Instant since, Duration late, Duration limit) {

        public String describe() {
            return "job " + job + (lastRunId == null ? " has not succeeded since the factory started "
                    : " last succeeded ") + TimeUtils.printDuration(late.toMillis()) + " ago (job." + job
                    + ".overdue-after = " + TimeUtils.printDuration(limit.toMillis()) + ")";
        }
    }

    private record LastSuccess(long runId, Instant endedAt) {
    }

    private static final Jdbc.RowMapper<LastSuccess> LAST = rs -> new LastSuccess(rs.getLong(1),
            Jdbc.instant(rs, 2));

    private final Jdbc jdbc;
    private final Clock clock;
    private final Instant started;
    private final JobRegistry jobs;
    private final AlertOutbox outbox;
    private final PropertiesComponent properties;
    private final Map<String, Overdue> overdue = new ConcurrentSkipListMap<>();
    /** Per job, the spell whose end is still to be mailed ("" for none), once read from the outbox. */
    private final Map<String, String> openSpells = new ConcurrentHashMap<>();

    public OverdueJobs(CamelContext context, DataSource dataSource, Clock clock, JobRegistry jobs, AlertOutbox outbox,
            Duration interval) {
        super(context, "overdue-jobs", interval);
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.started = clock.instant();
        this.jobs = jobs;
        this.outbox = outbox;
        this.properties = context.getPropertiesComponent();
    }

    /** The jobs found overdue by the latest check, by name. */
    public Map<String, Overdue> overdue() {
        return Map.copyOf(overdue);
    }

    @Override
    protected void doStart() {
        runOnce();
        super.doStart();
    }

    @Override
    protected void runOnce() {
        for (String job : jobs.declared()) {
            try {
                check(job);
            } catch (SQLException | RuntimeException e) {
                LOG.warn("Cannot check whether job {} is overdue: {}", job, Secrets.mask(e.getMessage()));
            }
        }
        overdue.keySet().retainAll(jobs.declared());
    }

    /** Looks at one job now. */
    public void check(String job) throws SQLException {
        Optional<Duration> limit = new ConfigValues(properties).optional("job." + job + ".overdue-after")
                .map(v -> Duration.ofMillis(TimeUtils.toMilliSeconds(v)));
        if (limit.isEmpty()) {
            overdue.remove(job);
            return;
        }
        Instant now = clock.instant();
        Optional<LastSuccess> last = jdbc.queryFirst(LAST_SUCCESS, LAST, job);
        Instant since = last.map(LastSuccess::endedAt).orElse(started);
        String spell = "overdue:" + last.map(r -> "run-" + r.runId()).orElse("never");
        Duration late = Duration.between(since, now);
        if (late.compareTo(limit.get()) > 0) {
            Overdue found = new Overdue(job, last.map(LastSuccess::runId).orElse(null), since, late, limit.get());
            if (overdue.put(job, found) == null) {
                LOG.warn("Job {} is overdue: {}", job, found.describe());
            }
            if (!spell.equals(openSpells.get(job))) {
                alertOnce(AlertKind.OVERDUE, job, spell, values(found));
                openSpells.put(job, spell);
            }
            return;
        }
        overdue.remove(job);
        String open = openSpells.computeIfAbsent(job, this::openSpell);
        if (!open.isEmpty() && !open.equals(spell)) {
            LastSuccess success = last.orElseThrow();
            Map<String, Object> values = new LinkedHashMap<>();
            values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
            values.put("job", job);
            values.put("run", success.runId());
            values.put("ended_at", success.endedAt());
            alertOnce(AlertKind.BACK_ON_TIME, job, open, values);
            LOG.info("Job {} is on time again: run {} succeeded", job, success.runId());
            openSpells.put(job, "");
        }
    }

    private String openSpell(String job) {
        try {
            return jdbc.queryFirst(OPEN_SPELL, rs -> rs.getString(1), job).orElse("");
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private void alertOnce(AlertKind kind, String job, String spell, Map<String, Object> values) throws SQLException {
        if (jdbc.queryFirst(ALERTED, rs -> rs.getLong(1), job, kind.db(), spell).orElseThrow() == 0) {
            outbox.enqueueOnce(kind, job, spell, kind.db() + ":" + job + ":" + spell, values);
        }
    }

    private Map<String, Object> values(Overdue found) {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("factory", properties.resolveProperty("camel.main.name").orElse("factory-runner"));
        values.put("job", found.job());
        values.put("late", TimeUtils.printDuration(found.late().toMillis()));
        values.put("overdue_after", TimeUtils.printDuration(found.limit().toMillis()));
        values.put("last_success", found.lastRunId() == null
                ? "none since the factory started at " + found.since()
                : "run " + found.lastRunId() + ", ended at " + found.since());
        return values;
    }
}
