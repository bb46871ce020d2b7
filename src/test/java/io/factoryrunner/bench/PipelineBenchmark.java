package io.factoryrunner.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.JobComponent;
import io.factoryrunner.job.JobStore;
import io.factoryrunner.job.RunListener;
import io.factoryrunner.job.RunStatus;
import io.factoryrunner.job.Trigger;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.sql.DataSource;
import jdk.jfr.Recording;
import org.slf4j.LoggerFactory;

/**
 * Pipeline throughput benchmark, run by hand ({@code bench/pipeline.sh}); not a unit test.
 *
 * <p>For each database (PostgreSQL with fsync and synchronous commit on, and an H2 file database) it measures:
 * <ol>
 *   <li>throughput, at each chunk size on a database of its own: after a warm-up pass over N / 5 items (at least
 *       1,000), N items offered to the first job of a six-job chain of no-op routes, then each job triggered once
 *       in order; item hand-offs per second = N * 6 / wall time of the six runs;</li>
 *   <li>the floor: single-row INSERT + COMMIT per second over one plain JDBC connection on the same database, and
 *       the ratio of hand-offs per second to it (target at least 5x on PostgreSQL);</li>
 *   <li>flatness: the six-job pass over 1,000 new items when the state tables hold 1,000 finished items, and
 *       again when they hold BIG finished items (target: within 1.5x).</li>
 * </ol>
 *
 * <p>Settings come from the environment or from {@code KEY=value} arguments: {@code N} (10000), {@code BIG}
 * (1000000), {@code DB} (both, postgresql or h2), {@code CHUNK} (chunk sizes of every job, comma-separated:
 * throughput is measured at each, flatness at the first; 100,500), {@code COMMITS}
 * (timed raw commits, 3000), {@code PASSES} (timed flatness passes per size, median taken, 5), {@code TX} (the jobs'
 * {@code transaction} option, each measured at each chunk size, flatness with the first; claim,chunk),
 * {@code FLATNESS} (off skips it), {@code NODES} (1; 2 or more runs {@link NodesBenchmark} instead), {@code ROUNDS}
 * (3, with NODES only), {@code JFR} (a directory: the CPU samples of each measured pass are recorded there by
 * the JDK's flight recorder, for {@code bench/profile.sh}; unset, nothing is recorded), {@code STATEMENTS} (off: the
 * PostgreSQL server does not time its statements with pg_stat_statements, as the Spring Batch peer's does not),
 * {@code REPEAT} (1: the throughput measurements at every chunk size are made this many times in the same JVM, each
 * on a server of its own, and the last are reported, once the JIT compilers have settled), {@code FOLLOW} (off; on:
 * every job but the first follows the one before it, {@code follow: true}, and a pass triggers the first job only,
 * whose run starts the next job's, and so on down the chain).
 */
public final class PipelineBenchmark {

    static final List<String> JOBS = List.of("prepare", "build", "check", "ready", "process", "cleanup");
    /** A cron that does not fire while the benchmark runs: only manual triggers start runs. */
    static final String NEVER = "0 0 0 1 1 ? 2099";
    /** Finished items in the state store for the small flatness case, and items per flatness pass. */
    static final int SMALL = 1_000;
    static final int PASS_ITEMS = 1_000;
    /** Finished items per prefilled run. */
    static final int ITEMS_PER_RUN = 100;
    /** CPU time is printed per this many hand-offs. */
    static final int CPU_PER = 10_000;

    record Settings(int items, int big, String db, List<Integer> chunks, int commits, int passes,
            List<String> transactions, boolean flatness, int nodes, int rounds, Path jfr, boolean statements,
            int repeat, boolean follow) {

        static Settings read(String[] args) {
            Map<String, String> values = new LinkedHashMap<>();
            for (String key : List.of("N", "BIG", "DB", "CHUNK", "COMMITS", "PASSES", "TX", "FLATNESS", "NODES",
                    "ROUNDS", "JFR", "STATEMENTS", "REPEAT", "FOLLOW")) {
                String env = System.getenv(key);
                if (env != null && !env.isBlank()) {
                    values.put(key, env.trim());
                }
            }
            for (String arg : args) {
                int eq = arg.indexOf('=');
                if (eq < 1) {
                    throw new IllegalArgumentException("Arguments are KEY=value (N, BIG, DB, CHUNK, COMMITS, PASSES,"
                            + " TX, FLATNESS, NODES, ROUNDS, JFR, STATEMENTS, REPEAT, FOLLOW), not '" + arg + "'");
                }
                values.put(arg.substring(0, eq).trim().toUpperCase(Locale.ROOT), arg.substring(eq + 1).trim());
            }
            String db = values.getOrDefault("DB", "both").toLowerCase(Locale.ROOT);
            if (!List.of("both", "postgresql", "h2").contains(db)) {
                throw new IllegalArgumentException("DB must be both, postgresql or h2, not '" + db + "'");
            }
            List<Integer> chunks = new ArrayList<>();
            for (String chunk : values.getOrDefault("CHUNK", "100,500").split(",")) {
                chunks.add(number(Map.of("CHUNK", chunk.trim()), "CHUNK", 100));
            }
            List<String> transactions = new ArrayList<>();
            for (String tx : values.getOrDefault("TX", "claim,chunk").split(",")) {
                if (!List.of("chunk", "claim").contains(tx.trim())) {
                    throw new IllegalArgumentException("TX lists chunk and claim, not '" + tx + "'");
                }
                transactions.add(tx.trim());
            }
            String follow = values.getOrDefault("FOLLOW", "off");
            if (!List.of("on", "off").contains(follow)) {
                throw new IllegalArgumentException("FOLLOW must be on or off, not '" + follow + "'");
            }
            Settings s = new Settings(number(values, "N", 10_000), number(values, "BIG", 1_000_000), db,
                    List.copyOf(chunks), number(values, "COMMITS", 3_000), number(values, "PASSES", 5),
                    List.copyOf(transactions), !values.getOrDefault("FLATNESS", "on").equals("off"),
                    number(values, "NODES", 1), number(values, "ROUNDS", 3),
                    values.containsKey("JFR") ? Path.of(values.get("JFR")) : null,
                    !values.getOrDefault("STATEMENTS", "on").equals("off"), number(values, "REPEAT", 1),
                    follow.equals("on"));
            if (s.big() <= SMALL) {
                throw new IllegalArgumentException("BIG must be more than " + SMALL + ", not " + s.big());
            }
            return s;
        }

        private static int number(Map<String, String> values, String key, int fallback) {
            String v = values.get(key);
            if (v == null) {
                return fallback;
            }
            int n = Integer.parseInt(v.replace("_", ""));
            if (n < 1) {
                throw new IllegalArgumentException(key + " must be at least 1, not " + v);
            }
            return n;
        }
    }

    /**
     * The throughput one database measured at one chunk size, beside its raw commit rate, and the CPU seconds the
     * JVM and the database server used per {@link #CPU_PER} hand-offs of the measured pass.
     */
    record Throughput(String database, String transaction, int chunk, double handoffsPerSecond,
            double commitsPerSecond, CpuMeter.Reading cpu) {

        double ratio() {
            return handoffsPerSecond / commitsPerSecond;
        }
    }

    /** The pass times one database measured with few and with many finished items. */
    record Flatness(String database, int chunk, double smallPass, double bigPass) {

        double ratio() {
            return bigPass / smallPass;
        }
    }

    private final Settings settings;

    private PipelineBenchmark(Settings settings) {
        this.settings = settings;
    }

    public static void main(String[] args) throws Exception {
        quietLogging();
        Settings settings = Settings.read(args);
        if (settings.nodes() > 1) {
            NodesBenchmark.run(settings);
            return;
        }
        System.out.printf(Locale.ROOT, "Pipeline benchmark: N=%d items through %d jobs (%s), chunk sizes %s, "
                + "BIG=%d, %d raw commits, %d flatness passes per size; %d CPUs, load average %s%n", settings.items(),
                JOBS.size(), String.join(" -> ", JOBS), settings.chunks(), settings.big(), settings.commits(),
                settings.passes(), Runtime.getRuntime().availableProcessors(), loadAverage());
        if (settings.follow()) {
            System.out.println("FOLLOW=on: every job but the first follows the one before it (follow: true), and a pass"
                    + " triggers the first job only");
        }
        PipelineBenchmark bench = new PipelineBenchmark(settings);
        List<Throughput> throughput = new ArrayList<>();
        List<Flatness> flatness = new ArrayList<>();
        if (!settings.db().equals("h2")) {
            bench.measure(() -> Server.startPostgres(settings.statements()), throughput, flatness);
        }
        if (!settings.db().equals("postgresql")) {
            bench.measure(Server::startH2, throughput, flatness);
        }
        summary(throughput, flatness);
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
    }

    /** Starts a database server of its own for a measurement. */
    @FunctionalInterface
    interface ServerStart {
        Server start() throws IOException;
    }

    /**
     * Runs the three measurements: throughput and the raw commit floor at each chunk size, each on a database of its
     * own, then flatness at the first chunk size. Each time of {@code REPEAT} runs on a server of its own, as the
     * Spring Batch peer's do, so that no time pays for what the server still does with the ones before it (the
     * autovacuum of their tables, say); flatness runs on the last time's server.
     */
    private void measure(ServerStart start, List<Throughput> throughput, List<Flatness> flatness) throws Exception {
        List<Throughput> last = List.of();
        Server server = null;
        try {
            for (int time = 1; time <= settings.repeat(); time++) {
                if (server != null) {
                    Server done = server;
                    server = null;
                    done.close();
                }
                server = start.start();
                if (time == 1) {
                    System.out.printf(Locale.ROOT, "%n== %s%n", server.describe());
                }
                if (settings.repeat() > 1) {
                    System.out.printf(Locale.ROOT, "%n-- time %d of %d, on a new server%s%n", time, settings.repeat(),
                            time < settings.repeat() ? " (not counted: the JIT compilers learn)" : "");
                }
                List<Throughput> measured = new ArrayList<>();
                for (int chunk : settings.chunks()) {
                    for (String transaction : settings.transactions()) {
                        measured.add(throughput(server, chunk, transaction, time == 1 ? "" : "_" + time));
                    }
                }
                last = measured;
            }
            throughput.addAll(last);
            if (settings.flatness()) {
                measureFlatness(server, flatness);
            }
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    /** 3: flatness, on a database of its own so that the small case really holds SMALL finished items. */
    private void measureFlatness(Server server, List<Flatness> flatness) throws Exception {
        int chunk = settings.chunks().get(0);
        String url = server.newDatabase("flatness");
        double small;
        double big;
        try (Factory factory = Factory.start(server.home("flatness"), url, server, chunk,
                settings.transactions().get(0), settings.follow())) {
            DataSource ds = factory.app().database().dataSource();
            prefill(ds, server, 0, SMALL);
            offer(factory, "warm-", PASS_ITEMS);
            pass(factory, "warm-", PASS_ITEMS, null);
            forget(ds, "warm-");
            small = flatPasses(factory, SMALL);
            prefill(ds, server, SMALL, settings.big());
            big = flatPasses(factory, settings.big());
        }
        Flatness f = new Flatness(server.name(), chunk, small, big);
        System.out.printf(Locale.ROOT, "flatness at chunk size %d (medians): %.3f s with %d finished items, %.3f s"
                + " with %d: %.2fx (target <= 1.5x)%s%n", chunk, small, SMALL, big, settings.big(), f.ratio(),
                verdict(f.ratio() <= 1.5));
        flatness.add(f);
    }

    /** 1 and 2: item hand-offs per second at one chunk size, and the raw commit floor on the same database. */
    private Throughput throughput(Server server, int chunk, String transaction, String suffix) throws Exception {
        System.out.printf(Locale.ROOT, "-- chunk size %d, transaction %s%n", chunk, transaction);
        String url = server.newDatabase("throughput_" + chunk + "_" + transaction + suffix);
        try (Factory factory = Factory.start(server.home("throughput-" + chunk + "-" + transaction + suffix), url,
                server, chunk, transaction, settings.follow())) {
            // a pass the JIT compiler learns from, as a factory that has run for a while has: not measured
            int warmUp = Math.max(1_000, settings.items() / 5);
            offer(factory, "warm-", warmUp);
            long w = System.nanoTime();
            pass(factory, "warm-", warmUp, null);
            System.out.printf(Locale.ROOT, "warm-up pass over %d items (not measured): %.2f s%n", warmUp, seconds(w));
            long t = System.nanoTime();
            offer(factory, "item-", settings.items());
            System.out.printf(Locale.ROOT, "offered %d items to %s (not measured): %.2f s%n", settings.items(),
                    JOBS.get(0), seconds(t));
            double[] perJob = new double[JOBS.size()];
            server.resetStatements(url);
            CpuMeter meter = server.cpuMeter();
            Recording recording = startRecording();
            Map<String, Double> threadsBefore = CpuMeter.threadSeconds();
            CpuMeter.Reading before = meter.read();
            long start = System.nanoTime();
            List<Long> runs = runJobs(factory, perJob);
            double elapsed = seconds(start);
            CpuMeter.Reading used = meter.read().minus(before);
            Map<String, Double> threadsUsed = CpuMeter.threadSeconds();
            threadsBefore.forEach((name, seconds) -> threadsUsed.merge(name, -seconds, Double::sum));
            stopRecording(recording, server.name().toLowerCase(Locale.ROOT) + "-" + chunk + "-" + transaction);
            check(factory.app().database().dataSource(), "item-", settings.items(), runs);
            double handoffs = (double) settings.items() * JOBS.size() / elapsed;
            System.out.printf(Locale.ROOT, "six-job pass over %d items: %.3f s (%s)%n", settings.items(), elapsed,
                    perJobText(perJob));
            server.printStatements(url);
            CpuMeter.Reading cpu = used.per(CPU_PER, (double) settings.items() * JOBS.size());
            System.out.printf(Locale.ROOT, "CPU of the pass: %s, of %.2f s wall time x %d cores; per %,d hand-offs:"
                    + " %s%n", used.text(), elapsed, Runtime.getRuntime().availableProcessors(), CPU_PER, cpu.text());
            System.out.printf(Locale.ROOT, "  JVM CPU by thread: %s%n", CpuMeter.threadsText(threadsUsed));
            System.out.printf(Locale.ROOT, "item hand-offs/s: %.0f%n", handoffs);
            Throughput answer = new Throughput(server.name(), transaction, chunk, handoffs,
                    rawCommitsPerSecond(url, server), cpu);
            System.out.printf(Locale.ROOT, "ratio hand-offs/s / raw commits/s: %.2fx (target >= 5x on PostgreSQL)%s%n",
                    answer.ratio(), server.postgres() ? verdict(answer.ratio() >= 5) : "");
            return answer;
        }
    }

    /**
     * A flight recording of the measured pass when JFR names a directory: CPU samples of the Java threads every 2 ms,
     * the JIT compilations and the deoptimizations, and nothing else, so that the recording costs little beside what
     * it measures.
     */
    private Recording startRecording() {
        if (settings.jfr() == null) {
            return null;
        }
        Recording recording = new Recording();
        recording.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(2));
        // what the JIT compilers did meanwhile: on two cores they compete with the pass for the CPU
        recording.enable("jdk.Compilation").withThreshold(Duration.ZERO).withoutStackTrace();
        recording.enable("jdk.Deoptimization").withStackTrace();
        recording.start();
        return recording;
    }

    private void stopRecording(Recording recording, String name) throws IOException {
        if (recording == null) {
            return;
        }
        recording.stop();
        Files.createDirectories(settings.jfr());
        Path file = settings.jfr().resolve(name + ".jfr");
        recording.dump(file);
        recording.close();
        System.out.printf(Locale.ROOT, "flight recording of the pass: %s%n", file);
    }

    /** Median time of PASSES six-job passes over PASS_ITEMS new items; each pass's rows are removed after it. */
    private double flatPasses(Factory factory, int finished) throws Exception {
        DataSource ds = factory.app().database().dataSource();
        double[] times = new double[settings.passes()];
        for (int i = 0; i < times.length; i++) {
            String prefix = "flat-" + i + "-";
            offer(factory, prefix, PASS_ITEMS);
            double[] perJob = new double[JOBS.size()];
            times[i] = pass(factory, prefix, PASS_ITEMS, perJob);
            System.out.printf(Locale.ROOT, "  pass %d over %d items with %d finished items: %.3f s (%s)%n", i + 1,
                    PASS_ITEMS, finished, times[i], perJobText(perJob));
            forget(ds, prefix);
        }
        Arrays.sort(times);
        return times[times.length / 2];
    }

    /**
     * Triggers every job once, in chain order, and returns the wall time of the six runs in seconds; checks that
     * each run took and finished all {@code count} items. {@code perJob}, when given, receives each run's time.
     */
    private static double pass(Factory factory, String prefix, int count, double[] perJob) throws Exception {
        long start = System.nanoTime();
        List<Long> runs = runJobs(factory, perJob);
        double elapsed = seconds(start);
        check(factory.app().database().dataSource(), prefix, count, runs);
        return elapsed;
    }

    /**
     * Triggers every job once, in chain order; the runs' ids. {@code perJob}, when given, receives their times. With
     * {@code FOLLOW=on}, see {@link #runFollowing}.
     */
    private static List<Long> runJobs(Factory factory, double[] perJob) throws Exception {
        if (factory.follow()) {
            return runFollowing(factory, perJob);
        }
        List<Long> runs = new ArrayList<>();
        long previous = System.nanoTime();
        for (int i = 0; i < JOBS.size(); i++) {
            long run = factory.app().jobs().trigger(JOBS.get(i), Trigger.MANUAL);
            long now = System.nanoTime();
            if (perJob != null) {
                perJob[i] = (now - previous) / 1e9;
            }
            previous = now;
            if (run < 0) {
                throw new IllegalStateException("Job " + JOBS.get(i) + " did not run");
            }
            runs.add(run);
        }
        return runs;
    }

    /**
     * With {@code FOLLOW=on}: triggers the first job only; its run starts one of the next job, and so on down the
     * chain, each taking the chunks of the one before it as they commit. Done once the last job's run has ended (it
     * ends only after the run before it has), as the job component's run listener tells, so that waiting costs the
     * pass no query; {@code perJob}, when given, receives how long each run went, by the database's clock.
     */
    private static List<Long> runFollowing(Factory factory, double[] perJob) throws Exception {
        DataSource ds = factory.app().database().dataSource();
        long mark;
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT COALESCE(MAX(run_id), 0) FROM job_run")) {
            rs.next();
            mark = rs.getLong(1);
        }
        JobComponent component = factory.app().context().getComponent("job", JobComponent.class);
        RunListener told = component.getRunListener();
        String last = JOBS.get(JOBS.size() - 1);
        CompletableFuture<Void> lastEnded = new CompletableFuture<>();
        component.setRunListener(new RunListener() {
            @Override
            public void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed,
                    String summary) {
                told.runEnded(job, runId, status, itemsDone, itemsFailed, summary);
                if (job.equals(last)) {
                    lastEnded.complete(null);
                }
            }

            @Override
            public void jobBlocked(String job, JobStore.RunningRun run) {
                told.jobBlocked(job, run);
            }

            @Override
            public void runTakenOver(String job, JobStore.RunningRun run) {
                told.runTakenOver(job, run);
            }
        });
        try {
            if (factory.app().jobs().trigger(JOBS.get(0), Trigger.MANUAL) < 0) {
                throw new IllegalStateException("Job " + JOBS.get(0) + " did not run");
            }
            lastEnded.get(10, TimeUnit.MINUTES);
        } finally {
            component.setRunListener(told);
        }
        List<Long> runs = followed(ds, mark, perJob);
        if (runs == null) {
            throw new IllegalStateException("The run of " + last + " ended before every job had run");
        }
        return runs;
    }

    /** The runs since {@code mark}, one per job in chain order, once the last job's has ended; null until then. */
    private static List<Long> followed(DataSource ds, long mark, double[] perJob) throws SQLException {
        try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT job, run_id, status, started_at, ended_at FROM job_run WHERE run_id > ? ORDER BY run_id")) {
            ps.setLong(1, mark);
            Map<String, Long> runs = new LinkedHashMap<>();
            Map<String, Double> took = new LinkedHashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(3).equals("running")) {
                        return null;
                    }
                    if (runs.put(rs.getString(1), rs.getLong(2)) != null) {
                        throw new IllegalStateException("Job " + rs.getString(1) + " ran more than once");
                    }
                    took.put(rs.getString(1), (rs.getTimestamp(5).getTime() - rs.getTimestamp(4).getTime()) / 1e3);
                }
            }
            if (!runs.keySet().containsAll(JOBS)) {
                return null;
            }
            List<Long> ids = new ArrayList<>();
            for (int i = 0; i < JOBS.size(); i++) {
                ids.add(runs.get(JOBS.get(i)));
                if (perJob != null) {
                    perJob[i] = took.get(JOBS.get(i));
                }
            }
            return ids;
        }
    }

    /** Every run succeeded with all items done, and the last job holds every item as done. */
    private static void check(DataSource ds, String prefix, int count, List<Long> runs) throws SQLException {
        try (Connection c = ds.getConnection()) {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT job, status, items_taken, items_done FROM job_run WHERE run_id = ?")) {
                for (long run : runs) {
                    ps.setLong(1, run);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (!rs.getString(2).equals("succeeded") || rs.getInt(3) != count || rs.getInt(4) != count) {
                            throw new IllegalStateException("Run " + run + " of " + rs.getString(1) + " ended "
                                    + rs.getString(2) + " with " + rs.getInt(3) + " taken and " + rs.getInt(4)
                                    + " done, not " + count);
                        }
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM job_state"
                    + " WHERE job = ? AND status = 'done' AND item_key LIKE ?")) {
                ps.setString(1, JOBS.get(JOBS.size() - 1));
                ps.setString(2, prefix + "%");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getInt(1) != count) {
                        throw new IllegalStateException(rs.getInt(1) + " items done by the last job, not " + count);
                    }
                }
            }
        }
    }

    /** Offers {@code count} items to the first job, from a few threads (offering is not measured). */
    private static void offer(Factory factory, String prefix, int count) throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> parts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t;
                parts.add(pool.submit(() -> {
                    for (int i = first; i < count; i += threads) {
                        factory.app().jobStore().offer(JOBS.get(0), prefix + i, "v1", "payload-" + i, true);
                    }
                    return null;
                }));
            }
            for (Future<?> part : parts) {
                part.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    /** Removes a flatness pass's items from the state store, so that every pass starts from the same rows. */
    private static void forget(DataSource ds, String prefix) throws SQLException {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("DELETE FROM job_state WHERE item_key LIKE ?")) {
            ps.setString(1, prefix + "%");
            ps.executeUpdate();
        }
    }

    /**
     * The floor: single-row INSERT + COMMIT per second over one plain JDBC connection in autocommit, into a
     * scratch table that is dropped afterwards.
     */
    private double rawCommitsPerSecond(String url, Server server) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, server.user(), server.password())) {
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE bench_commit (id BIGINT PRIMARY KEY, note VARCHAR(200) NOT NULL)");
            }
            int warmUp = Math.min(300, settings.commits());
            double elapsed;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO bench_commit (id, note) VALUES (?, ?)")) {
                for (int i = 0; i < warmUp; i++) {
                    insert(ps, -1 - i);
                }
                long start = System.nanoTime();
                for (int i = 0; i < settings.commits(); i++) {
                    insert(ps, i);
                }
                elapsed = seconds(start);
            }
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE bench_commit");
            }
            double perSecond = settings.commits() / elapsed;
            System.out.printf(Locale.ROOT, "raw single-row INSERT + COMMIT/s: %.0f (%d in %.3f s)%n", perSecond,
                    settings.commits(), elapsed);
            return perSecond;
        }
    }

    private static void insert(PreparedStatement ps, long id) throws SQLException {
        ps.setLong(1, id);
        ps.setString(2, "note-" + id);
        ps.executeUpdate();
    }

    /**
     * Fills the state store with finished items {@code from} (inclusive) to {@code to} (exclusive), spread over the
     * six jobs in runs of ITEMS_PER_RUN, and job_run with those runs, then refreshes the planner statistics as the
     * database's own maintenance would after such growth.
     */
    private static void prefill(DataSource ds, Server server, int from, int to) throws SQLException {
        long start = System.nanoTime();
        StringBuilder jobOf = new StringBuilder("CASE MOD(r.x, ").append(JOBS.size()).append(')');
        for (int i = 0; i < JOBS.size(); i++) {
            jobOf.append(" WHEN ").append(i).append(" THEN '").append(JOBS.get(i)).append('\'');
        }
        jobOf.append(" END");
        String range = server.postgres() ? "generate_series(?, ?) AS r(x)"
                : "(SELECT X FROM SYSTEM_RANGE(?, ?)) AS r(x)";
        int firstRun = from / ITEMS_PER_RUN;
        int lastRun = (to - 1) / ITEMS_PER_RUN;
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(true);
            long baseRun;
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(run_id), 0) + 1 FROM job_run")) {
                rs.next();
                baseRun = rs.getLong(1);
            }
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO job_run (job, trigger_kind, node, status, started_at, ended_at, items_taken,
                                         items_done, items_failed)
                    SELECT %s, 'schedule', 'bench-prefill', 'succeeded', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,
                           %d, %d, 0
                      FROM %s""".formatted(jobOf, ITEMS_PER_RUN, ITEMS_PER_RUN, range))) {
                ps.setLong(1, firstRun);
                ps.setLong(2, lastRun);
                ps.executeUpdate();
            }
            // one statement (and commit) per 100,000 rows keeps each transaction's undo small
            String jobOfRun = jobOf.toString().replace("r.x", "r.x / " + ITEMS_PER_RUN);
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO job_state (job, item_key, item_version, status, data, attempts, run_id, created_at,
                                           updated_at, row_version)
                    SELECT %s, 'old-' || r.x, 'v1', 'done', 'payload-' || r.x, 1, ? + r.x / %d - %d,
                           CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1
                      FROM %s""".formatted(jobOfRun, ITEMS_PER_RUN, firstRun, range))) {
                for (long lo = from; lo < to; lo += 100_000) {
                    ps.setLong(1, baseRun);
                    ps.setLong(2, lo);
                    ps.setLong(3, Math.min(to, lo + 100_000) - 1);
                    ps.executeUpdate();
                }
            }
            try (Statement s = c.createStatement()) {
                s.execute(server.postgres() ? "VACUUM ANALYZE job_state, job_run, job_inbox" : "ANALYZE");
            }
        }
        System.out.printf(Locale.ROOT, "prefilled %d finished items (%d in all) and %d runs (not measured): %.1f s%n",
                to - from, to, lastRun - firstRun + 1, seconds(start));
    }

    private static void summary(List<Throughput> throughput, List<Flatness> flatness) {
        System.out.printf(Locale.ROOT, "%n%-11s %-11s %6s %13s %13s %15s %17s %17s%n", "database", "transaction",
                "chunk", "hand-offs/s", "raw commits/s", "ratio (>= 5x)", "JVM CPU s/" + CPU_PER,
                "server CPU s/" + CPU_PER);
        for (Throughput t : throughput) {
            System.out.printf(Locale.ROOT, "%-11s %-11s %6d %13.0f %13.0f %14.2fx %17.3f %17.3f%n", t.database(),
                    t.transaction(), t.chunk(), t.handoffsPerSecond(), t.commitsPerSecond(), t.ratio(), t.cpu().jvm(),
                    t.cpu().postgres());
        }
        System.out.printf(Locale.ROOT, "%n%-11s %6s %14s %14s %10s%n", "database", "chunk", "pass, small s",
                "pass, big s", "(<= 1.5x)");
        for (Flatness f : flatness) {
            System.out.printf(Locale.ROOT, "%-11s %6d %14.3f %14.3f %9.2fx%n", f.database(), f.chunk(), f.smallPass(),
                    f.bigPass(), f.ratio());
        }
    }


    private static String perJobText(double[] perJob) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < perJob.length; i++) {
            parts.add(String.format(Locale.ROOT, "%s %.3f", JOBS.get(i), perJob[i]));
        }
        return String.join(", ", parts);
    }

    /** The 1, 5 and 15 minute load averages: other work on the machine makes the figures noisy. */
    static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return String.join(" ", Arrays.asList(fields).subList(0, 3));
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static String verdict(boolean met) {
        return met ? " MET" : " MISSED";
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** WARN and above only: the factory and Camel log a few INFO lines per start and per run. */
    static void quietLogging() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                if (logger.getLevel() != null && !logger.getLevel().isGreaterOrEqual(Level.WARN)) {
                    logger.setLevel(Level.WARN);
                }
            }
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.WARN);
        }
    }

    /** A started factory with the six-job chain, stopped when closed. */
    record Factory(FactoryApplication app, boolean follow) implements AutoCloseable {

        static Factory start(Path home, String url, Server server, int chunk, String transaction, boolean follow)
                throws IOException {
            Files.createDirectories(home.resolve("config/routes"));
            Files.writeString(home.resolve("config/application.properties"), jobSettings(NEVER, chunk));
            Files.writeString(home.resolve("config/routes/pipeline.camel.yaml"), routes(transaction, follow));

            Map<String, String> overrides = new LinkedHashMap<>();
            overrides.put("factory.db.url", url);
            overrides.put("factory.db.user", server.user());
            overrides.put("factory.db.password", server.password());
            overrides.put("camel.server.enabled", "false");
            overrides.put("camel.management.enabled", "false");
            overrides.put("factory.routes.shipped", "framework/**");
            overrides.put("camel.main.shutdown-timeout", "5");
            FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, overrides);
            app.start();
            return new Factory(app, follow);
        }

        @Override
        public void close() {
            app.stop();
        }
    }

    /** Every job's cron and chunk size, as {@code job.<name>.*} settings. */
    static String jobSettings(String cron, int chunk) {
        StringBuilder properties = new StringBuilder();
        for (String job : JOBS) {
            properties.append("job.").append(job).append(".cron = ").append(cron).append('\n')
                    .append("job.").append(job).append(".chunk-size = ").append(chunk).append('\n');
        }
        return properties.toString();
    }

    /** The six-job chain of no-op routes, each job taking what the one before it finished. */
    static String routes(String transaction) {
        return routes(transaction, false);
    }

    /** The same, each job but the first following the one before it when {@code follow}. */
    static String routes(String transaction, boolean follow) {
        StringBuilder routes = new StringBuilder();
        for (int i = 0; i < JOBS.size(); i++) {
            String upstream = i == 0 ? "" : "\n        upstream: " + JOBS.get(i - 1)
                    + (follow ? "\n        follow: \"true\"" : "");
            routes.append("""
                    - route:
                        id: %1$s
                        from:
                          uri: "job:%1$s"
                          parameters:
                            cron: "{{job.%1$s.cron}}"
                            chunkSize: "{{job.%1$s.chunk-size}}"
                            transaction: "%3$s"%2$s
                          steps:
                            - setBody:
                                simple: "${body}"
                    """.formatted(JOBS.get(i), upstream, transaction));
        }
        return routes.toString();
    }

    /** The database server a measurement runs on: embedded PostgreSQL, or H2 files in a temporary directory. */
    static final class Server implements AutoCloseable {

        private final EmbeddedPostgres postgres;
        private final Path dir;
        /** Whether the server times its statements (pg_stat_statements). */
        private final boolean statements;

        private Server(EmbeddedPostgres postgres, Path dir, boolean statements) {
            this.postgres = postgres;
            this.dir = dir;
            this.statements = statements;
        }

        /** PostgreSQL as in production, timing its statements (pg_stat_statements). */
        static Server startPostgres() throws IOException {
            return startPostgres(true);
        }

        /**
         * PostgreSQL as in production: every commit waits for its WAL to be flushed to disk. {@code statements}: the
         * server times each statement (pg_stat_statements, with planning), which costs it a little CPU per statement.
         */
        static Server startPostgres(boolean statements) throws IOException {
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on");
            if (statements) {
                builder.setServerConfig("shared_preload_libraries", "pg_stat_statements")
                        .setServerConfig("pg_stat_statements.track_planning", "on");
            }
            return new Server(builder.start(), Files.createTempDirectory("pipeline-bench-"), statements);
        }

        /** Forgets the statements timed so far (PostgreSQL: pg_stat_statements). */
        void resetStatements(String url) throws SQLException {
            if (postgres() && statements) {
                try (Connection c = DriverManager.getConnection(url, user(), password());
                        Statement s = c.createStatement()) {
                    s.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                    s.execute("SELECT pg_stat_statements_reset()");
                }
            }
        }

        /**
         * Where the server's time went since the reset: the statements of the database by total time, with calls,
         * mean time and rows (PostgreSQL: pg_stat_statements; commits are not statements there).
         */
        void printStatements(String url) throws SQLException {
            if (!postgres() || !statements) {
                return;
            }
            try (Connection c = DriverManager.getConnection(url, user(), password());
                    Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("""
                            SELECT calls, total_exec_time + total_plan_time, rows, query, total_plan_time
                              FROM pg_stat_statements
                             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                             ORDER BY 2 DESC LIMIT 8""")) {
                System.out.println("  server time by statement (pg_stat_statements, plan and execution; of it,"
                        + " planning):");
                while (rs.next()) {
                    String query = rs.getString(4).replaceAll("\\s+", " ").trim();
                    long calls = Math.max(1, rs.getLong(1));
                    System.out.printf(Locale.ROOT, "  %7d calls %9.1f ms %7.3f ms/call (plan %6.3f) %8d rows  %s%n",
                            rs.getLong(1), rs.getDouble(2), rs.getDouble(2) / calls, rs.getDouble(5) / calls,
                            rs.getLong(3), query.length() > 80 ? query.substring(0, 80) + "..." : query);
                }
            }
        }

        /** The CPU this JVM and the server use (H2 runs inside the JVM: the server's figure is NaN). */
        CpuMeter cpuMeter() {
            return postgres() ? CpuMeter.ofPostgresOnPort(postgres.getPort()) : CpuMeter.ofNoServer();
        }

        static Server startH2() throws IOException {
            return new Server(null, Files.createTempDirectory("pipeline-bench-"), false);
        }

        boolean postgres() {
            return postgres != null;
        }

        String name() {
            return postgres() ? "PostgreSQL" : "H2";
        }

        String user() {
            return postgres() ? "postgres" : "sa";
        }

        String password() {
            return "";
        }

        Path home(String name) {
            return dir.resolve(name);
        }

        /** A new, empty database; its JDBC URL. */
        String newDatabase(String name) throws SQLException {
            if (!postgres()) {
                return "jdbc:h2:file:" + home(name).resolve("data/factory") + ";WRITE_DELAY=0";
            }
            try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + name);
            }
            return postgres.getJdbcUrl(user(), name);
        }

        String describe() throws SQLException {
            if (!postgres()) {
                return "H2 " + org.h2.engine.Constants.VERSION_MAJOR + "." + org.h2.engine.Constants.VERSION_MINOR
                        + ", file database under " + dir;
            }
            List<String> settings = new ArrayList<>();
            try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                for (String name : List.of("server_version", "fsync", "synchronous_commit", "wal_sync_method",
                        "lc_collate")) {
                    try (ResultSet rs = s.executeQuery("SHOW " + name)) {
                        rs.next();
                        settings.add(name + "=" + rs.getString(1));
                    }
                }
            }
            return "PostgreSQL (embedded; " + String.join(", ", settings) + ")";
        }

        @Override
        public void close() throws IOException {
            try {
                if (postgres != null) {
                    postgres.close();
                }
            } finally {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }
}
