package io.factoryrunner.metrics;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.error.ErrorCategory;
import io.factoryrunner.job.RunListener;
import io.factoryrunner.job.RunStatus;
import io.factoryrunner.logging.Secrets;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The factory's own metrics, scraped at {@code /observe/metrics}: runs by job and status, the items a run ended with
 * by outcome, run durations (a histogram), recorded errors by category, and process tasks ended by status. Names start with {@code factory_}.
 */
public final class FactoryMetrics implements RunListener {

    private static final Logger LOG = LoggerFactory.getLogger(FactoryMetrics.class);

    /** The run's times and its deferred items, which the run's end does not carry. */
    private static final String RUN = """
            SELECT started_at, ended_at, items_deferred FROM job_run WHERE run_id = ?""";

    private record Ended(Instant startedAt, Instant endedAt, int deferred) {
    }

    private static final Jdbc.RowMapper<Ended> ENDED = rs -> new Ended(Jdbc.instant(rs, 1), Jdbc.instant(rs, 2),
            rs.getInt(3));

    private final MeterRegistry registry;
    private final Jdbc jdbc;
    private final Map<String, Timer> itemTimers = new ConcurrentHashMap<>();

    public FactoryMetrics(MeterRegistry registry, DataSource dataSource) {
        this.registry = registry;
        this.jdbc = Jdbc.of(dataSource);
    }

    @Override
    public void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed, String summary) {
        Counter.builder("factory.runs").description("Runs ended, by job and status").tag("job", job)
                .tag("status", status.db()).register(registry).increment();
        items(job, "done").increment(itemsDone);
        items(job, "failed").increment(itemsFailed);
        try {
            jdbc.queryFirst(RUN, ENDED, runId).ifPresent(run -> {
                items(job, "deferred").increment(run.deferred());
                if (run.startedAt() != null && run.endedAt() != null) {
                    Timer.builder("factory.run.duration").description("How long runs took, by job").tag("job", job)
                            .publishPercentileHistogram().register(registry)
                            .record(Duration.between(run.startedAt(), run.endedAt()));
                }
            });
        } catch (SQLException e) {
            LOG.warn("Job {} run {}: cannot read its duration and deferred items for the metrics: {}", job, runId,
                    Secrets.mask(e.getMessage()));
        }
    }

    /** Counts an error row written (or counted again on its row) in {@code factory_error}. */
    public void errorRecorded(String job, ErrorCategory category) {
        Counter.builder("factory.errors").description("Errors recorded in factory_error, by job and category")
                .tag("job", job == null ? "" : job).tag("category", category.db()).register(registry).increment();
    }

    /** Counts a process's task that ended: {@code done} or {@code error}. */
    public void processTaskEnded(String process, String status) {
        Counter.builder("factory.process.tasks").description("Process tasks ended, by process and status")
                .tag("process", process).tag("status", status).register(registry).increment();
    }

    /** Counts a program step's attempt that ended: {@code succeeded}, {@code retrying} or {@code failed}. */
    public void programStep(String job, String outcome) {
        Counter.builder("factory.program.steps").description("Program steps ended, by program job and outcome")
                .tag("job", job).tag("outcome", outcome).register(registry).increment();
    }

    /** How long one item took through its job's route; each job's timer is looked up in the registry once. */
    void itemDone(String job, Duration took) {
        itemTimers.computeIfAbsent(job, j -> Timer.builder("factory.item.duration")
                .description("How long an item took through its job's route, by job").tag("job", j)
                .register(registry)).record(took);
    }

    private Counter items(String job, String outcome) {
        return Counter.builder("factory.items").description("Items runs ended with, by job and outcome")
                .tag("job", job).tag("outcome", outcome).register(registry);
    }
}
