package io.factoryrunner.program;

import static io.factoryrunner.program.ProgramApiClient.events;
import static io.factoryrunner.program.ProgramApiClient.steps;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.factoryrunner.CommandRun;
import io.factoryrunner.program.ProgramApiClient.Answer;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Programs submitted, started, listed and refused through the operator API, over HTTP. */
class ProgramApiTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension()
            .settings(home -> home.route("programs.camel.yaml", ProgramRoutes.JOBS));

    ProgramApiClient api;

    FactoryHome.Running start(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db);
        int port = home.withHttpServer();
        FactoryHome.Running running = factory.start(home);
        api = new ProgramApiClient(port, factory.dir());
        return running;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void both_forms_of_a_program_run_their_jobs_in_order_each_step_with_its_arguments(TestDatabase db)
            throws Exception {
        try (var running = start(db)) {
            String byJobs = api.submit("""
                    {"jobs": ["collect", "collect"], "programData": {"customer": "acme"},
                     "jobData": {"collect": {"seen": 1}}}""");
            String bySteps = api.submit("""
                    {"steps": [["collect", {"tag": "first"}], ["slow"], ["collect", {"tag": "third"}]],
                     "programData": {"waitMs": 10}}""");

            JsonNode first = api.awaitStatus(byJobs, "finished");
            assertThat(first.at("/program/result").asText()).isEqualTo("|collect:|collect:");
            assertThat(first.at("/program/programData/customer").asText()).isEqualTo("acme");
            assertThat(steps(first)).containsExactly("collect:done", "collect:done");
            assertThat(events(first)).containsExactly("0:collect:1:succeeded", "1:collect:1:succeeded");
            // each step starts from the job data submitted for its job
            assertThat(first.get("steps").findValuesAsText("seen")).containsExactly("1", "1");
            assertThat(first.at("/events/0/durationMs").isNumber()).isTrue();
            assertThat(first.at("/program/finishedAt").isTextual()).isTrue();

            JsonNode second = api.awaitStatus(bySteps, "finished");
            assertThat(second.at("/program/result").asText()).isEqualTo("|collect:first|slow|collect:third");
            assertThat(second.at("/events/2/arguments/tag").asText()).isEqualTo("third");
            assertThat(events(second)).containsExactly("0:collect:1:succeeded", "1:slow:1:succeeded",
                    "2:collect:1:succeeded");

            assertThat(Sql.rows(running.dataSource(), "SELECT step, step_retry_count, finished_at, errored_at FROM"
                    + " program WHERE run_id = ?", bySteps)).singleElement().satisfies(row -> {
                        assertThat(row.get("step")).isEqualTo(3);
                        assertThat(row.get("step_retry_count")).isEqualTo(0);
                        assertThat(row.get("finished_at")).isNotNull();
                        assertThat(row.get("errored_at")).isNull();
                    });
            assertThat(Sql.column(running.dataSource(), "SELECT target FROM factory_audit WHERE action ="
                    + " 'program-submit' ORDER BY audit_id")).containsExactly("program " + byJobs,
                    "program " + bySteps);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_program_added_without_start_waits_until_executed_and_lists_page_by_status(TestDatabase db)
            throws Exception {
        try (var running = start(db)) {
            String added = api.submit("{\"jobs\": [\"collect\"], \"start\": false}");
            List<String> finished = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                finished.add(api.submit("{\"jobs\": [\"collect\"]}"));
            }
            for (String runId : finished) {
                api.awaitStatus(runId, "finished");
            }
            assertThat(api.status(added)).isEqualTo("added");
            assertThat(steps(api.program(added))).containsExactly("collect:pending");

            JsonNode page1 = api.get("/api/programs?status=finished&limit=2").body();
            assertThat(page1.get("items").findValuesAsText("runId")).containsExactly(finished.get(2),
                    finished.get(1));
            JsonNode page2 = api.get("/api/programs?status=finished&limit=2&after=" + page1.get("next").asText())
                    .body();
            assertThat(page2.get("items").findValuesAsText("runId")).containsExactly(finished.get(0));
            assertThat(page2.get("next").isNull()).isTrue();
            assertThat(api.get("/api/programs?status=added").body().get("items").findValuesAsText("runId"))
                    .containsExactly(added);

            Answer executed = api.post("/api/programs/" + added + "/execute", null);
            assertThat(executed.status()).as(executed.raw().body()).isEqualTo(200);
            api.awaitStatus(added, "finished");
            Answer again = api.post("/api/programs/" + added + "/execute", null);
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.error()).contains(added).contains("finished");
        }
    }

    /** publish stores its progress, then fails while {@link Outage} is down (not a retryable failure). */
    static final String PUBLISH = """
            - route:
                id: program-publish
                from:
                  uri: "program:publish"
                  steps:
                    - bean:
                        ref: jobData
                        method: "set('prepared', 'yes')"
                    - bean:
                        beanType: "io.factoryrunner.program.Outage"
                        method: "check"
                    - setBody:
                        simple: "${body}|publish:${exchangeProperty.FactoryJobData[prepared]}"
            - route:
                id: program-held
                from:
                  uri: "program:held"
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.program.Outage"
                        method: "hold"
            """;

    /**
     * A program that errored at its second step is resumed there once the service is back, by the command line: the
     * first step is not run again, the second goes on with the job data it stored, and the program finishes. Only an
     * errored program can be resumed; a viewer cannot; an unknown one is a 404.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_errored_program_is_resumed_at_the_step_that_failed_with_the_progress_it_stored(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db).route("publish.camel.yaml", PUBLISH);
        int port = home.withHttpServer();
        Outage.down = true;
        try (var running = factory.start(home)) {
            api = new ProgramApiClient(port, factory.dir());
            String runId = api.submit("{\"jobs\": [\"collect\", \"publish\"]}");
            JsonNode errored = api.awaitStatus(runId, "errored");
            assertThat(events(errored)).containsExactly("0:collect:1:succeeded", "1:publish:1:failed");
            assertThat(errored.at("/program/errorMessage").asText()).contains("report service down");

            String path = "/api/programs/" + runId + "/resume";
            String viewer = api.post("/api/tokens", "{\"name\": \"wall\", \"role\": \"viewer\"}").body()
                    .get("token").asText();
            assertThat(api.call("POST", path, null, viewer).status()).isEqualTo(403);
            assertThat(api.post("/api/programs/no-such-run/resume", null).status()).isEqualTo(404);
            CommandRun listed = cli(port, "programs", "--status", "errored");
            assertThat(listed.code()).as(listed.err()).isZero();
            assertThat(listed.out().lines().skip(1).toList()).singleElement().asString().startsWith(runId + " ")
                    .contains("errored").contains("collect,publish").contains("publish (2 of 2)")
                    .contains("report service down");

            Outage.down = false;
            CommandRun resumed = cli(port, "program-resume", runId, "--note", "report service back");
            assertThat(resumed.code()).as(resumed.err()).isZero();
            assertThat(resumed.out()).isEqualTo("Program " + runId + " is waiting\n");
            JsonNode finished = api.awaitStatus(runId, "finished");
            assertThat(events(finished)).containsExactly("0:collect:1:succeeded", "1:publish:1:failed",
                    "1:publish:1:succeeded");
            assertThat(finished.at("/program/result").asText()).isEqualTo("|collect:|publish:yes");
            assertThat(finished.at("/program/erroredAt").isNull()).isTrue();
            assertThat(Sql.rows(running.dataSource(), "SELECT note, outcome FROM factory_audit WHERE action ="
                    + " 'program-resume'")).singleElement().satisfies(row -> {
                        assertThat(row.get("note")).isEqualTo("report service back");
                        assertThat(row.get("outcome")).isEqualTo("resumed");
                    });

            Answer again = api.post(path, null);
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.error()).isEqualTo("Program " + runId + " is finished; only an errored program can be"
                    + " resumed");
            CommandRun refused = cli(port, "program-resume", runId);
            assertThat(refused.code()).isEqualTo(1);
            assertThat(refused.err()).startsWith("409: Program " + runId + " is finished");
        } finally {
            Outage.down = false;
        }
    }

    /**
     * A program errored by hand (errored_at set) while its step runs is not resumed until that step has ended, with a
     * 409 that says so; then it is, and goes on from the step after it.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_program_errored_by_hand_is_resumed_only_once_its_step_under_way_has_ended(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db).route("publish.camel.yaml", PUBLISH);
        int port = home.withHttpServer();
        Outage.held = new CountDownLatch(1);
        try (var running = factory.start(home)) {
            api = new ProgramApiClient(port, factory.dir());
            String runId = api.submit("{\"jobs\": [\"held\", \"collect\"]}");
            api.awaitStatus(runId, "running");
            Sql.execute(running.dataSource(), "UPDATE program SET errored_at = CURRENT_TIMESTAMP, error_message ="
                    + " 'stopped by hand' WHERE run_id = ?", runId);

            Answer early = api.post("/api/programs/" + runId + "/resume", null);
            assertThat(early.status()).isEqualTo(409);
            assertThat(early.error()).isEqualTo("Program " + runId + " is errored but its step is still under way;"
                    + " resume it once the step has ended");

            Outage.held.countDown();
            // the worker lets it go once the step has ended
            await().atMost(Duration.ofSeconds(60)).until(() -> Sql.column(running.dataSource(),
                    "SELECT status FROM program WHERE run_id = ?", runId).equals(List.of("errored")));
            Answer resumed = api.post("/api/programs/" + runId + "/resume", null);
            assertThat(resumed.status()).as(resumed.raw().body()).isEqualTo(200);
            JsonNode finished = api.awaitStatus(runId, "finished");
            assertThat(events(finished)).containsExactly("0:held:1:succeeded", "1:collect:1:succeeded");
        } finally {
            Outage.held.countDown();
        }
    }

    /** An operator command against this factory, as a user runs it. */
    private CommandRun cli(int port, String... args) {
        return CommandRun.operator(factory.dir(), "http://127.0.0.1:" + port, args);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void malformed_programs_and_unknown_jobs_are_refused_with_400s_that_name_the_problem(TestDatabase db)
            throws Exception {
        try (var running = start(db)) {
            Answer unknown = api.post("/api/programs", "{\"jobs\": [\"collect\", \"send_report\", \"nope\"]}");
            assertThat(unknown.status()).isEqualTo(400);
            assertThat(unknown.error()).contains("'send_report', 'nope'")
                    .contains("busy, collect, pager, refuse, slow, spawn");
            assertThat(unknown.body().at("/detail/unknownJobs").findValuesAsText("")).isEmpty();
            assertThat(unknown.body().at("/detail/unknownJobs/0").asText()).isEqualTo("send_report");

            assertRefused("{\"jobs\": [\"collect\"", "not valid JSON");
            assertRefused("[\"collect\"]", "must be a JSON object");
            assertRefused("{}", "needs 'jobs'");
            assertRefused("{\"jobs\": []}", "'jobs' must be a non-empty list of job names; got an empty list");
            assertRefused("{\"jobs\": [\"collect\", 7]}", "'jobs[1]' must be a job's name; got the number 7");
            assertRefused("{\"jobs\": [\"collect\"], \"steps\": [[\"collect\"]]}", "not both");
            assertRefused("{\"steps\": [[\"collect\", {}, 3]]}", "'steps[0]' must be [job] or [job, {arguments}]");
            assertRefused("{\"steps\": [[\"collect\", [1]]]}", "'steps[0][1]' (the step's arguments) must be a JSON"
                    + " object; got a list");
            assertRefused("{\"jobs\": [\"collect\"], \"programData\": \"acme\"}",
                    "'programData' must be a JSON object; got the string \"acme\"");
            assertRefused("{\"jobs\": [\"collect\"], \"jobData\": {\"pager\": {}}}",
                    "'jobData' names job 'pager', which the program does not run");
            assertRefused("{\"jobs\": [\"collect\"], \"jobData\": {\"collect\": 5}}",
                    "'jobData.collect' must be a JSON object");
            assertRefused("{\"jobs\": [\"collect\"], \"start\": \"no\"}", "'start' must be true or false");
            assertRefused("{\"jobs\": [\"collect\"], \"priority\": 1, \"owner\": \"x\"}",
                    "Unknown fields 'priority', 'owner'");

            Answer badStatus = api.get("/api/programs?status=done");
            assertThat(badStatus.status()).isEqualTo(400);
            assertThat(badStatus.error()).contains("'status'").contains("'done'");
            assertThat(api.get("/api/programs?limit=0").status()).isEqualTo(400);
            assertThat(Sql.count(running.dataSource(), "SELECT COUNT(*) FROM program")).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void reading_needs_a_viewer_acting_needs_an_operator_and_an_unknown_run_id_is_404(TestDatabase db)
            throws Exception {
        try (var running = start(db)) {
            String viewer = api.post("/api/tokens", "{\"name\": \"watcher\", \"role\": \"viewer\"}").body()
                    .get("token").asText();
            String operator = api.post("/api/tokens", "{\"name\": \"ops\", \"role\": \"operator\"}").body()
                    .get("token").asText();
            String program = "{\"jobs\": [\"collect\"], \"start\": false}";

            assertThat(api.call("POST", "/api/programs", program, null).status()).isEqualTo(401);
            assertThat(api.call("GET", "/api/programs", null, "fr_unknown").status()).isEqualTo(401);
            Answer refused = api.call("POST", "/api/programs", program, viewer);
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.error()).contains("watcher").contains("viewer").contains("operator");

            Answer submitted = api.call("POST", "/api/programs", program, operator);
            assertThat(submitted.status()).isEqualTo(201);
            String runId = submitted.body().get("runId").asText();
            assertThat(api.call("GET", "/api/programs/" + runId, null, viewer).status()).isEqualTo(200);
            assertThat(api.call("GET", "/api/programs", null, viewer).status()).isEqualTo(200);
            assertThat(api.call("GET", "/api/program-jobs", null, viewer).status()).isEqualTo(200);
            assertThat(api.call("POST", "/api/programs/" + runId + "/execute", null, viewer).status())
                    .isEqualTo(403);
            assertThat(api.call("POST", "/api/programs/" + runId + "/cancel", null, viewer).status()).isEqualTo(403);
            assertThat(api.call("POST", "/api/programs/" + runId + "/cancel", null, operator).status())
                    .isEqualTo(200);
            assertThat(api.status(runId)).isEqualTo("cancelled");

            String nobody = "0b7e6c1e-1111-4222-8333-944455556666";
            for (Answer missing : List.of(api.get("/api/programs/" + nobody),
                    api.post("/api/programs/" + nobody + "/execute", null),
                    api.post("/api/programs/" + nobody + "/cancel", null))) {
                assertThat(missing.status()).isEqualTo(404);
                assertThat(missing.error()).contains(nobody);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_job_library_lists_each_program_job_with_its_file_and_description(TestDatabase db) throws Exception {
        try (var running = start(db)) {
            JsonNode jobs = api.get("/api/program-jobs").body().get("jobs");
            assertThat(jobs.findValuesAsText("name")).containsExactly("busy", "collect", "pager", "refuse", "slow",
                    "spawn");
            JsonNode collect = jobs.get(1);
            assertThat(collect.get("file").asText()).isEqualTo("config/routes/programs.camel.yaml");
            assertThat(collect.get("route").asText()).isEqualTo("program-collect");
            assertThat(collect.get("description").asText()).contains("argument tag");
            assertThat(collect.get("running").asBoolean()).isTrue();
            JsonNode openapi = api.get("/api/openapi.json").body();
            assertThat(openapi.at("/paths").has("/api/programs")).isTrue();
            assertThat(openapi.at("/paths").has("/api/programs/{runId}/cancel")).isTrue();
        }
    }

    private void assertRefused(String body, String expected) throws Exception {
        Answer answer = api.post("/api/programs", body);
        assertThat(answer.status()).as(body).isEqualTo(400);
        assertThat(answer.error()).as(body).contains(expected);
    }
}
