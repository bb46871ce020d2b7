package io.factoryrunner.cluster;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.util.GreenMail;
import io.factoryrunner.testsupport.ChildFactory;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import jakarta.mail.internet.MimeMessage;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Two nodes, each the factory's command line in a JVM of its own, on one real PostgreSQL, lose one of them in the
 * middle of a chunk and of programs: killed ({@code kill -9}), or frozen ({@code kill -STOP}) past
 * {@code factory.cluster.node-timeout} and thawed ({@code kill -CONT}). The other node takes over the lost node's run
 * and programs and finishes everything; no item is lost or done twice by a job, no finished program step runs again,
 * and one {@code node_lost} alert is mailed. A frozen node that comes back writes nothing over the survivor's work.
 */
class LostNodeTest {

    static final int ITEMS = 200;
    static final int CHUNK = 10;
    static final int PROGRAMS = 6;
    static final int STEPS = 4;

    /**
     * {@code work} takes 100 ms an item and says in the table {@code witness} which node ran each item, as it begins
     * (outside the chunk's transaction: a side effect such as an API call); {@code record} takes what it hands on.
     * Each program step takes a second and leaves a witness row too.
     */
    static final String ROUTES = """
            - route:
                id: work
                from:
                  uri: "job:work"
                  parameters:
                    cron: "{{job.work.cron}}"
                    chunkSize: %d
                    transaction: "{{job.work.transaction}}"
                  steps:
                    - to:
                        uri: "sql:INSERT INTO witness (job, item_key, node) VALUES ('work',\
                          :#${header.FactoryItemKey}, '{{factory.node.id}}')"
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
                    cron: "{{job.record.cron}}"
                    chunkSize: 50
                  steps:
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
            """.formatted(CHUNK);

    /** A node is lost after 5 s of silence; Quartz takes a node as gone after a second's check-in and its grace. */
    static final String SETTINGS = """
            factory.cluster.checkin-interval = 1000
            factory.cluster.node-timeout = 5s
            factory.node.stale-after = 5s
            job.work.cron = * * * * * ?
            job.record.cron = * * * * * ?
            job.work.transaction = %s
            program.workers = 2
            program.poll-interval = 200
            factory.mail.host = 127.0.0.1
            factory.mail.port = %d
            factory.alerts.to = ops@example.com
            factory.alerts.poll-interval = 200
            """;

    static final Pattern TAKEN_OVER = Pattern.compile(
            "node (node-[ab]) was lost \\(not seen for (\\d+) s\\); node (node-[ab]) took its run over");

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final GreenMail smtp = factory.mail();

    final List<ChildFactory> nodes = new ArrayList<>();
    DataSource ds;
    String token;

    @AfterEach
    void stopNodes() throws InterruptedException {
        for (ChildFactory node : nodes) {
            node.close();
        }
    }

    /**
     * {@code kill -9} of the node whose run is in the middle of a chunk and whose workers are in the middle of
     * programs: the survivor declares the run abandoned once the node has been silent for the node timeout, takes its
     * claimed items and programs back and finishes them; only what the dead node had not committed is done again.
     */
    @ParameterizedTest
    @ValueSource(strings = {"claim", "chunk"})
    void a_node_killed_mid_chunk_and_mid_program_is_taken_over_and_nothing_is_lost_or_done_twice(String transaction)
            throws Exception {
        startTwoNodes(transaction);
        Lost lost = loseTheWorkingNode(ChildFactory::kill);

        awaitEverythingDone();
        assertTakenOver(lost);
        assertNothingLostOrDoneTwice(lost);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'running' AND node = ?", lost.node().name()))
                .as("runs of the dead node still running").isZero();
        assertThat(lost.survivor().output()).contains("longer than factory.cluster.node-timeout; run " + lost.run()
                + " it held is declared abandoned");
    }

    /**
     * {@code kill -STOP} of the working node until the survivor has taken its run and programs over, then
     * {@code kill -CONT}: the thawed node's late chunk is refused and rolled back, it says so and stops that run, runs
     * no item or program step it no longer holds, and the survivor's results stand. The thawed node carries on.
     */
    @ParameterizedTest
    @ValueSource(strings = {"claim", "chunk"})
    void a_node_frozen_past_the_timeout_comes_back_to_find_its_writes_refused_and_nothing_doubled(String transaction)
            throws Exception {
        startTwoNodes(transaction);
        Lost lost = loseTheWorkingNode(ChildFactory::freeze);
        // the survivor has taken the run over and works on: items done in a run of its own, a program step of the
        // frozen node's done by it
        await().atMost(Duration.ofSeconds(90)).until(() -> count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work'"
                + " AND node = ? AND run_id > ? AND items_done > 0", lost.survivor().name(), lost.run()) > 0
                && count(ds, "SELECT COUNT(*) FROM program_event WHERE node = ? AND outcome = 'succeeded'",
                        lost.survivor().name()) > 0);
        lost.node().thaw();

        await().atMost(Duration.ofSeconds(60)).until(() -> lost.node().logged("Run " + lost.run()
                + " of job work is no longer running"));
        awaitEverythingDone();
        assertTakenOver(lost);
        assertNothingLostOrDoneTwice(lost);
        assertThat(rows(ds, "SELECT status FROM job_run WHERE run_id = ?", lost.run())).singleElement()
                .satisfies(r -> assertThat(r.get("status")).as("the frozen run, after its node came back")
                        .isEqualTo("abandoned"));
        // the thawed node is a node of the cluster again: it writes its heartbeat and runs the fires it takes
        lost.node().assertAlive();
        long thawedRuns = count(ds, "SELECT MAX(run_id) FROM job_run");
        await().atMost(Duration.ofSeconds(60)).until(() -> count(ds, "SELECT COUNT(*) FROM job_run WHERE node = ?"
                + " AND run_id > ? AND status = 'succeeded'", lost.node().name(), thawedRuns) > 0);
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_node WHERE node = ?"
                + " AND last_seen_at > CURRENT_TIMESTAMP - INTERVAL '5' SECOND", lost.node().name())).isEqualTo(1);
    }

    /** The node that lost its run, the node that took it over, the run, and what stood before the loss. */
    record Lost(ChildFactory node, ChildFactory survivor, long run, Set<String> doneBefore, Set<String> begunBefore,
            Set<String> stepsFinishedBefore, Set<String> stepsBegunBefore, Map<String, Integer> stepAtLoss) {
    }

    @FunctionalInterface
    interface Loss {
        void apply(ChildFactory node) throws Exception;
    }

    private void startTwoNodes(String transaction) throws Exception {
        Path dir = factory.dir();
        String url = TestDatabase.POSTGRESQL.newDatabase(dir);
        ds = dataSource(url);
        Sql.execute(ds, "CREATE TABLE witness (job VARCHAR(20), item_key VARCHAR(100), node VARCHAR(20),"
                + " at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)");
        Sql.execute(ds, "CREATE TABLE step_witness (run_id VARCHAR(36), step INTEGER, node VARCHAR(20),"
                + " at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP)");
        String settings = SETTINGS.formatted(transaction, factory.mailPort());
        for (String name : List.of("node-a", "node-b")) {
            ChildFactory node = ChildFactory.node(dir.resolve(name), name, url, Map.of("work.camel.yaml", ROUTES),
                    settings);
            nodes.add(node);
            // the first node makes the admin token; the other finds one and makes none
            await().atMost(Duration.ofSeconds(90)).until(() -> node.assertAlive().logged("Programs: 2 workers"));
        }
        token = Files.readString(dir.resolve("node-a/data/admin.token")).trim();
        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds, "SELECT COUNT(*) FROM qrtz_scheduler_state") == 2);
        // offered as a route's "to: job:work" does: a row per item in the job's inbox
        Sql.execute(ds, "INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)"
                + " SELECT 'work', 'item-' || LPAD(CAST(g AS VARCHAR), 3, '0'), 'v1', TRUE, 'x' || g,"
                + " CURRENT_TIMESTAMP FROM generate_series(1, " + ITEMS + ") g");
    }

    /**
     * Waits for a run of {@code work} to have committed a chunk and to be in the middle of the next, gives its node
     * the programs, waits for it to be in the middle of program steps too, and loses it.
     */
    private Lost loseTheWorkingNode(Loss loss) throws Exception {
        await().atMost(Duration.ofSeconds(60)).until(() -> count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work'"
                + " AND status = 'running' AND items_done >= " + CHUNK) == 1);
        Map<String, Object> run = rows(ds, "SELECT run_id, node FROM job_run WHERE job = 'work' AND status = 'running'")
                .get(0);
        long runId = ((Number) run.get("run_id")).longValue();
        ChildFactory node = nodes.stream().filter(n -> n.name().equals(run.get("node"))).findFirst().orElseThrow();
        ChildFactory survivor = nodes.stream().filter(n -> n != node).findFirst().orElseThrow();
        // submitted on the node, which claims them at once
        for (int i = 0; i < PROGRAMS; i++) {
            HttpResponse<String> answer = TestHttp.client().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + node.port() + "/api/programs"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"jobs\": " + "[\"step\", \"step\", \"step\", \"step\"]"
                            + "}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
        }
        // in the middle of a chunk (an item begun that is not done) and of a program step, with steps done before
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
                count(ds, "SELECT COUNT(*) FROM witness WHERE job = 'work'")
                        > count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'")
                && count(ds, "SELECT COUNT(*) FROM program_event WHERE outcome = 'succeeded' AND node = ?",
                        node.name()) >= 2
                && count(ds, "SELECT COUNT(*) FROM step_witness") > count(ds, "SELECT COUNT(*) FROM program_event"));
        loss.apply(node);
        assertThat(rows(ds, "SELECT status FROM job_run WHERE run_id = ?", runId)).singleElement()
                .satisfies(r -> assertThat(r.get("status")).as("run %d at the loss of %s", runId, node.name())
                        .isEqualTo("running"));
        assertThat(count(ds, "SELECT COUNT(*) FROM program WHERE status = 'running' AND claimed_by = ?", node.name()))
                .as("programs %s held at its loss", node.name()).isPositive();
        Map<String, Integer> stepAtLoss = new HashMap<>();
        for (Map<String, Object> p : rows(ds, "SELECT run_id, step FROM program")) {
            stepAtLoss.put((String) p.get("run_id"), ((Number) p.get("step")).intValue());
        }
        return new Lost(node, survivor, runId,
                new HashSet<>(Sql.column(ds, "SELECT item_key FROM job_state WHERE job = 'work' AND status = 'done'")),
                new HashSet<>(Sql.column(ds, "SELECT item_key FROM witness")),
                new HashSet<>(Sql.column(ds, "SELECT p.run_id || '/' || e.step FROM program_event e JOIN program p"
                        + " ON p.id = e.program_id WHERE e.outcome = 'succeeded'")),
                new HashSet<>(Sql.column(ds, "SELECT run_id || '/' || step FROM step_witness")), stepAtLoss);
    }

    private void awaitEverythingDone() {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() ->
                count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'") == ITEMS
                && count(ds, "SELECT COUNT(*) FROM program WHERE status = 'finished'") == PROGRAMS);
    }

    /** The lost node's run was declared abandoned by the survivor, after the node timeout, with one alert mailed. */
    private void assertTakenOver(Lost lost) throws Exception {
        String summary = (String) rows(ds, "SELECT error_summary FROM job_run WHERE run_id = ?", lost.run()).get(0)
                .get("error_summary");
        Matcher m = TAKEN_OVER.matcher(summary);
        assertThat(m.find()).as(summary).isTrue();
        assertThat(m.group(1)).isEqualTo(lost.node().name());
        assertThat(m.group(3)).isEqualTo(lost.survivor().name());
        assertThat(Long.parseLong(m.group(2))).as("silence before the run was taken over").isGreaterThanOrEqualTo(5);

        assertThat(rows(ds, "SELECT subject, fingerprint FROM alerts WHERE kind = 'node_lost'")).singleElement()
                .satisfies(r -> assertThat((String) r.get("subject")).contains("node " + lost.node().name() + " lost")
                        .contains(" of work taken over"));
        await().atMost(Duration.ofSeconds(30)).until(() -> smtp.getReceivedMessages().length > 0);
        List<String> subjects = new ArrayList<>();
        for (MimeMessage mail : smtp.getReceivedMessages()) {
            subjects.add(mail.getSubject());
        }
        assertThat(subjects).filteredOn(s -> s.contains(" lost: ")).singleElement().satisfies(s -> assertThat(s)
                .contains("node " + lost.node().name() + " lost: its run " + lost.run() + " of work taken over"));
        assertThat(smtp.getReceivedMessages()[0].getAllRecipients()).extracting(Object::toString)
                .containsExactly("ops@example.com");
    }

    /**
     * Every item done once by each job and counted once in the runs; an item run twice (a side effect made twice) only
     * when the lost node had begun it in the chunk it had not committed; every program finished with each step recorded once,
     * and a step run twice only when the lost node had begun it and not committed it.
     */
    private void assertNothingLostOrDoneTwice(Lost lost) throws Exception {
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
        List<Map<String, Object>> repeated = rows(ds, "SELECT item_key, COUNT(*) AS times FROM witness"
                + " GROUP BY item_key HAVING COUNT(*) > 1");
        assertThat(repeated).as("items run more than once").hasSizeLessThanOrEqualTo(CHUNK).allSatisfy(r -> {
            assertThat(((Number) r.get("times")).intValue()).as("runs of %s", r.get("item_key")).isEqualTo(2);
            assertThat(lost.doneBefore()).as("items done before the loss").doesNotContain((String) r.get("item_key"));
            assertThat(lost.begunBefore()).as("items under way at the loss").contains((String) r.get("item_key"));
        });
        assertThat(count(ds, "SELECT MAX(attempts) FROM job_state WHERE job = 'work'")).isLessThanOrEqualTo(2);

        for (Map<String, Object> p : rows(ds, "SELECT run_id FROM program")) {
            String runId = (String) p.get("run_id");
            assertThat(Sql.column(ds, "SELECT CAST(e.step AS VARCHAR(10)) FROM program_event e JOIN program p"
                    + " ON p.id = e.program_id WHERE p.run_id = ? AND e.outcome = 'succeeded' ORDER BY e.event_id",
                    runId)).as("steps of %s, each recorded once and in order", runId)
                    .containsExactly("0", "1", "2", "3");
        }
        assertThat(count(ds, "SELECT COUNT(DISTINCT run_id || '/' || step) FROM step_witness"))
                .isEqualTo(PROGRAMS * STEPS);
        for (Map<String, Object> w : rows(ds, "SELECT run_id, step, COUNT(*) AS times FROM step_witness"
                + " GROUP BY run_id, step HAVING COUNT(*) > 1")) {
            String step = w.get("run_id") + "/" + w.get("step");
            assertThat(((Number) w.get("times")).intValue()).as("runs of step %s", step).isEqualTo(2);
            assertThat(lost.stepsFinishedBefore()).as("steps finished before the loss").doesNotContain(step);
            assertThat(lost.stepsBegunBefore()).as("steps under way at the loss").contains(step);
            assertThat(((Number) w.get("step")).intValue()).as("step %s", step)
                    .isEqualTo(lost.stepAtLoss().get((String) w.get("run_id")));
        }
    }

    private static DataSource dataSource(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(TestDatabase.POSTGRESQL.user());
        ds.setPassword(TestDatabase.POSTGRESQL.password());
        return ds;
    }
}
