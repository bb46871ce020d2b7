package io.factoryrunner.bench;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What the statements a chunk sends beside its take and its write cost an embedded PostgreSQL server (fsync and
 * synchronous commit on): transactions of each shape, in alternating blocks on one connection, and the server's CPU
 * (all its processes, {@link CpuMeter}) and this JVM's per transaction. The shapes are those of
 * {@code PostgresStoreDialect}: the three {@code SET LOCAL} sent with a take, and the head row's lock and the savepoint
 * sent with a write, each against the same transaction without them.
 *
 * <pre>
 *   bench/run-java.sh StatementCost
 *   bench/run-java.sh StatementCost ROUNDS=8 PER_ROUND=600
 * </pre>
 */
public final class StatementCost {

    @FunctionalInterface
    private interface Shape {
        void run(Connection c) throws SQLException;
    }

    private static final String UPDATE_HEAD = "UPDATE job_head SET last_seq = last_seq + 1 WHERE job = 'bench'";

    private StatementCost() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> settings = new LinkedHashMap<>(Map.of("ROUNDS", "8", "PER_ROUND", "600"));
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq < 0 || !settings.containsKey(arg.substring(0, eq))) {
                throw new IllegalArgumentException("Expected ROUNDS=n or PER_ROUND=n, not '" + arg + "'");
            }
            settings.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        int rounds = Integer.parseInt(settings.get("ROUNDS"));
        int perRound = Integer.parseInt(settings.get("PER_ROUND"));

        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put("SELECT 1", c -> run(c, "SELECT 1"));
        shapes.put("three SET LOCAL + SELECT 1", c -> run(c, """
                SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off;
                SET LOCAL enable_sort = off; SELECT 1"""));
        shapes.put("update of the head row", c -> run(c, UPDATE_HEAD));
        shapes.put("lock + savepoint + update", c -> run(c, """
                SELECT 1 FROM job_head WHERE job = 'bench' FOR UPDATE; SAVEPOINT chunk_write;
                """ + UPDATE_HEAD));

        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on").start();
                Connection c = pg.getPostgresDatabase().getConnection()) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE job_head (job VARCHAR(100) PRIMARY KEY, last_seq BIGINT NOT NULL)");
                s.execute("INSERT INTO job_head VALUES ('bench', 0)");
            }
            c.setAutoCommit(false);
            CpuMeter meter = CpuMeter.ofPostgresOnPort(pg.getPort());
            Map<String, double[]> used = new LinkedHashMap<>();
            // the first round warms the server's caches and the JIT compilers up, and is not counted
            for (int round = 0; round <= rounds; round++) {
                for (Map.Entry<String, Shape> shape : shapes.entrySet()) {
                    CpuMeter.Reading before = meter.read();
                    for (int i = 0; i < perRound; i++) {
                        shape.getValue().run(c);
                        c.commit();
                    }
                    CpuMeter.Reading after = meter.read().minus(before);
                    if (round > 0) {
                        double[] sum = used.computeIfAbsent(shape.getKey(), k -> new double[2]);
                        sum[0] += after.postgres();
                        sum[1] += after.jvm();
                    }
                }
            }
            double transactions = (double) rounds * perRound;
            System.out.printf(Locale.ROOT, "CPU per transaction (and its commit), %d rounds of %d each:%n", rounds,
                    perRound);
            used.forEach((name, sum) -> System.out.printf(Locale.ROOT, "  %-30s server %6.1f us   JVM %6.1f us%n",
                    name, sum[0] / transactions * 1e6, sum[1] / transactions * 1e6));
        }
    }

    /** Runs a statement that may be several, and reads whatever it answers. */
    private static void run(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            boolean isResultSet = ps.execute();
            while (isResultSet || ps.getUpdateCount() != -1) {
                if (isResultSet) {
                    try (ResultSet rs = ps.getResultSet()) {
                        while (rs.next()) {
                            // read to the end
                        }
                    }
                }
                isResultSet = ps.getMoreResults();
            }
        }
    }
}
