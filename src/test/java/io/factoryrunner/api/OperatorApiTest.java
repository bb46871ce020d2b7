package io.factoryrunner.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.FactoryRunner;
import io.factoryrunner.job.HeldRuns;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import io.factoryrunner.testsupport.ThreeJobChain;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OperatorApiTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = TestHttp.client();


    record Answer(int status, JsonNode body, HttpResponse<String> raw) {
    }

    String base;
    String token;

    Answer call(String method, String path, String body, String bearer) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(60))
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

    Answer post(String path, String body) throws Exception {
        return call("POST", path, body, token);
    }

    String runStatus(long runId) throws Exception {
        return get("/api/runs/" + runId).body().at("/run/status").asText();
    }

    long triggerAndWait(String job) throws Exception {
        Answer triggered = post("/api/jobs/" + job + "/trigger", null);
        assertThat(triggered.status()).as(triggered.raw().body()).isEqualTo(202);
        long runId = triggered.body().get("runId").asLong();
        assertThat(triggered.raw().headers().firstValue("Location")).hasValue("/api/runs/" + runId);
        await().atMost(Duration.ofSeconds(60)).until(() -> !runStatus(runId).equals("running"));
        return runId;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_operator_follows_a_failed_item_redrives_it_and_sees_it_through(TestDatabase db) throws Exception {
        FactoryHome home = ThreeJobChain.on(factory.home(db), "test.fail-key = b\n");
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            Path tokenFile = dir.resolve("data/admin.token");
            assertThat(Files.getPosixFilePermissions(tokenFile))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            token = Files.readString(tokenFile).trim();

            Answer anonymous = call("GET", "/api/jobs", null, null);
            assertThat(anonymous.status()).isEqualTo(401);
            assertThat(anonymous.body().get("error").asText()).contains("Bearer");
            assertThat(call("GET", "/api/jobs", null, "fr_not-a-token").status()).isEqualTo(401);

            JsonNode jobs = get("/api/jobs").body().get("jobs");
            assertThat(jobs.findValuesAsText("name")).containsExactly("prepare", "build", "check");
            JsonNode build = get("/api/jobs/build").body();
            assertThat(build.get("upstream").asText()).isEqualTo("prepare");
            assertThat(build.get("downstream").get(0).asText()).isEqualTo("check");
            assertThat(build.get("nextFire").asText()).startsWith("2099-01-01");

            running.app().jobStore().offer("prepare", "a", "1", "A", true);
            running.app().jobStore().offer("prepare", "b", "1", "B", true);
            assertThat(get("/api/jobs/prepare").body().at("/items/waiting").asLong()).isEqualTo(2);

            long prepared = triggerAndWait("prepare");
            assertThat(runStatus(prepared)).isEqualTo("succeeded");
            long built = triggerAndWait("build");
            JsonNode recent = get("/api/jobs?runs=5").body().get("jobs").get(1);
            assertThat(recent.get("name").asText()).isEqualTo("build");
            assertThat(recent.get("recentRuns").findValuesAsText("runId")).containsExactly(String.valueOf(built));
            assertThat(recent.at("/recentRuns/0/itemsFailed").asInt()).isEqualTo(1);
            assertThat(get("/api/jobs").body().get("jobs").get(1).has("recentRuns")).isFalse();
            JsonNode buildRun = get("/api/runs/" + built).body();
            assertThat(buildRun.at("/run/itemsFailed").asInt()).isEqualTo(1);
            assertThat(buildRun.get("errors").get(0).get("message").asText()).contains("refused b");

            JsonNode failed = get("/api/items/build?status=failed").body();
            assertThat(failed.get("items").findValuesAsText("key")).containsExactly("b");
            JsonNode story = get("/api/items/build/b").body();
            List<String> path = new ArrayList<>();
            story.get("path").forEach(step -> path.add(step.get("job").asText() + ":" + step.get("status").asText()));
            assertThat(path).containsExactly("prepare:done", "build:failed");
            assertThat(story.get("errors").get(0).get("message").asText()).contains("refused b");

            JsonNode open = get("/api/errors?status=open").body().get("items");
            assertThat(open).hasSize(1);
            String fingerprint = open.get(0).get("fingerprint").asText();
            Answer acknowledged = post("/api/errors/" + fingerprint + "/acknowledge", "{\"note\": \"looking\"}");
            assertThat(acknowledged.status()).isEqualTo(200);
            assertThat(get("/api/errors/" + fingerprint).body().at("/fingerprint/status").asText())
                    .isEqualTo("acknowledged");
            assertThat(post("/api/errors/" + fingerprint + "/acknowledge", null).status()).isEqualTo(409);

            // no mail server: the failure's alert waits in the outbox, and a resend makes it due now
            JsonNode pending = get("/api/alerts?status=pending").body().get("items");
            assertThat(pending.findValuesAsText("kind")).contains("error_opened");
            long alertId = pending.get(0).get("alertId").asLong();
            Answer resent = post("/api/alerts/" + alertId + "/resend", null);
            assertThat(resent.status()).isEqualTo(200);
            assertThat(resent.body().get("alertId").asLong()).isEqualTo(alertId);
            assertThat(post("/api/alerts/999999/resend", null).status()).isEqualTo(404);

            assertThat(call("PUT", "/api/config/test.fail-key", "{\"value\": \"none\"}", token).status())
                    .isEqualTo(200);
            Answer redriven = post("/api/items/build/b/redrive", null);
            assertThat(redriven.status()).isEqualTo(200);
            assertThat(redriven.body().get("redriven").asInt()).isEqualTo(1);
            Answer again = post("/api/items/build/b/redrive", null);
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.body().get("error").asText()).contains("waiting, not failed");

            triggerAndWait("build");
            assertThat(get("/api/items/build/b").body().get("path").findValuesAsText("status"))
                    .containsExactly("done", "done", "waiting");

            List<String> actions = new ArrayList<>();
            get("/api/audit").body().get("items").forEach(a -> actions.add(a.get("actor").asText() + " "
                    + a.get("action").asText()));
            assertThat(actions).contains("admin trigger", "admin acknowledge", "admin config", "admin redrive");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_value_a_route_cannot_take_is_refused_with_the_reason_and_the_route_keeps_running(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db).applicationProperties("tick.size = 10\n").route("tick.camel.yaml", """
                - route:
                    id: tick
                    from:
                      uri: "job:tick"
                      parameters:
                        cron: "0 0 0 1 1 ? 2099"
                        chunkSize: "{{tick.size}}"
                      steps:
                        - log: "tick"
                """);
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            token = Files.readString(dir.resolve("data/admin.token")).trim();
            Answer refused = call("PUT", "/api/config/tick.size", "{\"value\": \"ten\"}", token);
            assertThat(refused.status()).as(refused.raw().body()).isEqualTo(400);
            assertThat(refused.body().get("error").asText()).contains("tick.size").contains("refused")
                    .contains("Route 'tick'");
            assertThat(running.app().context().resolvePropertyPlaceholders("{{tick.size}}")).isEqualTo("10");
            assertThat(running.app().context().getRouteController().getRouteStatus("tick").isStarted()).isTrue();

            Answer taken = call("PUT", "/api/config/tick.size", "{\"value\": \"25\"}", token);
            assertThat(taken.status()).as(taken.raw().body()).isEqualTo(200);
            assertThat(running.app().context().resolvePropertyPlaceholders("{{tick.size}}")).isEqualTo("25");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void roles_bad_parameters_and_secrets_get_clear_answers(TestDatabase db) throws Exception {
        FactoryHome home = ThreeJobChain.on(factory.home(db), "");
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            token = Files.readString(dir.resolve("data/admin.token")).trim();

            Answer created = post("/api/tokens", "{\"name\": \"watcher\", \"role\": \"viewer\"}");
            assertThat(created.status()).isEqualTo(201);
            String viewer = created.body().get("token").asText();
            assertThat(call("GET", "/api/jobs", null, viewer).status()).isEqualTo(200);
            assertThat(call("GET", "/api/me", null, viewer).body().get("role").asText()).isEqualTo("viewer");
            assertThat(get("/api/me").body().get("name").asText()).isEqualTo("admin");
            Answer refused = call("POST", "/api/jobs/build/trigger", null, viewer);
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.body().get("error").asText()).contains("viewer").contains("operator");
            assertThat(call("GET", "/api/tokens", null, viewer).status()).isEqualTo(403);
            assertThat(post("/api/tokens", "{\"name\": \"watcher\", \"role\": \"viewer\"}").status()).isEqualTo(409);

            assertBadRequest(get("/api/runs?limit=0"), "limit");
            assertBadRequest(get("/api/jobs?runs=101"), "runs");
            assertBadRequest(get("/api/runs?status=bogus"), "status");
            assertBadRequest(get("/api/runs?since=yesterday"), "since");
            assertBadRequest(get("/api/items/build?after=zzz"), "after");
            assertBadRequest(post("/api/tokens", "{\"name\": "), "not valid JSON");
            assertBadRequest(post("/api/tokens", "{\"name\": \"x\", \"role\": \"boss\"}"), "boss");
            assertBadRequest(call("PUT", "/api/config/job.build.cron", "{\"value\": \"0 5 * * *\"}", token),
                    "job.build.cron");
            assertThat(get("/api/jobs/nothing").status()).isEqualTo(404);
            assertThat(get("/api/runs/999999").status()).isEqualTo(404);
            assertThat(get("/api/errors/nothing").status()).isEqualTo(404);
            assertThat(post("/api/items/build/nothing/redrive", null).status()).isEqualTo(404);

            String secret = "s3cr3t-value-that-must-not-leak";
            Answer written = call("PUT", "/api/config/analytics.api-key", "{\"value\": \"" + secret + "\"}", token);
            assertThat(written.status()).isEqualTo(200);
            assertThat(written.raw().body()).doesNotContain(secret);
            assertThat(get("/api/config").raw().body()).doesNotContain(secret).contains("analytics.api-key");
            assertThat(get("/api/audit").raw().body()).doesNotContain(secret);
            for (String read : List.of("/api/jobs", "/api/runs", "/api/errors", "/api/alerts", "/api/tokens",
                    "/api/items/build")) {
                Answer answer = get(read);
                assertThat(answer.status()).as(read).isEqualTo(200);
                assertThat(answer.raw().body()).as(read).doesNotContain(secret);
            }

            JsonNode openapi = call("GET", "/api/openapi.json", null, null).body();
            assertThat(openapi.get("openapi").asText()).startsWith("3.");
            List<String> paths = new ArrayList<>();
            openapi.get("paths").fieldNames().forEachRemaining(paths::add);
            assertThat(paths).containsExactlyInAnyOrder("/api/me", "/api/jobs", "/api/jobs/{job}",
                    "/api/jobs/{job}/trigger",
                    "/api/jobs/{job}/pause", "/api/jobs/{job}/resume", "/api/runs", "/api/runs/{id}",
                    "/api/items/{job}", "/api/items/{job}/{key}", "/api/items/{job}/{key}/redrive", "/api/errors",
                    "/api/errors/{fingerprint}", "/api/errors/{fingerprint}/acknowledge",
                    "/api/errors/{fingerprint}/resolve", "/api/errors/{fingerprint}/redrive", "/api/alerts",
                    "/api/alerts/{id}/resend", "/api/config", "/api/config/{key}", "/api/tokens",
                    "/api/tokens/{name}", "/api/nodes", "/api/audit", "/api/processes", "/api/processes/{name}/start",
                    "/api/processes/{name}/runs", "/api/processes/{name}/runs/{id}",
                    "/api/processes/{name}/runs/{id}/retry", "/api/programs",
                    "/api/programs/{runId}", "/api/programs/{runId}/execute", "/api/programs/{runId}/cancel",
                    "/api/programs/{runId}/resume",
                    "/api/program-jobs");
            assertThat(openapi.at("/paths/~1api~1jobs~1{job}~1trigger/post/responses").has("409")).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void fifty_items_failed_by_an_outage_are_redriven_by_their_fingerprint(TestDatabase db) throws Exception {
        FactoryHome home = ThreeJobChain.on(factory.home(db), "test.down = true\n");
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            token = Files.readString(dir.resolve("data/admin.token")).trim();
            for (int i = 0; i < 50; i++) {
                running.app().jobStore().offer("build", "item-" + i, "1", "data", true);
            }
            triggerAndWait("build");
            assertThat(get("/api/jobs/build").body().at("/items/failed").asInt()).isEqualTo(50);
            JsonNode open = get("/api/errors?status=open&job=build").body().get("items");
            assertThat(open).hasSize(1);
            String fingerprint = open.get(0).get("fingerprint").asText();

            assertThat(call("PUT", "/api/config/test.down", "{\"value\": \"false\"}", token).status())
                    .isEqualTo(200);
            Answer redriven = post("/api/errors/" + fingerprint + "/redrive", "{\"note\": \"API back\"}");
            assertThat(redriven.status()).isEqualTo(200);
            assertThat(redriven.body().get("redriven").asInt()).isEqualTo(50);
            assertThat(get("/api/jobs/build").body().at("/items/waiting").asInt()).isEqualTo(50);

            triggerAndWait("build");
            JsonNode build = get("/api/jobs/build").body();
            assertThat(build.at("/items/failed").asInt()).isZero();
            assertThat(get("/api/jobs/check").body().at("/items/waiting").asInt()).isEqualTo(50);
            assertThat(get("/api/audit?action=redrive").body().get("items").get(0).get("outcome").asText())
                    .isEqualTo("50 items put back");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_command_line_asks_the_running_factory(TestDatabase db) throws Exception {
        FactoryHome home = ThreeJobChain.on(factory.home(db), "");
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        try (var running = factory.start(home)) {
            running.app().jobStore().offer("prepare", "a", "1", "A", true);

            Output jobs = cli("jobs");
            assertThat(jobs.code()).as(jobs.err()).isZero();
            List<String> lines = jobs.out().lines().toList();
            assertThat(lines.get(0)).startsWith("JOB").contains("UPSTREAM").contains("WAITING");
            assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+")).startsWith("build", "prepare"));
            int waiting = lines.get(0).indexOf("WAITING");
            assertThat(lines.stream().filter(l -> l.startsWith("prepare")).findFirst().orElseThrow()
                    .substring(waiting)).startsWith("1 ");

            Output nodes = cli("nodes");
            assertThat(nodes.code()).as(nodes.err()).isZero();
            List<String> nodeLines = nodes.out().lines().toList();
            assertThat(nodeLines.get(0)).startsWith("NODE").contains("STATUS").contains("LAST SEEN")
                    .contains("VERSION").contains("RUNNING");
            assertThat(nodeLines).hasSize(2);
            assertThat(nodeLines.get(1).split("\\s+")).startsWith(running.app().node(), "up");

            Output triggered = cli("trigger", "prepare");
            assertThat(triggered.out()).matches("(?s)Run \\d+ of job prepare started\\s*");
            await().atMost(Duration.ofSeconds(60)).until(() -> cli("runs", "--job", "prepare", "--json").out()
                    .contains("\"succeeded\""));
            JsonNode runs = JSON.readTree(cli("runs", "--json").out());
            assertThat(runs.get("items").get(0).get("job").asText()).isEqualTo("prepare");

            Output missing = cli("redrive", "nothing", "x");
            assertThat(missing.code()).isEqualTo(1);
            assertThat(missing.err()).startsWith("404: No job named 'nothing'");
            Output usage = cli("item", "build");
            assertThat(usage.code()).isEqualTo(2);
            assertThat(usage.err()).contains("item JOB KEY");
            Output created = cli("token", "create", "reader", "viewer");
            assertThat(created.out()).startsWith("Token reader (viewer), shown once: fr_");
            assertThat(cli("token", "list").out()).contains("reader").contains("admin");
            assertThat(cli("token", "revoke", "reader").out()).startsWith("Token reader revoked");
            String readerToken = created.out().substring(created.out().indexOf("fr_")).trim();
            assertThat(cli("jobs", "--token", readerToken).err()).startsWith("401:");

            Output wrongToken = cli("jobs", "--token", "fr_wrong");
            assertThat(wrongToken.code()).isEqualTo(1);
            assertThat(wrongToken.err()).startsWith("401:");
        }
    }

    record Output(int code, String out, String err) {
    }

    Output cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--home", dir.toString(), "--url", base));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = FactoryRunner.execute(all.toArray(String[]::new),
                new PrintStream(out, true), new PrintStream(err, true));
        return new Output(code, out.toString(), err.toString());
    }

    static final String SHARED = """
            - route:
                id: share
                from:
                  uri: "job:share"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    chunkSize: 1
                    maxRuns: 2
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.job.HeldRuns"
                        method: "enter"
            """;

    @Test
    void a_trigger_starts_a_second_run_of_a_job_with_max_runs_two_and_a_third_is_refused_naming_it()
            throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2).route("shared.camel.yaml", SHARED);
        int port = home.withHttpServer();
        base = "http://127.0.0.1:" + port;
        HeldRuns.reset();
        try (var running = factory.start(home)) {
            token = Files.readString(dir.resolve("data/admin.token")).trim();
            running.app().jobStore().offer("share", "item-1", "v1", "d1", true);
            running.app().jobStore().offer("share", "item-2", "v1", "d2", true);

            for (int runs = 1; runs <= 2; runs++) {
                Answer started = post("/api/jobs/share/trigger", null);
                assertThat(started.status()).as(started.raw().body()).isEqualTo(202);
                int held = runs;
                await().atMost(Duration.ofSeconds(60)).until(() -> HeldRuns.RUNS.size() == held);
            }
            Answer refused = post("/api/jobs/share/trigger", null);
            assertThat(refused.status()).isEqualTo(409);
            assertThat(refused.body().get("error").asText()).startsWith("2 runs of job 'share' are going"
                    + " (maxRuns = 2): runs [");
            HeldRuns.release.countDown();
            for (long run : HeldRuns.RUNS) {
                await().atMost(Duration.ofSeconds(60)).until(() -> runStatus(run).equals("succeeded"));
            }
        } finally {
            HeldRuns.release.countDown();
        }
    }

    private static void assertBadRequest(Answer answer, String named) {
        assertThat(answer.status()).as(answer.raw().body()).isEqualTo(400);
        assertThat(answer.body().get("error").asText()).contains(named);
    }
}
