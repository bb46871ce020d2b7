package io.factoryrunner.cluster;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.testsupport.ChildFactory;
import io.factoryrunner.testsupport.ClusterNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes, each the factory's command line in a JVM of its own, on one real PostgreSQL with
 * {@code factory.cluster.enabled = true}: a job on a cron of every second runs once per fire in the whole cluster,
 * and no node records a skipped run for a fire another node took; {@code GET /api/nodes} lists the three.
 */
class ThreeNodesTest {

    static final String TICK = """
            - route:
                id: tick
                from:
                  uri: "job:tick"
                  parameters:
                    cron: "{{job.tick.cron}}"
                  steps:
                    - log: "tick ${header.FactoryItemKey}"
            """;

    static final ObjectMapper JSON = new ObjectMapper();

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
    void each_fire_of_a_job_runs_once_across_three_nodes_and_no_node_records_a_skipped_run() throws Exception {
        cluster = new ClusterNodes(dir);
        List<ChildFactory> nodes = new ArrayList<>();
        for (String name : List.of("node-1", "node-2", "node-3")) {
            nodes.add(cluster.start(name, Map.of("tick.camel.yaml", TICK), "job.tick.cron = * * * * * ?\n"));
            if (nodes.size() == 1) {
                // the first node makes the admin token; the others find one and make none
                Path token = cluster.home("node-1").resolve("data/admin.token");
                await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(token));
            }
        }
        DataSource ds = cluster.dataSource();
        await().atMost(Duration.ofSeconds(90)).until(() -> count(ds,
                "SELECT COUNT(*) FROM qrtz_scheduler_state") == 3);
        Instant from = cluster.databaseNow();

        // about 30 fires with all three nodes up
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofSeconds(1))
                .until(() -> Duration.between(from, cluster.databaseNow()).toSeconds() >= 30);
        Instant to = cluster.databaseNow();

        List<Map<String, Object>> runs = rows(ds, """
                SELECT run_id, node, status, started_at FROM job_run
                 WHERE job = 'tick' AND started_at >= ? AND started_at < ? ORDER BY started_at""",
                Timestamp.from(from), Timestamp.from(to));
        String seen = runs.toString();
        assertThat(rows(ds, "SELECT run_id, node, trigger_kind, started_at, error_summary FROM job_run"
                + " WHERE job = 'tick' AND status = 'skipped'")).as("skipped runs").isEmpty();
        assertThat(rows(ds, "SELECT run_id, node, started_at, error_summary FROM job_run"
                + " WHERE job = 'tick' AND trigger_kind <> 'schedule'")).as("runs of no fire").isEmpty();
        assertThat(runs).as("every run succeeded").allSatisfy(r -> assertThat(r.get("status"))
                .isIn("succeeded", "running"));
        // one run per second of the window: a fire taken by every node would make three
        long seconds = Duration.between(from, to).toSeconds();
        assertThat((long) runs.size()).as(seen).isBetween(seconds - 1, seconds + 1);
        // a fire run twice would be two runs of the same second
        assertThat(runs.stream().map(r -> ((Timestamp) r.get("started_at")).toInstant().getEpochSecond())
                .distinct().count()).as(seen).isGreaterThanOrEqualTo(runs.size() - 1L);
        assertThat(runs.stream().map(r -> r.get("node")).distinct()).as("nodes that ran the job: " + seen)
                .isNotEmpty().allSatisfy(n -> assertThat(n).isIn("node-1", "node-2", "node-3"));

        JsonNode answer = JSON.readTree(nodes.get(1).get("/api/nodes",
                Files.readString(cluster.home("node-1").resolve("data/admin.token")).trim()));
        assertThat(answer.get("nodes")).extracting(n -> n.get("node").asText() + " " + n.get("status").asText())
                .containsExactly("node-1 up", "node-2 up", "node-3 up");
        answer.get("nodes").forEach(n -> {
            assertThat(n.get("version").asText()).isNotBlank().isNotEqualTo("unknown");
            assertThat(n.get("silentForSeconds").asLong()).isLessThan(30);
            assertThat(n.get("startedAt").asText()).isNotBlank();
            assertThat(n.get("clockOffsetMs").asLong()).isBetween(-1000L, 1000L);
        });
    }
}
