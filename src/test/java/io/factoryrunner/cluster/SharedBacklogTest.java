package io.factoryrunner.cluster;

import static io.factoryrunner.testsupport.Sql.column;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.ClusterNodes;
import io.factoryrunner.testsupport.Sql;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes, each the factory's command line in a JVM of its own, on one real PostgreSQL with
 * {@code factory.cluster.enabled = true}, and a chain of two jobs with {@code maxRuns: 2}: a backlog of 5,000 items
 * goes through both jobs with runs on both nodes at once, every item through each job's route once and handed on
 * once. Each route writes a row for every item it runs, so an item run twice would show.
 */
class SharedBacklogTest {

    static final String CHAIN = """
            - route:
                id: first
                from:
                  uri: "job:first"
                  parameters:
                    cron: "{{job.first.cron}}"
                    chunkSize: 50
                    maxRuns: 2
                  steps:
                    - to:
                        uri: "sql:INSERT INTO item_runs (job, item_key, node) VALUES ('first', :#${header.FactoryItemKey}, '{{factory.node.id}}')"
                        parameters:
                          dataSource: "#dataSource"
                    - delay:
                        constant: 2
                    - setBody:
                        simple: "${exchangeProperty.FactoryItemData}-first"
            - route:
                id: second
                from:
                  uri: "job:second"
                  parameters:
                    upstream: first
                    cron: "{{job.second.cron}}"
                    chunkSize: 50
                    maxRuns: 2
                  steps:
                    - to:
                        uri: "sql:INSERT INTO item_runs (job, item_key, node) VALUES ('second', :#${header.FactoryItemKey}, '{{factory.node.id}}')"
                        parameters:
                          dataSource: "#dataSource"
                    - delay:
                        constant: 3
                    - setBody:
                        simple: "${exchangeProperty.FactoryItemData}-second"
            """;

    static final String SETTINGS = """
            job.first.cron = * * * * * ?
            job.second.cron = * * * * * ?
            factory.cluster.join-interval = 1s
            """;

    static final int ITEMS = 5000;

    @TempDir
    Path dir;

    private ClusterNodes cluster;

    @AfterEach
    void stopNodes() throws InterruptedException {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void a_backlog_through_two_jobs_with_max_runs_two_is_shared_by_both_nodes_and_handed_on_once() throws Exception {
        cluster = new ClusterNodes(dir);
        DataSource ds = cluster.dataSource();
        // what the routes write for every item they run: no key, so a second run of an item is a second row
        Sql.execute(ds, "CREATE TABLE item_runs (job VARCHAR(100), item_key VARCHAR(400), node VARCHAR(200))");
        cluster.start("node-1", Map.of("chain.camel.yaml", CHAIN), SETTINGS);
        // the first node makes the admin token; the other finds one and makes none
        Path token = cluster.home("node-1").resolve("data/admin.token");
        await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(token));
        cluster.start("node-2", Map.of("chain.camel.yaml", CHAIN), SETTINGS);
        await().atMost(Duration.ofSeconds(90)).until(() -> count(ds,
                "SELECT COUNT(*) FROM qrtz_scheduler_state") == 2 && count(ds, "SELECT COUNT(*) FROM factory_node"
                + " WHERE last_seen_at > CURRENT_TIMESTAMP - INTERVAL '5 seconds'") == 2);

        Sql.execute(ds, """
                INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
                SELECT 'first', 'item-' || LPAD(CAST(g AS VARCHAR), 4, '0'), 'v1', TRUE, 'd' || g, CURRENT_TIMESTAMP
                  FROM generate_series(1, ?) g""", ITEMS);
        await().atMost(Duration.ofSeconds(240)).pollInterval(Duration.ofSeconds(1)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_state WHERE job = 'second' AND status = 'done'") == ITEMS
                && count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'running'") == 0);

        for (String job : List.of("first", "second")) {
            assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = ? AND status = 'done'", job))
                    .as("done items of " + job).isEqualTo(ITEMS);
            assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = ?", job)).as("items of " + job)
                    .isEqualTo(ITEMS);
            assertThat(count(ds, "SELECT COUNT(*) FROM item_runs WHERE job = ?", job))
                    .as("items run through the route of " + job).isEqualTo(ITEMS);
            assertThat(count(ds, "SELECT COUNT(DISTINCT item_key) FROM item_runs WHERE job = ?", job))
                    .as("distinct items run through the route of " + job).isEqualTo(ITEMS);
            assertThat(count(ds, "SELECT SUM(items_done) FROM job_run WHERE job = ?", job))
                    .as("the runs' counts of " + job).isEqualTo(ITEMS);
            List<Map<String, Object>> runs = rows(ds, "SELECT run_id, node, trigger_kind, status, items_taken,"
                    + " items_done FROM job_run WHERE job = ? AND items_taken > 0 ORDER BY run_id", job);
            assertThat(runs).as("runs of " + job).extracting(r -> r.get("node")).contains("node-1", "node-2");
            assertThat(runs).as("runs of " + job).extracting(r -> r.get("trigger_kind")).contains("join");
            assertThat(runs).as("runs of " + job).allSatisfy(r -> {
                assertThat(r.get("status")).isEqualTo("succeeded");
                assertThat(r.get("items_done")).isEqualTo(r.get("items_taken"));
            });
            assertThat(column(ds, "SELECT DISTINCT node FROM item_runs WHERE job = ?", job))
                    .as("nodes whose route ran items of " + job).containsExactlyInAnyOrder("node-1", "node-2");
        }
        // what the second job handed on is each item once, as the first job handed it on
        assertThat(column(ds, "SELECT data FROM job_state WHERE job = 'second' AND item_key = 'item-0042'"))
                .containsExactly("d42-first-second");
        // runs of the same job on the two nodes went at the same time
        assertThat(count(ds, """
                SELECT COUNT(*) FROM job_run a JOIN job_run b
                  ON a.job = b.job AND a.node <> b.node AND a.items_taken > 0 AND b.items_taken > 0
                 AND a.started_at < b.ended_at AND b.started_at < a.ended_at
                 WHERE a.job = 'first'""")).isPositive();
    }
}
