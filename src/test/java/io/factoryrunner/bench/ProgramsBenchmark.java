package io.factoryrunner.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.kagkarlsson.scheduler.Scheduler;
import com.github.kagkarlsson.scheduler.task.helper.OneTimeTask;
import com.github.kagkarlsson.scheduler.task.helper.Tasks;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.bench.PipelineBenchmark.Server;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.program.Submission;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Program throughput against db-scheduler, run by hand ({@code bench/programs.sh}); not a unit test.
 *
 * <p>On one embedded PostgreSQL with fsync and synchronous commit on, in alternating rounds, each on databases of its
 * own: the factory runs N programs of three no-op program jobs with {@code program.workers} = WORKERS, and
 * db-scheduler (lock-and-fetch polling every 50 ms, WORKERS threads, as the peer in {@code ../peers} runs it) executes
 * N x 3 no-op one-time tasks. Each side's programs or tasks are all in the table, due, before the clock starts; the
 * clock stops when the last one is done. Printed: program steps per second, db-scheduler executions per second, and
 * their ratio per round and as the median of the rounds (target: at least 1.5x). A warm-up round of N / 5 of each,
 * not reported, comes first.
 *
 * <p>Settings from the environment or {@code KEY=value} arguments: {@code N} (2000), {@code WORKERS} (4),
 * {@code ROUNDS} (3).
 */
public final class ProgramsBenchmark {

    static final List<String> JOBS = List.of("noop_a", "noop_b", "noop_c");
    static final Duration POLL = Duration.ofMillis(5);

    /** db-scheduler's table, as its documentation gives it for PostgreSQL. */
    static final String DB_SCHEDULER_DDL = """
            create table scheduled_tasks (task_name text not null, task_instance text not null, task_data bytea,
              execution_time timestamp with time zone not null, picked boolean not null, picked_by text,
              last_success timestamp with time zone, last_failure timestamp with time zone, consecutive_failures int,
              last_heartbeat timestamp with time zone, version bigint not null, priority smallint,
              primary key (task_name, task_instance));
            create index execution_time_idx on scheduled_tasks (execution_time);
            create index last_heartbeat_idx on scheduled_tasks (last_heartbeat);
            create index priority_execution_time_idx on scheduled_tasks (priority desc, execution_time asc);
            """;

    record Settings(int programs, int workers, int rounds) {

        static Settings read(String[] args) {
            Map<String, String> values = new LinkedHashMap<>();
            for (String key : List.of("N", "WORKERS", "ROUNDS")) {
                String env = System.getenv(key);
                if (env != null && !env.isBlank()) {
                    values.put(key, env.trim());
                }
            }
            for (String arg : args) {
                int eq = arg.indexOf('=');
                if (eq < 1) {
                    throw new IllegalArgumentException("Arguments are KEY=value (N, WORKERS, ROUNDS), not '" + arg
                            + "'");
                }
                values.put(arg.substring(0, eq).trim().toUpperCase(Locale.ROOT), arg.substring(eq + 1).trim());
            }
            return new Settings(number(values, "N", 2000), number(values, "WORKERS", 4), number(values, "ROUNDS", 3));
        }

        private static int number(Map<String, String> values, String key, int fallback) {
            String v = values.get(key);
            int n = v == null ? fallback : Integer.parseInt(v.replace("_", ""));
            if (n < 1) {
                throw new IllegalArgumentException(key + " must be at least 1, not " + v);
            }
            return n;
        }
    }

    record Round(double stepsPerSecond, double executionsPerSecond) {

        double ratio() {
            return stepsPerSecond / executionsPerSecond;
        }
    }

    private final Settings settings;
    private final Server server;
    private int databases;

    private ProgramsBenchmark(Settings settings, Server server) {
        this.settings = settings;
        this.server = server;
    }

    public static void main(String[] args) throws Exception {
        PipelineBenchmark.quietLogging();
        Settings settings = Settings.read(args);
        System.out.printf(Locale.ROOT, "Programs benchmark: N=%d programs of %d no-op jobs (%s) against N x %d"
                + " db-scheduler one-time tasks, %d workers each, %d rounds; %d CPUs, load average %s%n",
                settings.programs(), JOBS.size(), String.join(" -> ", JOBS), JOBS.size(), settings.workers(),
                settings.rounds(), Runtime.getRuntime().availableProcessors(), PipelineBenchmark.loadAverage());
        List<Round> rounds = new ArrayList<>();
        try (Server server = Server.startPostgres()) {
            System.out.printf(Locale.ROOT, "%s%n", server.describe());
            ProgramsBenchmark bench = new ProgramsBenchmark(settings, server);
            int warmUp = Math.max(1, settings.programs() / 5);
            bench.programs(warmUp);
            bench.dbScheduler(warmUp * JOBS.size());
            for (int r = 1; r <= settings.rounds(); r++) {
                // alternate who goes first, so that neither always meets a warmer or busier machine
                double steps;
                double executions;
                if (r % 2 == 1) {
                    steps = bench.programs(settings.programs());
                    executions = bench.dbScheduler(settings.programs() * JOBS.size());
                } else {
                    executions = bench.dbScheduler(settings.programs() * JOBS.size());
                    steps = bench.programs(settings.programs());
                }
                Round round = new Round(steps, executions);
                rounds.add(round);
                System.out.printf(Locale.ROOT, "round %d: factory %.0f program steps/s, db-scheduler %.0f"
                        + " executions/s: %.2fx%n", r, steps, executions, round.ratio());
            }
        }
        double steps = median(rounds.stream().map(Round::stepsPerSecond).toList());
        double executions = median(rounds.stream().map(Round::executionsPerSecond).toList());
        double ratio = median(rounds.stream().map(Round::ratio).toList());
        System.out.printf(Locale.ROOT, "%nmedians: factory %.0f program steps/s, db-scheduler %.0f executions/s;"
                + " ratio (median of rounds) %.2fx (target >= 1.5x)%s%n", steps, executions, ratio,
                ratio >= 1.5 ? " MET" : " MISSED");
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", PipelineBenchmark.loadAverage());
    }

    /** The factory: N programs added, then all made due at once; program steps per second until all finished. */
    private double programs(int count) throws Exception {
        String name = "programs_" + (++databases);
        Path home = server.home(name);
        StringBuilder routes = new StringBuilder();
        for (String job : JOBS) {
            routes.append("""
                    - route:
                        id: %1$s
                        from:
                          uri: "program:%1$s"
                          steps:
                            - setHeader:
                                name: noop
                                constant: "%1$s"
                    """.formatted(job));
        }
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/programs.camel.yaml"), routes);
        Map<String, String> overrides = new LinkedHashMap<>();
        overrides.put("factory.db.url", server.newDatabase(name));
        overrides.put("factory.db.user", server.user());
        overrides.put("factory.db.password", server.password());
        overrides.put("camel.server.enabled", "false");
        overrides.put("camel.management.enabled", "false");
        overrides.put("factory.routes.shipped", "framework/**");
        overrides.put("camel.main.shutdown-timeout", "5");
        overrides.put("program.workers", String.valueOf(settings.workers()));
        FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, overrides);
        app.start();
        try {
            Submission program = Submission.parse(new ObjectMapper().readTree("{\"jobs\": [\""
                    + String.join("\", \"", JOBS) + "\"], \"start\": false}"));
            String last = null;
            for (int i = 0; i < count; i++) {
                last = app.programs().submit(program, "benchmark");
            }
            Jdbc jdbc = Jdbc.of(app.database().dataSource());
            long started = System.nanoTime();
            // every program but one due at once, then the last started through the API's path, which wakes the
            // executor
            jdbc.update("UPDATE program SET status = 'waiting', next_attempt_at = ? WHERE status = 'added'"
                    + " AND run_id <> ?", Instant.now().minusSeconds(1), last);
            app.programs().execute(last);
            // the factory's own counter of last steps done, read in memory as db-scheduler's side reads its own
            MeterRegistry meters = app.context().getRegistry().lookupByNameAndType("metricsRegistry",
                    MeterRegistry.class);
            while (lastSteps(meters) < count) {
                LockSupport.parkNanos(POLL.toNanos());
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            long steps = count(jdbc, "SELECT COUNT(*) FROM program_event WHERE outcome = 'succeeded'");
            long finished = count(jdbc, "SELECT COUNT(*) FROM program WHERE finished_at IS NOT NULL");
            if (steps != (long) count * JOBS.size() || finished != count) {
                throw new IllegalStateException("expected " + count + " programs finished and " + count * JOBS.size()
                        + " steps, found " + finished + " and " + steps);
            }
            return steps / seconds;
        } finally {
            app.stop();
        }
    }

    /** db-scheduler: N one-time tasks scheduled now, then the scheduler started; executions per second until done. */
    private double dbScheduler(int count) throws Exception {
        String name = "dbscheduler_" + (++databases);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.newDatabase(name));
        config.setUsername(server.user());
        config.setPassword(server.password());
        config.setMaximumPoolSize(12);
        try (HikariDataSource ds = new HikariDataSource(config)) {
            try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                s.execute(DB_SCHEDULER_DDL);
            }
            AtomicInteger done = new AtomicInteger();
            OneTimeTask<Void> task = Tasks.oneTime("noop").execute((instance, context) -> done.incrementAndGet());
            Scheduler scheduler = Scheduler.create(ds, task).threads(settings.workers())
                    .pollingInterval(Duration.ofMillis(50)).pollUsingLockAndFetch(0.5, 3.0).build();
            Instant due = Instant.now();
            for (int i = 0; i < count; i++) {
                scheduler.schedule(task.instance("i" + i), due);
            }
            long started = System.nanoTime();
            scheduler.start();
            while (done.get() < count) {
                LockSupport.parkNanos(POLL.toNanos());
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            scheduler.stop();
            return count / seconds;
        }
    }

    private static double lastSteps(MeterRegistry meters) {
        Counter counter = meters.find("factory.program.steps").tag("job", JOBS.get(JOBS.size() - 1))
                .tag("outcome", "succeeded").counter();
        return counter == null ? 0 : counter.count();
    }

    private static long count(Jdbc jdbc, String sql) throws SQLException {
        return jdbc.queryFirst(sql, rs -> rs.getLong(1)).orElse(0L);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
