package io.factoryrunner.bench;

import static org.awaitility.Awaitility.await;

import io.factoryrunner.FactoryRunner;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.awaitility.core.ConditionTimeoutException;

/**
 * The pipeline benchmark on several factory nodes ({@code bench/pipeline.sh NODES=2}), run by hand; not a unit test.
 *
 * <p>Each node is the factory's command line in a JVM of its own, with {@code factory.cluster.enabled = true}, on one
 * embedded PostgreSQL (fsync and synchronous commit on), a new database per pass. Every job of the six-job chain fires
 * every second: Quartz's clustered job store gives each fire to one node, and a job never runs twice at once, so the
 * nodes share the six jobs, each run taking what its upstream finished so far. A pass: a warm-up batch of N / 5 items
 * (at least 1,000) through the whole chain, not measured, then N items inserted into the first job's inbox in one
 * statement; hand-offs per second = N x 6 / the time from that commit until the last job has finished all N. Rounds
 * alternate one node and NODES nodes, the same way; the summary gives each round and the medians, beside the machine's
 * core count and load average: on one machine the nodes share its cores with each other and with PostgreSQL.
 */
final class NodesBenchmark {

    /** Every second, Quartz's finest cron: a job fires again as soon as its run ends, when that took a second. */
    static final String EVERY_SECOND = "* * * * * ?";

    /** What one pass measured: its hand-offs per second, and the runs each node made of each job. */
    record Pass(int nodes, double seconds, double handoffsPerSecond, List<String> share) {
    }

    private NodesBenchmark() {
    }

    static void run(PipelineBenchmark.Settings settings) throws Exception {
        int chunk = settings.chunks().get(0);
        String transaction = settings.transactions().get(0);
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf(Locale.ROOT, "Pipeline benchmark on nodes: N=%d items through %d jobs (%s), chunk size %d,"
                + " transaction %s, every job firing every second; 1 node against %d nodes, %d round(s), nodes as"
                + " child JVMs on one PostgreSQL; %d CPUs, load average %s%n", settings.items(),
                PipelineBenchmark.JOBS.size(), String.join(" -> ", PipelineBenchmark.JOBS), chunk, transaction,
                settings.nodes(), settings.rounds(), cores, PipelineBenchmark.loadAverage());
        List<Pass> one = new ArrayList<>();
        List<Pass> many = new ArrayList<>();
        try (PipelineBenchmark.Server server = PipelineBenchmark.Server.startPostgres()) {
            System.out.printf(Locale.ROOT, "%s%n", server.describe());
            for (int round = 1; round <= settings.rounds(); round++) {
                for (int nodes : List.of(1, settings.nodes())) {
                    Pass pass = pass(server, settings, round, nodes, chunk, transaction);
                    (nodes == 1 ? one : many).add(pass);
                    System.out.printf(Locale.ROOT, "round %d, %d node(s): %d items in %.2f s, %.0f hand-offs/s"
                            + " (load average %s)%n", round, nodes, settings.items(), pass.seconds(),
                            pass.handoffsPerSecond(), PipelineBenchmark.loadAverage());
                    pass.share().forEach(line -> System.out.println("  " + line));
                }
            }
        }
        System.out.printf(Locale.ROOT, "%n%-7s %17s %17s %8s%n", "round", "1 node, h-offs/s",
                settings.nodes() + " nodes, h-offs/s", "ratio");
        for (int i = 0; i < one.size(); i++) {
            System.out.printf(Locale.ROOT, "%-7d %17.0f %17.0f %7.2fx%n", i + 1, one.get(i).handoffsPerSecond(),
                    many.get(i).handoffsPerSecond(), many.get(i).handoffsPerSecond() / one.get(i).handoffsPerSecond());
        }
        double[] ratios = new double[one.size()];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = many.get(i).handoffsPerSecond() / one.get(i).handoffsPerSecond();
        }
        System.out.printf(Locale.ROOT, "%-7s %17.0f %17.0f %7.2fx (median of the rounds' ratios)%n", "median",
                median(one.stream().mapToDouble(Pass::handoffsPerSecond).toArray()),
                median(many.stream().mapToDouble(Pass::handoffsPerSecond).toArray()), median(ratios));
        System.out.printf(Locale.ROOT, "%d CPUs (Runtime.availableProcessors()) shared by the nodes and PostgreSQL;"
                + " load average at the end: %s%n", cores, PipelineBenchmark.loadAverage());
    }

    /** One pass on a new database with {@code nodes} nodes, started for it and stopped after it. */
    private static Pass pass(PipelineBenchmark.Server server, PipelineBenchmark.Settings settings, int round,
            int nodes, int chunk, String transaction) throws Exception {
        String name = "nodes_" + nodes + "_round_" + round;
        String url = server.newDatabase(name);
        List<Node> started = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, server.user(), server.password())) {
            c.setAutoCommit(true);
            for (int i = 1; i <= nodes; i++) {
                Node node = Node.start(server.home(name).resolve("node-" + i), "node-" + i, url, server, chunk,
                        transaction);
                started.add(node);
                // one node at a time: the first creates the schema, the others find it made
                awaitUntil(started, 180, () -> ready(c, started.size()));
            }
            int warmUp = Math.max(1_000, settings.items() / 5);
            offer(c, "warm-", warmUp);
            awaitUntil(started, 600, () -> finished(c) == warmUp);
            long lastRun = count(c, "SELECT COALESCE(MAX(run_id), 0) FROM job_run");

            offer(c, "item-", settings.items());
            long start = System.nanoTime();
            awaitUntil(started, 600, () -> finished(c) == warmUp + settings.items());
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Pass(nodes, seconds, (double) settings.items() * PipelineBenchmark.JOBS.size() / seconds,
                    share(c, lastRun));
        } finally {
            for (Node node : started) {
                node.stop();
            }
        }
    }

    /** Offers {@code count} items to the first job in one statement, as its intake would. */
    private static void offer(Connection c, String prefix, int count) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
                SELECT ?, ? || x, 'v1', TRUE, 'payload-' || x, CURRENT_TIMESTAMP FROM generate_series(1, ?) AS x""")) {
            ps.setString(1, PipelineBenchmark.JOBS.get(0));
            ps.setString(2, prefix);
            ps.setInt(3, count);
            ps.executeUpdate();
        }
    }

    /** Items the last job has finished, as its runs counted them (job_run is small: cheap to ask every 50 ms). */
    private static long finished(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT COALESCE(SUM(items_done), 0) FROM job_run WHERE job = ?")) {
            ps.setString(1, PipelineBenchmark.JOBS.get(PipelineBenchmark.JOBS.size() - 1));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** Which node ran which job in the runs after {@code afterRun} that took items: runs and items. */
    private static List<String> share(Connection c, long afterRun) throws SQLException {
        Map<String, List<String>> byNode = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT node, job, COUNT(*), SUM(items_taken) FROM job_run
                 WHERE run_id > ? AND items_taken > 0 GROUP BY node, job ORDER BY node, MIN(run_id)""")) {
            ps.setLong(1, afterRun);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    byNode.computeIfAbsent(rs.getString(1), n -> new ArrayList<>()).add(String.format(Locale.ROOT,
                            "%s %d items in %d runs", rs.getString(2), rs.getLong(4), rs.getLong(3)));
                }
            }
        }
        List<String> lines = new ArrayList<>();
        byNode.forEach((node, jobs) -> lines.add(node + ": " + String.join(", ", jobs)));
        return lines;
    }

    /** Whether the schema is made, {@code nodes} nodes have checked in with Quartz and the jobs' feeds exist. */
    private static boolean ready(Connection c, int nodes) {
        try {
            return count(c, "SELECT COUNT(*) FROM qrtz_scheduler_state") == nodes
                    && count(c, "SELECT COUNT(*) FROM job_feed") == PipelineBenchmark.JOBS.size() - 1;
        } catch (SQLException notYet) {
            // the first node has not made the schema yet
            return false;
        }
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Polls every 50 ms until {@code check} holds; fails, with the nodes' last lines, at the deadline or as soon as a
     * node has died.
     */
    private static void awaitUntil(List<Node> nodes, int seconds, Callable<Boolean> check) {
        try {
            await().atMost(Duration.ofSeconds(seconds)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50))
                    .until(() -> {
                        for (Node node : nodes) {
                            if (!node.process().isAlive()) {
                                throw new IllegalStateException(node.name() + " stopped:\n" + node.tail());
                            }
                        }
                        return check.call();
                    });
        } catch (ConditionTimeoutException e) {
            StringBuilder tails = new StringBuilder();
            nodes.forEach(n -> tails.append(n.name()).append(":\n").append(n.tail()).append('\n'));
            throw new IllegalStateException("Not done after " + seconds + " s\n" + tails, e);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    }

    /** A node: the factory's command line in a JVM of its own, on a home of its own, its output in node.log. */
    private record Node(String name, Process process, Path log) {

        static Node start(Path home, String name, String url, PipelineBenchmark.Server server, int chunk,
                String transaction) throws IOException {
            Files.createDirectories(home.resolve("config/routes"));
            Files.writeString(home.resolve("config/routes/pipeline.camel.yaml"),
                    PipelineBenchmark.routes(transaction));
            Files.writeString(home.resolve("config/application.properties"), """
                    factory.cluster.enabled = true
                    factory.node.id = %s
                    factory.db.url = %s
                    factory.db.user = %s
                    factory.db.pool-size = 20
                    factory.routes.shipped = framework/**
                    camel.server.enabled = false
                    camel.management.enabled = false
                    camel.main.shutdown-timeout = 5
                    """.formatted(name, url, server.user())
                    + PipelineBenchmark.jobSettings(EVERY_SECOND, chunk));
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Path log = home.resolve("node.log");
            // the node starts in its home: the class path's relative entries (bench/run-java.sh gives some) made
            // absolute
            String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                    .map(entry -> Path.of(entry).toAbsolutePath().toString())
                    .collect(Collectors.joining(File.pathSeparator));
            ProcessBuilder builder = new ProcessBuilder(List.of(java, "-Xmx512m", "-cp", classPath,
                    FactoryRunner.class.getName(), "run", "--home", home.toString())).directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            builder.environment().put("FACTORY_DB_PASSWORD", server.password());
            return new Node(name, builder.start(), log);
        }

        /** The last lines the node wrote. */
        String tail() {
            try {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
            } catch (IOException e) {
                return "(no output: " + e.getMessage() + ")";
            }
        }

        /** SIGTERM, as an operator stops a node; killed if it has not stopped within a minute. */
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
