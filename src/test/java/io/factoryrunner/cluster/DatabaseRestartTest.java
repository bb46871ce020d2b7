package io.factoryrunner.cluster;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.ChildFactory;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestHttp;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Two nodes, each the factory's command line in a JVM of its own, busy with a chain of jobs and with programs on one
 * real PostgreSQL, which is stopped and started again on the same data directory and port while they work (longer
 * than {@code factory.cluster.node-timeout}): both nodes reconnect through their pools and carry on, the runs the
 * outage cut off are closed and their items done by later runs, and nothing is lost or done twice. Neither node takes
 * the other for lost because the outage kept it from writing its heartbeat.
 */
class DatabaseRestartTest {

    static final int ITEMS = 200;
    static final int CHUNK = 10;
    static final int PROGRAMS = 6;
    static final int STEPS = 4;

    /**
     * {@code work} ({@code transaction: claim}) takes 100 ms an item and leaves a witness row for each as it begins;
     * {@code record} ({@code transaction: chunk}) takes what it hands on, 20 ms an item. Program steps take a second
     * each and leave a witness row too.
     */
    static final String ROUTES = """
            - route:
                id: work
                from:
                  uri: "job:work"
                  parameters:
                    cron: "* * * * * ?"
                    chunkSize: %d
                  steps:
                    - to:
                        uri: "sql:INSERT INTO witness (item_key, node) VALUES (:#${header.FactoryItemKey},\
                          '{{factory.node.id}}')"
                        parameters:
                          dataSource: "#dataSource"
                    - delay:
                        constant: "100"
                    - setBody:
                        simple: "${exchangeProperty.FactoryItemData}-worked"
            - route:
                id: record
                from:
                  uri: "job:record"
                  parameters:
                    upstream: work
                    cron: "* * * * * ?"
                    chunkSize: %d
                    transaction: chunk
                  steps:
                    - delay:
                        constant: "20"
                    - setBody:
                        simple: "${body}-recorded"
            - route:
                id: program-step
                from:
                  uri: "program:step"
                  steps:
                    - to:
                        uri: "sql:INSERT INTO step_witness (run_id, step, node) VALUES\
                          (:#${header.FactoryProgramRunId}, :#${header.FactoryProgramStep}, '{{factory.node.id}}')"
                        parameters:
                          dataSource: "#dataSource"
                    - delay:
                        constant: "1000"
            """.formatted(CHUNK, CHUNK);

    /**
     * The items and steps that meet the outage are tried again: a job's at its next run, after a second; a program
     * step's, as a step's failure on the database is declared retryable. A node is lost after 10 s of silence.
     */
    static final String SETTINGS = """
            factory.cluster.checkin-interval = 1000
            factory.cluster.node-timeout = 10s
            factory.node.stale-after = 10s
            factory.db.connect-timeout = 3s
            program.workers = 2
            program.poll-interval = 200
            factory.retry.next-run-delay = 1s
            program.retry.exceptions = java.sql.SQLException
            program.retry.backoff = 1s
            program.retry.max-attempts = 20
            """;

    @TempDir
    Path dir;

    final List<ChildFactory> nodes = new ArrayList<>();
    EmbeddedPostgres server;

    @AfterEach
    void stop() throws Exception {
        for (ChildFactory node : nodes) {
            node.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void a_database_restarted_under_load_finds_every_node_back_and_nothing_lost_or_done_twice() throws Exception {
        Path data = dir.resolve("pg-data");
        int port = FactoryHome.freePort();
        server = start(data, port);
        String url = server.getJdbcUrl("postgres", "postgres");
        DataSource ds = dataSource(url);
        // the first node migrates the empty database; the tables of the test's witnesses come after. node-b beats
        // every 3 s: after the outage, node-a is back well before node-b has written its heartbeat again
        for (String name : List.of("node-a", "node-b")) {
            ChildFactory node = ChildFactory.node(dir.resolve(name), name, url, Map.of("work.camel.yaml", ROUTES),
                    SETTINGS + (name.equals("node-b") ? "factory.node.heartbeat = 3s\n" : ""));
            nodes.add(node);
            await().atMost(Duration.ofSeconds(90)).until(() -> node.assertAlive().logged("Programs: 2 workers"));
            if (nodes.size() == 1) {
                // stamped by the database: a row written before the outage is older than the restart
                Sql.execute(ds, "CREATE TABLE witness (item_key VARCHAR(100), node VARCHAR(20),"
                        + " at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)");
                Sql.execute(ds, "CREATE TABLE step_witness (run_id VARCHAR(36), step INTEGER, node VARCHAR(20),"
                        + " at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)");
            }
        }
        String token = Files.readString(dir.resolve("node-a/data/admin.token")).trim();
        // offered as a route's "to: job:work" does: a row per item in the job's inbox
        Sql.execute(ds, "INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)"
                + " SELECT 'work', 'item-' || LPAD(CAST(g AS VARCHAR), 3, '0'), 'v1', TRUE, 'x' || g,"
                + " CURRENT_TIMESTAMP FROM generate_series(1, " + ITEMS + ") g");
        // half the programs submitted on each node, which claims them at once
        for (int i = 0; i < PROGRAMS; i++) {
            submit(nodes.get(i % 2).port(), token);
        }

        // under load: chunks and program steps under way on the nodes, some of them done
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
                count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'") >= 2 * CHUNK
                && count(ds, "SELECT COUNT(*) FROM witness")
                        > count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'")
                && count(ds, "SELECT COUNT(DISTINCT node) FROM program_event WHERE outcome = 'succeeded'") == 2
                && count(ds, "SELECT COUNT(*) FROM step_witness") > count(ds, "SELECT COUNT(*) FROM program_event"));
        Set<String> doneBefore = new HashSet<>(Sql.column(ds,
                "SELECT item_key FROM job_state WHERE job = 'work' AND status = 'done'"));
        Set<String> stepsFinishedBefore = new HashSet<>(Sql.column(ds, "SELECT p.run_id || '/' || e.step"
                + " FROM program_event e JOIN program p ON p.id = e.program_id WHERE e.outcome = 'succeeded'"));
        List<Long> runningAtStop = rows(ds, "SELECT run_id FROM job_run WHERE status = 'running'").stream()
                .map(r -> ((Number) r.get("run_id")).longValue()).toList();
        Map<String, Long> heartbeatFailures = new HashMap<>();
        nodes.forEach(n -> heartbeatFailures.put(n.name(), n.count("Cannot write node " + n.name())));

        server.close();
        // both nodes meet the outage, which lasts longer than the node timeout
        Instant stopped = Instant.now();
        await().atMost(Duration.ofSeconds(60)).until(() -> nodes.stream().allMatch(n -> n.count("Cannot write node "
                + n.name()) > heartbeatFailures.get(n.name())) && Duration.between(stopped, Instant.now()).toSeconds()
                > 12);
        server = start(data, port);
        // what was written before the outage is older than the server's start, what was written after is younger
        Instant restarted = ((Timestamp) rows(ds, "SELECT pg_postmaster_start_time() AS started").get(0)
                .get("started")).toInstant();

        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() ->
                count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'") == ITEMS
                && count(ds, "SELECT COUNT(*) FROM program WHERE status = 'finished'") == PROGRAMS);
        // the runs the outage cut off are closed, by their node once it finds the database back
        await().atMost(Duration.ofSeconds(60)).until(() -> count(ds, "SELECT COUNT(*) FROM job_run"
                + " WHERE status = 'running' AND started_at < ?", Timestamp.from(restarted)) == 0);
        for (long run : runningAtStop) {
            assertThat(rows(ds, "SELECT status, error_summary FROM job_run WHERE run_id = ?", run)).singleElement()
                    .satisfies(r -> assertThat(r.get("status")).as("run %d, cut off: %s", run, r)
                            .isIn("failed", "abandoned", "succeeded"));
        }

        // every node is back: its heartbeat and Quartz's check-in written since the restart, its API answering
        for (ChildFactory node : nodes) {
            node.assertAlive();
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_node WHERE node = ? AND last_seen_at > ?", node.name(),
                    Timestamp.from(restarted))).as("heartbeat of %s since the restart", node.name()).isEqualTo(1);
            assertThat(count(ds, "SELECT COUNT(*) FROM qrtz_scheduler_state WHERE instance_name = ?"
                    + " AND last_checkin_time > ?", node.name(), restarted.toEpochMilli()))
                    .as("Quartz check-in of %s since the restart", node.name()).isEqualTo(1);
            HttpResponse<String> nodesSeen = TestHttp.client().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + node.port() + "/api/nodes"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(nodesSeen.statusCode()).as(nodesSeen.body()).isEqualTo(200);
        }

        // nothing lost, nothing done twice
        for (String job : List.of("work", "record")) {
            assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = ? AND status = 'done'", job))
                    .as("items done by %s", job).isEqualTo(ITEMS);
            assertThat(count(ds, "SELECT SUM(items_done) FROM job_run WHERE job = ?", job))
                    .as("items counted done in the runs of %s", job).isEqualTo(ITEMS);
        }
        assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox")).isZero();
        assertThat(rows(ds, "SELECT item_key, data FROM job_state WHERE job = 'record'")).allSatisfy(r -> assertThat(
                r.get("data")).isEqualTo("x" + Integer.parseInt(((String) r.get("item_key")).substring(5))
                + "-worked-recorded"));
        assertThat(count(ds, "SELECT COUNT(DISTINCT item_key) FROM witness")).isEqualTo(ITEMS);
        // an item run twice was begun before the outage, cut off by it, and run again after the restart
        Timestamp restart = Timestamp.from(restarted);
        assertThat(rows(ds, "SELECT item_key, COUNT(*) AS times, SUM(CASE WHEN at < ? THEN 1 ELSE 0 END) AS before"
                + " FROM witness GROUP BY item_key HAVING COUNT(*) > 1", restart))
                .as("items run more than once").hasSizeLessThanOrEqualTo(CHUNK).allSatisfy(r -> {
                    assertThat(((Number) r.get("times")).intValue()).as("runs of %s", r.get("item_key")).isEqualTo(2);
                    assertThat(((Number) r.get("before")).intValue()).as("runs of %s before the outage",
                            r.get("item_key")).isEqualTo(1);
                    assertThat(doneBefore).doesNotContain((String) r.get("item_key"));
                });
        for (Map<String, Object> p : rows(ds, "SELECT run_id FROM program")) {
            String runId = (String) p.get("run_id");
            assertThat(Sql.column(ds, "SELECT CAST(e.step AS VARCHAR(10)) FROM program_event e JOIN program p"
                    + " ON p.id = e.program_id WHERE p.run_id = ? AND e.outcome = 'succeeded' ORDER BY e.event_id",
                    runId)).as("steps of %s, each recorded once and in order", runId)
                    .containsExactly("0", "1", "2", "3");
        }
        assertThat(count(ds, "SELECT COUNT(DISTINCT run_id || '/' || step) FROM step_witness"))
                .isEqualTo(PROGRAMS * STEPS);
        // likewise a program step: once before the outage, and once after it, at most one step of each program
        for (Map<String, Object> w : rows(ds, "SELECT run_id, step, COUNT(*) AS times,"
                + " SUM(CASE WHEN at < ? THEN 1 ELSE 0 END) AS before FROM step_witness GROUP BY run_id, step"
                + " HAVING COUNT(*) > 1", restart)) {
            String step = w.get("run_id") + "/" + w.get("step");
            assertThat(((Number) w.get("times")).intValue()).as("runs of step %s", step).isEqualTo(2);
            assertThat(((Number) w.get("before")).intValue()).as("runs of step %s before the outage", step)
                    .isEqualTo(1);
            assertThat(stepsFinishedBefore).doesNotContain(step);
        }
        assertThat(count(ds, "SELECT COUNT(*) FROM (SELECT run_id FROM (SELECT run_id, step FROM step_witness"
                + " GROUP BY run_id, step HAVING COUNT(*) > 1) twice GROUP BY run_id HAVING COUNT(*) > 1) programs"))
                .as("programs with two steps run twice").isZero();
        // an outage is no node's silence: no run, program or alert says a node was lost
        assertThat(rows(ds, "SELECT subject FROM alerts WHERE kind IN ('node_lost', 'job_blocked')")).isEmpty();
        assertThat(rows(ds, "SELECT run_id, error_summary FROM job_run WHERE error_summary LIKE '%was lost%'"))
                .isEmpty();
        for (ChildFactory node : nodes) {
            assertThat(node.lines()).as("what %s took over", node.name())
                    .noneMatch(l -> l.contains("held by nodes not seen for"))
                    .noneMatch(l -> l.contains("longer than factory.cluster.node-timeout"));
        }
    }

    private static EmbeddedPostgres start(Path data, int port) throws IOException {
        return EmbeddedPostgres.builder().setDataDirectory(data).setCleanDataDirectory(false).setPort(port).start();
    }

    private static void submit(int port, String token) throws Exception {
        HttpResponse<String> answer = TestHttp.client().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/api/programs"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"jobs\": [\"step\", \"step\", \"step\", \"step\"]}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
    }

    private static DataSource dataSource(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser("postgres");
        return ds;
    }
}
