package io.factoryrunner.bench;

import io.factoryrunner.FactoryApplication;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;

/**
 * Operator API benchmark, run by hand ({@code bench/api.sh}); not a unit test. On a database holding RUNS runs,
 * STATES item states and ERRORS errors, CLIENTS concurrent clients call one endpoint for SECONDS, then the next:
 * {@code GET /api/jobs}, {@code GET /api/runs}, {@code GET /api/items/build?status=failed} and
 * {@code GET /api/items/build/{key}} (a random key each call). Prints requests per second and the p50 and p99
 * latency per endpoint. Target: p99 under 100 ms for each.
 */
public final class ApiBenchmark {

    static final List<String> JOBS = PipelineBenchmark.JOBS;

    public static void main(String[] args) throws Exception {
        BenchSettings settings = BenchSettings.read(args, "RUNS", "100000", "STATES", "1000000", "ERRORS", "10000",
                "CLIENTS", "20", "SECONDS", "30", "DB", "both");
        PipelineBenchmark.quietLogging();
        System.out.println("Operator API benchmark " + settings + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, load average " + PipelineBenchmark.loadAverage());
        List<String> lines = settings.onEachDatabase(server -> measure(server, settings));
        System.out.println();
        System.out.println(String.format(Locale.ROOT, "%-11s %-34s %9s %9s %9s  %s", "database", "endpoint",
                "req/s", "p50 ms", "p99 ms", "p99 < 100 ms"));
        lines.forEach(System.out::println);
        System.out.println("load average at the end " + PipelineBenchmark.loadAverage());
    }

    /** A started factory with the six-job chain and its HTTP server, on a database filled with a history. */
    record SeededFactory(FactoryApplication app, String base, String token) implements AutoCloseable {

        /** On a database of its own, with the history that RUNS, STATES and ERRORS say. */
        static SeededFactory start(PipelineBenchmark.Server server, BenchSettings settings) throws Exception {
            int runs = settings.number("RUNS");
            int states = settings.number("STATES");
            int errors = settings.number("ERRORS");
            Path home = server.home("api");
            String url = server.newDatabase("api");
            int port;
            try (ServerSocket socket = new ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            Files.createDirectories(home.resolve("config/routes"));
            StringBuilder routes = new StringBuilder();
            for (int i = 0; i < JOBS.size(); i++) {
                routes.append("""
                        - route:
                            id: %1$s
                            from:
                              uri: "job:%1$s"
                              parameters:
                                cron: "%2$s"%3$s
                              steps:
                                - log: "${body}"
                        """.formatted(JOBS.get(i), PipelineBenchmark.NEVER,
                        i == 0 ? "" : "\n        upstream: " + JOBS.get(i - 1)));
            }
            Files.writeString(home.resolve("config/routes/chain.camel.yaml"), routes);
            Files.writeString(home.resolve("config/application.properties"), "");
            Map<String, String> overrides = new LinkedHashMap<>();
            overrides.put("factory.db.url", url);
            overrides.put("factory.db.user", server.user());
            overrides.put("factory.db.password", server.password());
            overrides.put("camel.server.enabled", "true");
            overrides.put("camel.server.port", String.valueOf(port));
            overrides.put("camel.management.enabled", "false");
            overrides.put("factory.routes.shipped", "framework/**");
            overrides.put("camel.main.shutdown-timeout", "5");
            FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, overrides);
            app.start();
            try {
                long seeding = System.nanoTime();
                seed(app, server.postgres(), runs, states, errors);
                System.out.printf(Locale.ROOT, "%s: %,d runs, %,d item states and %,d errors written in %.1f s%n",
                        server.name(), runs, states, errors, (System.nanoTime() - seeding) / 1e9);
                return new SeededFactory(app, "http://127.0.0.1:" + port,
                        Files.readString(home.resolve("data/admin.token")).trim());
            } catch (Exception | Error e) {
                app.stop();
                throw e;
            }
        }

        @Override
        public void close() {
            app.stop();
        }
    }

    private static List<String> measure(PipelineBenchmark.Server server, BenchSettings settings) throws Exception {
        int states = settings.number("STATES");
        int clients = settings.number("CLIENTS");
        int seconds = settings.number("SECONDS");
        try (SeededFactory factory = SeededFactory.start(server, settings)) {
            if (Boolean.parseBoolean(System.getenv().getOrDefault("EXPLAIN", "false"))) {
                explain(factory.app(), server.postgres());
            }
            int keys = states / JOBS.size();
            Map<String, IntFunction<String>> endpoints = new LinkedHashMap<>();
            endpoints.put("GET /api/jobs", n -> "/api/jobs");
            endpoints.put("GET /api/runs", n -> "/api/runs");
            endpoints.put("GET /api/items/build?status=failed", n -> "/api/items/build?status=failed");
            endpoints.put("GET /api/items/build/{key}", n -> "/api/items/build/item-"
                    + ThreadLocalRandom.current().nextInt(keys));
            List<String> lines = new ArrayList<>();
            for (Map.Entry<String, IntFunction<String>> e : endpoints.entrySet()) {
                lines.add(load(server.name(), e.getKey(), factory.base(), factory.token(), e.getValue(), clients,
                        seconds));
            }
            return lines;
        }
    }

    /** Rows written set-based by the database itself, so seeding a million states takes seconds, not minutes. */
    private static void seed(FactoryApplication app, boolean postgres, int runs, int states, int errors)
            throws SQLException {
        String range = postgres ? "generate_series(1, %d) AS r(x)" : "SYSTEM_RANGE(1, %d) AS r(x)";
        String job = "CASE MOD(x, 6) WHEN 0 THEN 'prepare' WHEN 1 THEN 'build' WHEN 2 THEN 'check'"
                + " WHEN 3 THEN 'ready' WHEN 4 THEN 'process' ELSE 'cleanup' END";
        try (Connection c = app.database().dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("INSERT INTO job_run (job, trigger_kind, node, status, started_at, ended_at, items_taken,"
                    + " items_done, items_failed) SELECT " + job + ", 'schedule', 'bench',"
                    + " CASE WHEN MOD(x, 50) = 0 THEN 'failed' ELSE 'succeeded' END,"
                    + " CURRENT_TIMESTAMP - x * INTERVAL '1' SECOND, CURRENT_TIMESTAMP - x * INTERVAL '1' SECOND,"
                    + " 10, 10, 0 FROM " + range.formatted(runs));
            // item-N reaches every job: six rows per key, the one in build failed for every hundredth key
            s.execute("INSERT INTO job_state (job, item_key, item_version, status, data, attempts, run_id,"
                    + " error_message, created_at, updated_at) SELECT " + job + ", 'item-' || CAST(x / 6 AS"
                    + " VARCHAR(20)), '1', CASE WHEN MOD(x, 600) = 1 THEN 'failed' ELSE 'done' END, 'data', 1,"
                    + " MOD(x, " + runs + ") + 1, CASE WHEN MOD(x, 600) = 1 THEN 'refused' END, CURRENT_TIMESTAMP,"
                    + " CURRENT_TIMESTAMP FROM " + range.formatted(states));
            s.execute("INSERT INTO error_fingerprint (fingerprint, job, category, exception_class,"
                    + " normalized_message, first_seen, last_seen, occurrences, status) SELECT 'fp-' || CAST(x AS"
                    + " VARCHAR(10)), 'build', 'internal', 'java.lang.IllegalStateException', 'refused',"
                    + " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 20, 'open' FROM " + range.formatted(errors / 20));
            s.execute("INSERT INTO factory_error (occurred_at, job, run_id, item_key, item_version, category,"
                    + " exception_class, message, fingerprint) SELECT CURRENT_TIMESTAMP, 'build', MOD(x, " + runs
                    + ") + 1, 'item-' || CAST(x * 100 AS VARCHAR(20)), '1', 'internal',"
                    + " 'java.lang.IllegalStateException', 'refused', 'fp-' || CAST(MOD(x, " + (errors / 20)
                    + ") + 1 AS VARCHAR(10)) FROM " + range.formatted(errors));
            if (postgres) {
                // as autovacuum leaves a table that has settled: statistics, and the visibility map that lets a
                // count read the index alone
                s.execute("VACUUM ANALYZE");
            }
        }
    }

    /** The plans of the statements behind the endpoints (EXPLAIN=true), to see which index each one takes. */
    private static void explain(FactoryApplication app, boolean postgres) throws SQLException {
        List<String> statements = List.of(
                "SELECT COUNT(*) FROM job_state WHERE job = 'build' AND status = 'claimed'",
                "SELECT COUNT(*) FROM job_state WHERE job = 'build' AND status = 'failed'",
                "SELECT job, COUNT(*) FROM job_state WHERE status = 'done' GROUP BY job",
                "SELECT * FROM job_run WHERE job = 'build' ORDER BY job DESC, run_id DESC LIMIT 1",
                "SELECT * FROM job_run ORDER BY run_id DESC LIMIT 51",
                "SELECT * FROM job_state WHERE job = 'build' AND status = 'failed' ORDER BY item_key, item_version"
                        + " LIMIT 51",
                // the inbox's status has the state's type, so that PostgreSQL merges the two primary keys in order
                "SELECT * FROM (SELECT job, item_key, item_version, status FROM job_state UNION ALL"
                        + " SELECT job, item_key, item_version, CAST('waiting' AS VARCHAR(20)) FROM job_inbox) i"
                        + " WHERE job = 'build' ORDER BY item_key, item_version LIMIT 51",
                "(SELECT * FROM job_run WHERE job = 'build' ORDER BY job DESC, run_id DESC LIMIT 40) UNION ALL"
                        + " (SELECT * FROM job_run WHERE job = 'check' ORDER BY job DESC, run_id DESC LIMIT 40)",
                "SELECT f.fingerprint, (SELECT e.message FROM factory_error e WHERE e.error_id = (SELECT"
                        + " MAX(e2.error_id) FROM factory_error e2 WHERE e2.fingerprint = f.fingerprint)) AS sample"
                        + " FROM error_fingerprint f WHERE f.status = 'open' ORDER BY f.last_seen DESC,"
                        + " f.fingerprint DESC LIMIT 51",
                "SELECT * FROM job_state WHERE job IN ('prepare', 'build') AND item_key = 'item-5'",
                "SELECT * FROM factory_error WHERE item_key = 'item-5' ORDER BY error_id DESC LIMIT 200");
        try (Connection c = app.database().dataSource().getConnection(); Statement s = c.createStatement()) {
            for (String sql : statements) {
                System.out.println("-- " + sql);
                try (var rs = s.executeQuery((postgres ? "EXPLAIN ANALYZE " : "EXPLAIN ANALYZE ") + sql)) {
                    while (rs.next()) {
                        System.out.println("   " + rs.getString(1));
                    }
                }
            }
        }
    }

    private static String load(String database, String name, String base, String token, IntFunction<String> path,
            int clients, int seconds) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        // a warm-up, so the first plans and classes are not counted
        for (int i = 0; i < 20; i++) {
            call(http, base, token, path.apply(i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        List<Future<List<Long>>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                List<Long> latencies = new ArrayList<>();
                int n = 0;
                while (System.nanoTime() < end) {
                    long start = System.nanoTime();
                    call(http, base, token, path.apply(n++));
                    latencies.add(System.nanoTime() - start);
                }
                return latencies;
            }));
        }
        List<Long> all = new ArrayList<>();
        for (Future<List<Long>> f : futures) {
            all.addAll(f.get());
        }
        pool.shutdown();
        Collections.sort(all);
        double p50 = all.get(all.size() / 2) / 1e6;
        double p99 = all.get((int) Math.min(all.size() - 1, Math.ceil(all.size() * 0.99) - 1)) / 1e6;
        return String.format(Locale.ROOT, "%-11s %-34s %9.0f %9.1f %9.1f  %s", database, name,
                all.size() / (double) seconds, p50, p99, p99 < 100 ? "met" : "NOT MET");
    }

    private static void call(HttpClient http, String base, String token, String path) throws IOException,
            InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException(path + " answered " + response.statusCode() + ": " + response.body());
        }
    }
}
