package io.factoryrunner.program;

import static io.factoryrunner.program.ProgramApiClient.events;
import static io.factoryrunner.program.ProgramApiClient.steps;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Programs as they run: retried where they failed, ended by an error, cancelled, stopped by hand, run side by side. */
class ProgramRunTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension()
            .settings(home -> home.route("programs.camel.yaml", ProgramRoutes.JOBS)
                    .property("program.poll-interval", "100")
                    .property("program.retry.backoff", "300")
                    .property("program.retry.exceptions", "java.util.ConcurrentModificationException"));

    ProgramApiClient api;
    int port;

    FactoryHome.Running start(FactoryHome home) throws Exception {
        port = home.withHttpServer();
        FactoryHome.Running running = factory.start(home);
        api = new ProgramApiClient(port, factory.dir());
        return running;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_retryable_failure_resumes_at_the_failed_job_with_the_progress_it_stored(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db).property("program.retry.backoff", "2s"))) {
            String runId = api.submit("""
                    {"jobs": ["collect", "pager", "collect"], "programData": {"failAt": 3},
                     "jobData": {"pager": {"currentPage": 0, "totalPages": 5}}}""");

            JsonNode waiting = api.awaitStatus(runId, "waiting");
            assertThat(steps(waiting)).containsExactly("collect:done", "pager:retrying", "collect:pending");
            assertThat(waiting.at("/program/stepRetryCount").asInt()).isEqualTo(1);
            assertThat(waiting.at("/program/errorMessage").asText())
                    .isEqualTo("RetryableException: page service busy at page 3");
            assertThat(waiting.at("/steps/1/jobData/currentPage").asInt()).isEqualTo(2);
            Instant failedAt = Instant.parse(waiting.at("/events/1/startedAt").asText());
            assertThat(Instant.parse(waiting.at("/program/nextAttemptAt").asText()))
                    .isAfterOrEqualTo(failedAt.plusSeconds(2));

            JsonNode done = api.awaitStatus(runId, "finished");
            assertThat(events(done)).containsExactly("0:collect:1:succeeded", "1:pager:1:retrying",
                    "1:pager:2:succeeded", "2:collect:1:succeeded");
            assertThat(done.at("/events/1/jobData/currentPage").asInt()).isEqualTo(2);
            assertThat(done.at("/events/1/error").asText()).contains("page service busy at page 3");
            assertThat(done.at("/events/2/jobData/currentPage").asInt()).isEqualTo(5);
            assertThat(done.at("/program/result").asText()).isEqualTo("|collect:|pager:5|collect:");
            // every page read once: the second attempt began where the first stopped
            for (int page = 1; page <= 5; page++) {
                assertThat(occurrences("read page " + page + " of " + runId)).as("page " + page).isEqualTo(1);
            }
            assertThat(Sql.rows(running.dataSource(), "SELECT step_retry_count, error_message FROM program"
                    + " WHERE run_id = ?", runId)).singleElement().satisfies(row -> {
                        assertThat(row.get("step_retry_count")).isEqualTo(0);
                        assertThat(row.get("error_message")).isNull();
                    });
            // a retry is not an error of the factory
            assertThat(Sql.count(running.dataSource(), "SELECT COUNT(*) FROM factory_error")).isZero();
            assertThat(MetricsScrape.value(scrape(), "factory_program_steps_total{job=\"pager\",outcome=\"retrying\"}"))
                    .isEqualTo(1.0);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_failure_of_a_listed_exception_is_retried_up_to_max_attempts_then_ends_the_program(TestDatabase db)
            throws Exception {
        try (var running = start(factory.home(db).property("program.retry.max-attempts", "3"))) {
            String runId = api.submit("{\"jobs\": [\"collect\", \"busy\", \"collect\"]}");
            JsonNode ended = api.awaitStatus(runId, "errored");
            assertThat(events(ended)).containsExactly("0:collect:1:succeeded", "1:busy:1:retrying",
                    "1:busy:2:retrying", "1:busy:3:failed");
            assertThat(steps(ended)).containsExactly("collect:done", "busy:failed", "collect:skipped");
            assertThat(ended.at("/program/errorMessage").asText()).isEqualTo("given up after 3 attempts:"
                    + " ConcurrentModificationException: ledger locked by another writer");
            // the waits grow: 300 ms, then 600 ms
            Instant first = Instant.parse(ended.at("/events/1/startedAt").asText());
            Instant third = Instant.parse(ended.at("/events/3/startedAt").asText());
            assertThat(Duration.between(first, third)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM factory_error WHERE job = 'busy'") == 1);
            assertThat(Sql.column(running.dataSource(), "SELECT message FROM factory_error"))
                    .singleElement().asString().contains("given up after 3 attempts").contains("ledger locked");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_permanent_failure_skips_the_remaining_jobs_and_records_an_error_with_its_alert(TestDatabase db)
            throws Exception {
        try (var running = start(factory.home(db))) {
            String runId = api.submit("""
                    {"jobs": ["collect", "refuse", "collect"], "programData": {"customer": "acme"}}""");
            JsonNode ended = api.awaitStatus(runId, "errored");
            assertThat(steps(ended)).containsExactly("collect:done", "refuse:failed", "collect:skipped");
            assertThat(events(ended)).containsExactly("0:collect:1:succeeded", "1:refuse:1:failed");
            assertThat(ended.at("/events/1/exception").asText()).isEqualTo("java.lang.IllegalStateException");
            assertThat(ended.at("/program/errorMessage").asText())
                    .isEqualTo("IllegalStateException: report template missing for acme");
            assertThat(ended.at("/program/erroredAt").isTextual()).isTrue();

            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM alerts WHERE kind = 'error_opened' AND job = 'refuse'") == 1);
            List<Map<String, Object>> errors = Sql.rows(running.dataSource(),
                    "SELECT job, route_id, category, exception_class, message FROM factory_error");
            assertThat(errors).singleElement().satisfies(row -> {
                assertThat(row.get("job")).isEqualTo("refuse");
                assertThat(row.get("route_id")).isEqualTo("program-refuse");
                assertThat(row.get("exception_class")).isEqualTo("java.lang.IllegalStateException");
                assertThat((String) row.get("message")).isEqualTo("report template missing for acme");
            });
            assertThat(Sql.column(running.dataSource(), "SELECT body FROM alerts WHERE job = 'refuse'"))
                    .singleElement().asString().contains("Program " + runId + " ended with an error at step 1")
                    .contains("/api/programs/" + runId);
            String metrics = scrape();
            assertThat(MetricsScrape.value(metrics, "factory_program_steps_total{job=\"refuse\",outcome=\"failed\"}"))
                    .isEqualTo(1.0);
            assertThat(MetricsScrape.value(metrics,
                    "factory_program_steps_total{job=\"collect\",outcome=\"succeeded\"}")).isEqualTo(1.0);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_cancelled_program_ends_the_step_under_way_and_starts_no_other(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db))) {
            String runId = api.submit("{\"jobs\": [\"slow\", \"collect\"], \"programData\": {\"waitMs\": 2000}}");
            api.awaitStatus(runId, "running");
            ProgramApiClient.Answer cancelled = api.post("/api/programs/" + runId + "/cancel",
                    "{\"note\": \"wrong customer\"}");
            assertThat(cancelled.status()).as(cancelled.raw().body()).isEqualTo(200);
            assertThat(api.status(runId)).isEqualTo("cancelled");

            // the worker sees the cancel once the slow step has ended, and lets go of the program
            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM program WHERE status = 'cancelled' AND claimed_by IS NULL") == 1);
            JsonNode ended = api.program(runId);
            assertThat(events(ended)).containsExactly("0:slow:1:succeeded");
            assertThat(steps(ended)).containsExactly("slow:done", "collect:skipped");
            assertThat(ended.at("/program/cancelledAt").isTextual()).isTrue();
            ProgramApiClient.Answer again = api.post("/api/programs/" + runId + "/cancel", null);
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.error()).contains("cancelled");
            assertThat(Sql.column(running.dataSource(), "SELECT note FROM factory_audit WHERE action ="
                    + " 'program-cancel' AND outcome = 'cancelled'")).containsExactly("wrong customer");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_program_cancelled_while_claimed_and_waiting_for_a_worker_runs_no_step(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db).property("program.workers", "1"))) {
            String busy = api.submit("{\"jobs\": [\"slow\"], \"programData\": {\"waitMs\": 2000}}");
            api.awaitStatus(busy, "running");
            String queued = api.submit("{\"jobs\": [\"collect\", \"collect\"]}");
            // claimed for this node's only worker, which is busy with the slow step
            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM program WHERE run_id = ? AND claimed_by IS NOT NULL", queued) == 1);
            assertThat(api.post("/api/programs/" + queued + "/cancel", null).status()).isEqualTo(200);

            api.awaitStatus(busy, "finished");
            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM program WHERE run_id = ? AND status = 'cancelled' AND claimed_by IS NULL",
                    queued) == 1);
            JsonNode cancelled = api.program(queued);
            assertThat(events(cancelled)).isEmpty();
            assertThat(steps(cancelled)).containsExactly("collect:skipped", "collect:skipped");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void errored_at_set_by_hand_stops_a_program_before_its_next_step(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db).property("program.retry.backoff", "1s"))) {
            String running1 = api.submit("{\"jobs\": [\"slow\", \"collect\", \"collect\"],"
                    + " \"programData\": {\"waitMs\": 1500}}");
            String retrying = api.submit("""
                    {"jobs": ["pager", "collect"], "programData": {"failAt": 1},
                     "jobData": {"pager": {"currentPage": 0, "totalPages": 2}}}""");
            api.awaitStatus(running1, "running");
            api.awaitStatus(retrying, "waiting");
            assertThat(Sql.execute(running.dataSource(), "UPDATE program SET errored_at = CURRENT_TIMESTAMP,"
                    + " error_message = 'stopped by hand' WHERE run_id IN (?, ?)", running1, retrying)).isEqualTo(2);

            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(running.dataSource(),
                    "SELECT COUNT(*) FROM program WHERE run_id = ? AND status = 'errored' AND claimed_by IS NULL",
                    running1) == 1);
            JsonNode first = api.program(running1);
            assertThat(first.at("/program/status").asText()).isEqualTo("errored");
            assertThat(events(first)).containsExactly("0:slow:1:succeeded");
            assertThat(steps(first)).containsExactly("slow:done", "collect:skipped", "collect:skipped");

            // the retry was due a second after the failure; it is never made: a program submitted once it is due,
            // which the queue takes after it (oldest due first), runs to its end while it stays as it was
            JsonNode second = api.program(retrying);
            Instant due = Instant.parse(second.at("/program/nextAttemptAt").asText());
            await().atMost(Duration.ofSeconds(30)).until(() -> Instant.now().isAfter(due));
            api.awaitStatus(api.submit("{\"jobs\": [\"collect\"]}"), "finished");
            assertThat(events(api.program(retrying))).containsExactly("0:pager:1:retrying");
            assertThat(steps(api.program(retrying))).containsExactly("pager:skipped", "collect:skipped");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void fifty_programs_run_side_by_side_by_the_configured_workers_each_in_order(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db).property("program.workers", "4"))) {
            List<String> runIds = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                runIds.add(api.submit("""
                        {"steps": [["collect", {"tag": "a%d"}], ["slow"], ["collect", {"tag": "b%d"}], ["collect"]],
                         "programData": {"waitMs": 50}}""".formatted(i, i)));
            }
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> Sql.count(
                    running.dataSource(), "SELECT COUNT(*) FROM program WHERE finished_at IS NOT NULL") == 50);
            List<long[]> slow = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                JsonNode p = api.program(runIds.get(i));
                assertThat(p.at("/program/result").asText()).isEqualTo("|collect:a" + i + "|slow|collect:b" + i
                        + "|collect:");
                assertThat(events(p)).containsExactly("0:collect:1:succeeded", "1:slow:1:succeeded",
                        "2:collect:1:succeeded", "3:collect:1:succeeded");
                long start = Instant.parse(p.at("/events/1/startedAt").asText()).toEpochMilli();
                long duration = p.at("/events/1/durationMs").asLong();
                // a millisecond off each end: the start is the wall clock's, the duration the monotonic clock's
                slow.add(new long[] {start + 1, start + duration - 1});
            }
            // the slow steps of different programs overlapped, never more of them than there are workers
            int most = 0;
            for (long[] a : slow) {
                int at = 0;
                for (long[] b : slow) {
                    if (b[0] <= a[0] && a[0] < b[1]) {
                        at++;
                    }
                }
                most = Math.max(most, at);
            }
            assertThat(most).isBetween(2, 4);
            assertThat(Sql.count(running.dataSource(), "SELECT COUNT(*) FROM program_event")).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_job_starts_another_program_which_runs_on_its_own(TestDatabase db) throws Exception {
        try (var running = start(factory.home(db))) {
            String parent = api.submit("{\"jobs\": [\"spawn\", \"collect\"]}");
            JsonNode done = api.awaitStatus(parent, "finished");
            // spawn leaves the new program's run id, and collect appends to it
            String childRunId = done.at("/program/result").asText().replace("|collect:", "");
            JsonNode spawned = api.awaitStatus(childRunId, "finished");
            assertThat(spawned.at("/program/result").asText()).isEqualTo("|collect:spawned");
            assertThat(spawned.at("/program/programData/from").asText()).isEqualTo("spawn");
            assertThat(spawned.at("/program/submittedBy").asText()).isEqualTo("program " + parent);
        }
    }

    @Test
    void on_a_shared_database_the_programs_of_a_silent_node_are_taken_over_at_their_step() throws Exception {
        try (var running = start(factory.home(TestDatabase.POSTGRESQL).property("factory.node.heartbeat", "500")
                .property("factory.node.stale-after", "2s"))) {
            // what a node that died in the middle of a program's second step leaves behind
            Sql.execute(running.dataSource(), "INSERT INTO factory_node (node, started_at, last_seen_at)"
                    + " VALUES ('ghost', CURRENT_TIMESTAMP - INTERVAL '1 hour',"
                    + " CURRENT_TIMESTAMP - INTERVAL '10 minutes')");
            Sql.execute(running.dataSource(), """
                    INSERT INTO program (run_id, program_data, jobs, step_arguments, job_data, step, last_result,
                                         status, next_attempt_at, claimed_by, claimed_at)
                    VALUES ('00000000-0000-4000-8000-000000000001', '{}', '["collect", "collect", "collect"]',
                            '[{"tag": "a"}, {"tag": "b"}, {"tag": "c"}]', '[{}, {}, {}]', 1, '"|collect:a"',
                            'running', CURRENT_TIMESTAMP, 'ghost', CURRENT_TIMESTAMP - INTERVAL '10 minutes')""");
            JsonNode done = api.awaitStatus("00000000-0000-4000-8000-000000000001", "finished");
            assertThat(done.at("/program/result").asText()).isEqualTo("|collect:a|collect:b|collect:c");
            assertThat(events(done)).containsExactly("1:collect:1:succeeded", "2:collect:1:succeeded");
            assertThat(done.at("/events/0/node").asText()).isEqualTo(running.app().node());
        }
    }

    private String scrape() throws Exception {
        HttpResponse<String> response = TestHttp.client().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/observe/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static long occurrences(String text) {
        Matcher m = Pattern.compile(Pattern.quote(text) + "\\b").matcher(CapturedLog.text());
        long n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    /** Reads one sample of the Prometheus text. */
    static final class MetricsScrape {
        static double value(String metrics, String sample) {
            Matcher m = Pattern.compile("^" + Pattern.quote(sample) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
            assertThat(m.find()).as("a line for " + sample + " in\n" + metrics).isTrue();
            return Double.parseDouble(m.group(1));
        }
    }
}
