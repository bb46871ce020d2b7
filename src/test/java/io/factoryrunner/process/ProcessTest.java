package io.factoryrunner.process;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.factoryrunner.CommandRun;
import io.factoryrunner.StartupException;
import io.factoryrunner.cleanup.Housekeeping;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Processes of HTTP activities, started and read through the operator API, against WireMock activities. */
class ProcessTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final WireMockServer api = factory.api();

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = TestHttp.client();

    record Answer(int status, JsonNode body, HttpResponse<String> raw) {
    }

    String base;
    String token;

    /** A factory on its own database serving HTTP, with the given configuration file. */
    FactoryHome.Running start(TestDatabase db, String properties) throws Exception {
        FactoryHome home = factory.home(db).applicationProperties(properties);
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        FactoryHome.Running running = factory.start(home);
        token = Files.readString(factory.dir().resolve("data/admin.token")).trim();
        return running;
    }

    Answer call(String method, String path, String body, String bearer) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (bearer != null) {
            request.header("Authorization", "Bearer " + bearer);
        }
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = response.body().isBlank() ? null : JSON.readTree(response.body());
        return new Answer(response.statusCode(), json, response);
    }

    Answer get(String path) throws Exception {
        return call("GET", path, null, token);
    }

    /** Starts a run of the process; its id. */
    long startRun(String process, String body) throws Exception {
        Answer started = call("POST", "/api/processes/" + process + "/start", body, token);
        assertThat(started.status()).as(started.raw().body()).isEqualTo(201);
        long runId = started.body().get("runId").asLong();
        assertThat(started.raw().headers().firstValue("Location"))
                .hasValue("/api/processes/" + process + "/runs/" + runId);
        return runId;
    }

    /** Waits for the run to end; the run and its tasks as the API shows them. */
    JsonNode awaitEnd(String process, long runId) {
        JsonNode[] run = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            run[0] = get("/api/processes/" + process + "/runs/" + runId).body();
            return List.of("done", "done_with_errors").contains(run[0].at("/run/status").asText());
        });
        return run[0];
    }

    /** An operator command against this factory, as a user runs it. */
    CommandRun cli(String... args) {
        return CommandRun.operator(factory.dir(), base, args);
    }

    String url(String path) {
        return "http://127.0.0.1:" + api.port() + path;
    }

    /** An activity's answer: its data and the activities to call next. */
    String answer(String data, String... next) {
        ObjectNode answer = JSON.createObjectNode();
        if (data != null) {
            answer.set("data", read(data));
        }
        if (next.length > 0) {
            ArrayNode definitions = answer.putObject("next_activities").putArray("definitions");
            for (String name : next) {
                definitions.addObject().put("name", name).put("url", url("/" + name));
            }
        }
        return answer.toString();
    }

    static JsonNode read(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Map<String, JsonNode> byName(JsonNode tasks) {
        Map<String, JsonNode> named = new HashMap<>();
        tasks.forEach(t -> named.put(t.get("name").asText(), t));
        return named;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void five_next_activities_are_called_in_parallel_with_the_start_activitys_data(TestDatabase db)
            throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer("{\"step\": \"started\"}", "b1", "b2", "b3", "b4",
                "b5"))));
        for (int i = 1; i <= 5; i++) {
            api.stubFor(post("/b" + i).willReturn(okJson(answer("{\"branch\": " + i + "}")).withFixedDelay(2000)));
        }
        try (var running = start(db, "process.fan.start-url = http://127.0.0.1:{{api.port}}/start\n")) {
            long runId = startRun("fan", "{\"key\": \"order-7\", \"data\": {\"amount\": 12}, \"requestor\":"
                    + " \"shop\"}");
            JsonNode run = awaitEnd("fan", runId);

            assertThat(run.at("/run/status").asText()).isEqualTo("done");
            assertThat(run.at("/run/tasks").asInt()).isEqualTo(6);
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            long startTask = tasks.get("start").get("taskId").asLong();
            assertThat(tasks.get("start").get("parentTaskId").isNull()).isTrue();
            assertThat(tasks.get("start").at("/output/data/step").asText()).isEqualTo("started");
            Instant lastStart = Instant.MIN;
            Instant firstEnd = Instant.MAX;
            for (int i = 1; i <= 5; i++) {
                JsonNode branch = tasks.get("b" + i);
                assertThat(branch.get("status").asText()).isEqualTo("done");
                assertThat(branch.get("parentTaskId").asLong()).isEqualTo(startTask);
                assertThat(branch.get("url").asText()).isEqualTo(url("/b" + i));
                assertThat(branch.at("/output/data/branch").asInt()).isEqualTo(i);
                Instant started = Instant.parse(branch.get("startedAt").asText());
                Instant ended = Instant.parse(branch.get("endedAt").asText());
                assertThat(Duration.between(started, ended)).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
                lastStart = started.isAfter(lastStart) ? started : lastStart;
                firstEnd = ended.isBefore(firstEnd) ? ended : firstEnd;
                // the branch got the data the start activity answered, and the run's key and requestor
                api.verify(1, postRequestedFor(urlEqualTo("/b" + i))
                        .withRequestBody(matchingJsonPath("$.data.step", equalTo("started")))
                        .withRequestBody(matchingJsonPath("$.key", equalTo("order-7")))
                        .withRequestBody(matchingJsonPath("$.requestor", equalTo("shop")))
                        .withRequestBody(matchingJsonPath("$.process_run_id", equalTo(String.valueOf(runId))))
                        .withRequestBody(matchingJsonPath("$.task_id", equalTo(branch.get("taskId").asText()))));
            }
            // every branch had started before the first one ended: they ran side by side
            assertThat(lastStart).isBefore(firstEnd);
            api.verify(1, postRequestedFor(urlEqualTo("/start"))
                    .withRequestBody(matchingJsonPath("$.data.amount", equalTo("12")))
                    .withHeader("Content-Type", equalTo("application/json")));

            // the task rows say the same as the API
            List<Map<String, Object>> rows = rows(running.dataSource(), "SELECT status, started_at, ended_at"
                    + " FROM process_task WHERE run_id = ? AND parent_task_id IS NOT NULL", runId);
            assertThat(rows).hasSize(5).allSatisfy(r -> assertThat(r.get("status")).isEqualTo("done"));

            JsonNode processes = get("/api/processes").body().get("processes");
            assertThat(processes.findValuesAsText("name")).containsExactly("fan");
            assertThat(processes.get(0).at("/lastRun/runId").asLong()).isEqualTo(runId);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void failing_branches_are_recorded_and_alerted_once_while_the_others_finish(TestDatabase db) throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer(null, "refused", "garbled", "slow", "fine"))));
        api.stubFor(post("/refused").willReturn(aResponse().withStatus(500)
                .withBody("{\"error\": \"ledger closed\"}")));
        api.stubFor(post("/garbled").willReturn(aResponse().withStatus(200).withBody("<html>not json</html>")));
        api.stubFor(post("/slow").willReturn(okJson("{}").withFixedDelay(5000)));
        api.stubFor(post("/fine").willReturn(okJson(answer(null, "after-fine"))));
        api.stubFor(post("/after-fine").willReturn(okJson("{}")));
        try (var running = start(db, """
                process.split.start-url = http://127.0.0.1:{{api.port}}/start
                process.split.timeout = 1s
                """)) {
            long runId = startRun("split", "{\"key\": \"k1\"}");
            JsonNode run = awaitEnd("split", runId);

            assertThat(run.at("/run/status").asText()).isEqualTo("done_with_errors");
            assertThat(run.at("/run/failedTasks").asInt()).isEqualTo(3);
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            assertThat(tasks.get("fine").get("status").asText()).isEqualTo("done");
            assertThat(tasks.get("after-fine").get("status").asText()).isEqualTo("done");
            JsonNode refused = tasks.get("refused");
            assertThat(refused.get("status").asText()).isEqualTo("error");
            assertThat(refused.get("httpStatus").asInt()).isEqualTo(500);
            assertThat(refused.get("error").asText()).contains("HTTP 500").contains("ledger closed");
            assertThat(tasks.get("garbled").get("error").asText()).contains("not valid JSON");
            assertThat(tasks.get("garbled").get("output").asText()).isEqualTo("<html>not json</html>");
            assertThat(tasks.get("slow").get("error").asText()).containsIgnoringCase("timed out");

            DataSource ds = running.dataSource();
            Map<String, Object> error = rows(ds, "SELECT * FROM factory_error WHERE error_id = ?",
                    refused.get("errorId").asLong()).get(0);
            assertThat(error.get("route_id")).isEqualTo("process:split");
            assertThat(error.get("category")).isEqualTo("http_api");
            assertThat(error.get("http_method")).isEqualTo("POST");
            assertThat(error.get("http_url")).isEqualTo(url("/refused"));
            assertThat(error.get("http_status")).isEqualTo(500);
            assertThat((String) error.get("http_response")).contains("ledger closed");
            assertThat((String) error.get("message")).startsWith("Process split run " + runId + ", task "
                    + refused.get("taskId").asText() + " (refused): HTTP 500");
            Map<String, Object> garbled = rows(ds, "SELECT * FROM factory_error WHERE error_id = ?",
                    tasks.get("garbled").get("errorId").asLong()).get(0);
            assertThat(garbled.get("http_status")).isEqualTo(200);
            assertThat((String) garbled.get("http_response")).contains("not json");
            Map<String, Object> slow = rows(ds, "SELECT * FROM factory_error WHERE error_id = ?",
                    tasks.get("slow").get("errorId").asLong()).get(0);
            assertThat(slow.get("http_url")).isEqualTo(url("/slow"));
            assertThat(slow.get("http_status")).isNull();

            // three failures in one run: one fingerprint, one alert
            assertThat(count(ds, "SELECT COUNT(DISTINCT fingerprint) FROM factory_error WHERE route_id ="
                    + " 'process:split'")).isEqualTo(1);
            List<Map<String, Object>> alerts = rows(ds, "SELECT kind, subject, body FROM alerts");
            assertThat(alerts).hasSize(1);
            assertThat(alerts.get(0).get("kind")).isEqualTo("error_opened");
            assertThat((String) alerts.get(0).get("body")).contains("/api/processes/split/runs/" + runId);

            // a second run that fails is alerted on its own
            long second = startRun("split", "{\"key\": \"k2\"}");
            awaitEnd("split", second);
            assertThat(count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'error_opened'")).isEqualTo(2);

            String metrics = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/observe/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("factory_process_tasks_total{process=\"split\",status=\"done\"} 6.0")
                    .contains("factory_process_tasks_total{process=\"split\",status=\"error\"} 6.0");
        }
    }

    /**
     * Once the activity that failed is mended, an operator calls the run's failed tasks again: each is called with
     * the input it had, its answer's next activities go on from there, and the run ends done; the first failure stays
     * in the error table and the retry in the audit. A run with no task in error, an unknown run, a bad note and a
     * viewer get clear answers and change nothing.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_operator_calls_the_failed_tasks_of_a_run_again_once_the_activity_is_mended(TestDatabase db)
            throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer("{\"order\": 7}", "export", "score"))));
        api.stubFor(post("/export").willReturn(aResponse().withStatus(503).withBody("ledger closed")));
        api.stubFor(post("/score").willReturn(okJson("{}")));
        api.stubFor(post("/notify").willReturn(okJson("{}")));
        try (var running = start(db, "process.orders.start-url = http://127.0.0.1:{{api.port}}/start\n")) {
            DataSource ds = running.dataSource();
            long runId = startRun("orders", "{\"key\": \"o-7\"}");
            JsonNode failed = awaitEnd("orders", runId);
            assertThat(failed.at("/run/status").asText()).isEqualTo("done_with_errors");
            JsonNode export = byName(failed.get("tasks")).get("export");
            long errorId = export.get("errorId").asLong();
            String path = "/api/processes/orders/runs/" + runId + "/retry";

            String viewer = call("POST", "/api/tokens", "{\"name\": \"watcher\", \"role\": \"viewer\"}", token)
                    .body().get("token").asText();
            assertThat(call("POST", path, null, viewer).status()).isEqualTo(403);
            assertBadRequest(call("POST", path, "{\"note\": 5}", token), "'note'");
            Answer unknown = call("POST", "/api/processes/orders/runs/999999/retry", null, token);
            assertThat(unknown.status()).isEqualTo(404);
            assertThat(unknown.body().get("error").asText()).contains("999999");
            assertThat(get("/api/processes/orders/runs/" + runId).body().at("/run/status").asText())
                    .isEqualTo("done_with_errors");

            // the command line finds the run, and calls its failed task again once export is mended (it answers
            // now, and names one more activity)
            CommandRun listed = cli("process-runs", "orders", "--status", "done_with_errors");
            assertThat(listed.code()).as(listed.err()).isZero();
            assertThat(listed.out().lines().toList()).hasSize(2).first().asString().startsWith("RUN").contains("FAILED");
            assertThat(listed.out().lines().skip(1).findFirst().orElseThrow()).startsWith(runId + " ").contains("o-7");
            assertThat(cli("processes").out()).contains("orders").contains("done_with_errors");
            api.stubFor(post("/export").willReturn(okJson(answer("{\"exported\": true}", "notify"))));
            CommandRun retried = cli("process-retry", "orders", String.valueOf(runId), "--note", "ledger reopened");
            assertThat(retried.code()).as(retried.err()).isZero();
            assertThat(retried.out()).isEqualTo("Run " + runId + " of process orders: 1 failed task scheduled again ["
                    + export.get("taskId").asLong() + "]\n");
            JsonNode run = awaitEnd("orders", runId);
            assertThat(run.at("/run/status").asText()).isEqualTo("done");
            assertThat(run.at("/run/failedTasks").asInt()).isZero();
            assertThat(run.at("/run/tasks").asInt()).isEqualTo(4);
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            assertThat(tasks.get("export").get("status").asText()).isEqualTo("done");
            assertThat(tasks.get("export").get("attempts").asInt()).isEqualTo(2);
            assertThat(tasks.get("export").get("errorId").isNull()).isTrue();
            assertThat(tasks.get("notify").get("status").asText()).isEqualTo("done");
            assertThat(tasks.get("notify").get("parentTaskId").asLong())
                    .isEqualTo(tasks.get("export").get("taskId").asLong());
            // called again with the input it had the first time; start and score are not called again
            List<LoggedRequest> exports = api.findAll(postRequestedFor(urlEqualTo("/export")));
            assertThat(exports).hasSize(2);
            assertThat(read(exports.get(1).getBodyAsString()).get("data"))
                    .isEqualTo(read(exports.get(0).getBodyAsString()).get("data")).isEqualTo(read("{\"order\": 7}"));
            api.verify(1, postRequestedFor(urlEqualTo("/start")));
            api.verify(1, postRequestedFor(urlEqualTo("/score")));
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error WHERE error_id = " + errorId)).isEqualTo(1);
            JsonNode audit = get("/api/audit?action=process-retry").body().get("items");
            assertThat(audit).singleElement().satisfies(a -> {
                assertThat(a.get("target").asText()).isEqualTo("process orders run " + runId);
                assertThat(a.get("note").asText()).isEqualTo("ledger reopened");
            });

            // nothing left in error: a second retry is refused
            Answer again = call("POST", path, null, token);
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.body().get("error").asText()).contains("Run " + runId).contains("no task in error");
            CommandRun refused = cli("process-retry", "orders", String.valueOf(runId));
            assertThat(refused.code()).isEqualTo(1);
            assertThat(refused.err()).startsWith("409: Run " + runId + " of process orders has no task in error");
            assertThat(cli("process-retry", "orders").code()).isEqualTo(2);
            api.verify(2, postRequestedFor(urlEqualTo("/export")));

            JsonNode openapi = call("GET", "/api/openapi.json", null, null).body();
            assertThat(openapi.get("paths").has("/api/processes/{name}/runs/{id}/retry")).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void next_activities_nest_each_getting_the_data_its_parent_answered(TestDatabase db) throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer("{\"level\": 1}", "a"))));
        api.stubFor(post("/a").willReturn(okJson(answer("{\"level\": 2}", "b", "c"))));
        api.stubFor(post("/b").willReturn(okJson(answer("{\"level\": 3}", "d"))));
        // c gives no data: its next activities would get the data it was given; it names none
        api.stubFor(post("/c").willReturn(aResponse().withStatus(204)));
        api.stubFor(post("/d").willReturn(okJson("{\"done\": true}")));
        try (var running = start(db, "process.deep.start-url = http://127.0.0.1:{{api.port}}/start\n")) {
            long runId = startRun("deep", "{\"key\": \"x\", \"data\": [1, 2]}");
            JsonNode run = awaitEnd("deep", runId);

            assertThat(run.at("/run/status").asText()).isEqualTo("done");
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            assertThat(tasks).containsOnlyKeys("start", "a", "b", "c", "d");
            assertThat(tasks.get("a").get("parentTaskId").asLong()).isEqualTo(tasks.get("start").get("taskId")
                    .asLong());
            assertThat(tasks.get("b").get("parentTaskId").asLong()).isEqualTo(tasks.get("a").get("taskId").asLong());
            assertThat(tasks.get("c").get("parentTaskId").asLong()).isEqualTo(tasks.get("a").get("taskId").asLong());
            assertThat(tasks.get("d").get("parentTaskId").asLong()).isEqualTo(tasks.get("b").get("taskId").asLong());
            assertThat(tasks.get("c").get("httpStatus").asInt()).isEqualTo(204);
            assertThat(tasks.get("d").at("/output/done").asBoolean()).isTrue();
            api.verify(postRequestedFor(urlEqualTo("/a")).withRequestBody(matchingJsonPath("$.data.level",
                    equalTo("1"))));
            api.verify(postRequestedFor(urlEqualTo("/c")).withRequestBody(matchingJsonPath("$.data.level",
                    equalTo("2"))));
            api.verify(postRequestedFor(urlEqualTo("/d")).withRequestBody(matchingJsonPath("$.data.level",
                    equalTo("3"))));
            api.verify(postRequestedFor(urlEqualTo("/start")).withRequestBody(matchingJsonPath("$.data[1]",
                    equalTo("2"))));
            assertThat(run.at("/run/data/0").asInt()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void unknown_processes_bad_bodies_and_roles_get_clear_answers(TestDatabase db) throws Exception {
        api.stubFor(post("/start").willReturn(okJson("{}")));
        try (var running = start(db, "process.only.start-url = http://127.0.0.1:{{api.port}}/start\n"
                + "factory.retention.processes = 0s\n")) {
            Answer unknown = call("POST", "/api/processes/nope/start", "{\"key\": \"k\"}", token);
            assertThat(unknown.status()).isEqualTo(404);
            assertThat(unknown.body().get("error").asText()).contains("nope").contains("only");
            assertThat(unknown.body().has("detail")).isTrue();
            assertThat(get("/api/processes/nope/runs").status()).isEqualTo(404);

            assertBadRequest(call("POST", "/api/processes/only/start", "{\"key\": ", token), "not valid JSON");
            assertBadRequest(call("POST", "/api/processes/only/start", "[1]", token), "JSON object");
            assertBadRequest(call("POST", "/api/processes/only/start", "{\"data\": 1}", token), "'key'");
            assertBadRequest(call("POST", "/api/processes/only/start", "{\"key\": 5}", token), "'key'");
            assertBadRequest(call("POST", "/api/processes/only/start", "{\"key\": \"k\", \"requester\": \"x\"}",
                    token), "requester");
            assertBadRequest(call("POST", "/api/processes/only/start", "{\"key\": \"k\", \"requestor\": []}",
                    token), "'requestor'");
            assertBadRequest(get("/api/processes/only/runs?status=lost"), "status");
            assertBadRequest(get("/api/processes/only/runs/abc"), "id");
            assertThat(count(running.dataSource(), "SELECT COUNT(*) FROM process_run")).isZero();

            String viewer = call("POST", "/api/tokens", "{\"name\": \"watcher\", \"role\": \"viewer\"}", token)
                    .body().get("token").asText();
            Answer refused = call("POST", "/api/processes/only/start", "{\"key\": \"k\"}", viewer);
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.body().get("error").asText()).contains("viewer").contains("operator");
            assertThat(call("GET", "/api/processes", null, viewer).status()).isEqualTo(200);
            assertThat(call("GET", "/api/processes", null, null).status()).isEqualTo(401);

            List<Long> runs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                runs.add(startRun("only", "{\"key\": \"k" + i + "\"}"));
            }
            runs.forEach(id -> awaitEnd("only", id));
            assertThat(get("/api/processes/only/runs/999999").status()).isEqualTo(404);
            JsonNode first = get("/api/processes/only/runs?limit=2").body();
            assertThat(first.get("items").findValuesAsText("runId"))
                    .containsExactly(runs.get(2).toString(), runs.get(1).toString());
            JsonNode second = get("/api/processes/only/runs?limit=2&after=" + first.get("next").asText()).body();
            assertThat(second.get("items").findValuesAsText("runId")).containsExactly(runs.get(0).toString());
            assertThat(second.get("next").isNull()).isTrue();
            assertThat(get("/api/processes/only/runs?status=done").body().get("items")).hasSize(3);

            List<String> audit = new ArrayList<>();
            get("/api/audit?action=process-start").body().get("items").forEach(a -> audit.add(a.get("target")
                    .asText()));
            assertThat(audit).containsExactly("process only run " + runs.get(2), "process only run " + runs.get(1),
                    "process only run " + runs.get(0));

            JsonNode openapi = call("GET", "/api/openapi.json", null, null).body();
            List<String> paths = new ArrayList<>();
            openapi.get("paths").fieldNames().forEachRemaining(paths::add);
            assertThat(paths).contains("/api/processes", "/api/processes/{name}/start", "/api/processes/{name}/runs",
                    "/api/processes/{name}/runs/{id}");

            // ended runs go with their tasks once past factory.retention.processes
            Map<String, Long> removed = running.app().context().getRegistry()
                    .lookupByNameAndType("housekeeping", Housekeeping.class).purge();
            assertThat(removed).containsEntry("process runs", 3L).containsEntry("process tasks", 3L);
            assertThat(get("/api/processes/only/runs").body().get("items")).isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_restart_resumes_the_scheduled_task_and_calls_again_the_one_the_stop_cut_off(TestDatabase db)
            throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer("{\"n\": 1}", "slow", "next"))));
        // the first call of slow gets no answer before the stop; the one after the restart does
        api.stubFor(post("/slow").inScenario("slow").whenScenarioStateIs(Scenario.STARTED)
                .willSetStateTo("called").willReturn(okJson("{}").withFixedDelay(30_000)));
        api.stubFor(post("/slow").inScenario("slow").whenScenarioStateIs("called").willReturn(okJson("{}")));
        api.stubFor(post("/next").willReturn(okJson("{}")));
        String properties = """
                process.resume.start-url = http://127.0.0.1:{{api.port}}/start
                process.resume.timeout = 20s
                process.workers = 1
                """;
        FactoryHome home = factory.home(db).applicationProperties(properties);
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        long runId;
        DataSource[] ds = new DataSource[1];
        try (var running = factory.start(home)) {
            token = Files.readString(factory.dir().resolve("data/admin.token")).trim();
            ds[0] = running.dataSource();
            runId = startRun("resume", "{\"key\": \"r\"}");
            // one worker: slow is being called, next waits for it
            await().atMost(Duration.ofSeconds(60)).until(() -> taskStatus(ds[0], runId, "slow").equals("running")
                    && taskStatus(ds[0], runId, "next").equals("scheduled"));
        }
        Instant restarted = Instant.now();
        try (var running = factory.start(home)) {
            JsonNode run = awaitEnd("resume", runId);
            assertThat(run.at("/run/status").asText()).isEqualTo("done");
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            assertThat(tasks.get("slow").get("attempts").asInt()).isEqualTo(2);
            assertThat(tasks.get("next").get("attempts").asInt()).isEqualTo(1);
            assertThat(Instant.parse(tasks.get("next").get("startedAt").asText())).isAfter(restarted);
            api.verify(2, postRequestedFor(urlEqualTo("/slow")));
            api.verify(1, postRequestedFor(urlEqualTo("/next")));
            api.verify(1, postRequestedFor(urlEqualTo("/start")));
        }
    }

    @Test
    void a_start_url_that_is_not_a_url_stops_the_start_naming_the_key() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2).applicationProperties("""
                process.orders.start-url = ftp://files.example.com/start
                process.workers = 0
                """);
        assertThatThrownBy(() -> factory.start(home)).isInstanceOfSatisfying(StartupException.class, e ->
                assertThat(e.getMessage()).contains("Configuration key 'process.orders.start-url' has value"
                        + " 'ftp://files.example.com/start' that is not an absolute http:// or https:// URL")
                        .contains("Configuration key 'process.workers' has value '0' that must be at least 1"));
    }

    @Test
    void the_demo_process_calls_three_activities_of_which_export_fails() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .withoutOverride("factory.routes.shipped");
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            token = Files.readString(factory.dir().resolve("data/admin.token")).trim();
            assertThat(get("/api/processes").body().get("processes").findValuesAsText("name"))
                    .containsExactly("demo");
            long runId = startRun("demo", "{\"key\": \"customer-42\", \"data\": {\"region\": \"EMEA\"},"
                    + " \"requestor\": \"newcomer\"}");
            JsonNode run = awaitEnd("demo", runId);

            assertThat(run.at("/run/status").asText()).isEqualTo("done_with_errors");
            Map<String, JsonNode> tasks = byName(run.get("tasks"));
            assertThat(tasks).containsOnlyKeys("start", "score", "segment", "export");
            assertThat(tasks.get("score").get("status").asText()).isEqualTo("done");
            assertThat(tasks.get("score").at("/output/data/customer").asText()).isEqualTo("customer-42");
            assertThat(tasks.get("segment").get("status").asText()).isEqualTo("done");
            assertThat(tasks.get("export").get("status").asText()).isEqualTo("error");
            assertThat(tasks.get("export").get("httpStatus").asInt()).isEqualTo(500);
            assertThat(tasks.get("export").get("error").asText()).contains("demo failure");
            assertThat(count(running.dataSource(), "SELECT COUNT(*) FROM alerts a JOIN factory_error e"
                    + " ON e.fingerprint = a.fingerprint WHERE e.route_id = 'process:demo'")).isEqualTo(1);
        }
    }

    @Test
    void a_task_left_running_by_a_node_gone_silent_is_called_again_by_another_node() throws Exception {
        api.stubFor(post("/start").willReturn(okJson(answer(null, "slow"))));
        api.stubFor(post("/slow").inScenario("slow").whenScenarioStateIs(Scenario.STARTED)
                .willSetStateTo("called").willReturn(okJson("{}").withFixedDelay(30_000)));
        api.stubFor(post("/slow").inScenario("slow").whenScenarioStateIs("called").willReturn(okJson("{}")));
        String properties = """
                process.spread.start-url = http://127.0.0.1:{{api.port}}/start
                process.spread.timeout = 20s
                factory.node.heartbeat = 500
                factory.node.stale-after = 3s
                """;
        FactoryHome gone = factory.home(TestDatabase.POSTGRESQL).applicationProperties(properties)
                .property("factory.node.id", "gone");
        FactoryHome alive = gone.anotherNode(factory.dir().resolve("alive")).applicationProperties(properties)
                .property("factory.node.id", "alive");
        base = "http://127.0.0.1:" + gone.withHttpServer();
        long runId;
        try (var running = factory.start(gone)) {
            token = Files.readString(factory.dir().resolve("data/admin.token")).trim();
            runId = startRun("spread", "{\"key\": \"s\"}");
            await().atMost(Duration.ofSeconds(60)).until(() -> taskStatus(running.dataSource(), runId, "slow")
                    .equals("running"));
        }
        // node gone does not come back: its task is still running in its name
        base = "http://127.0.0.1:" + alive.withHttpServer();
        try (var running = factory.start(alive)) {
            JsonNode run = awaitEnd("spread", runId);
            assertThat(run.at("/run/status").asText()).isEqualTo("done");
            JsonNode slow = byName(run.get("tasks")).get("slow");
            assertThat(slow.get("node").asText()).isEqualTo("alive");
            assertThat(slow.get("attempts").asInt()).isEqualTo(2);
            api.verify(2, postRequestedFor(urlEqualTo("/slow")));
        }
    }

    static String taskStatus(DataSource ds, long runId, String name) throws Exception {
        List<Map<String, Object>> rows = rows(ds, "SELECT status FROM process_task WHERE run_id = ? AND name = ?",
                runId, name);
        return rows.isEmpty() ? "" : (String) rows.get(0).get("status");
    }

    private static void assertBadRequest(Answer answer, String named) {
        assertThat(answer.status()).as(answer.raw().body()).isEqualTo(400);
        assertThat(answer.body().get("error").asText()).contains(named);
    }
}
