package io.factoryrunner.program;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.testsupport.TestHttp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A client of a running factory's operator API, as curl would call it, with the admin token of its home. */
final class ProgramApiClient {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = TestHttp.client();

    record Answer(int status, JsonNode body, HttpResponse<String> raw) {

        String error() {
            return body.get("error").asText();
        }
    }

    private final String base;
    private final String token;

    ProgramApiClient(int port, Path home) throws Exception {
        this.base = "http://127.0.0.1:" + port;
        this.token = Files.readString(home.resolve("data/admin.token")).trim();
    }

    String token() {
        return token;
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

    Answer post(String path, String body) throws Exception {
        return call("POST", path, body, token);
    }

    /** Submits a program and answers its run id, checking the 201 and its Location. */
    String submit(String program) throws Exception {
        Answer answer = post("/api/programs", program);
        assertThat(answer.status()).as(answer.raw().body()).isEqualTo(201);
        String runId = answer.body().get("runId").asText();
        assertThat(answer.raw().headers().firstValue("Location")).hasValue("/api/programs/" + runId);
        return runId;
    }

    JsonNode program(String runId) throws Exception {
        Answer answer = get("/api/programs/" + runId);
        assertThat(answer.status()).as(answer.raw().body()).isEqualTo(200);
        return answer.body();
    }

    String status(String runId) throws Exception {
        return program(runId).at("/program/status").asText();
    }

    /** Waits until the program has the status, and answers it as the API shows it. */
    JsonNode awaitStatus(String runId, String status) throws Exception {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> status(runId).equals(status));
        return program(runId);
    }

    /** Each event as "step:job:attempt:outcome". */
    static List<String> events(JsonNode program) {
        List<String> events = new ArrayList<>();
        program.get("events").forEach(e -> events.add(e.get("step").asInt() + ":" + e.get("job").asText() + ":"
                + e.get("attempt").asInt() + ":" + e.get("outcome").asText()));
        return events;
    }

    /** Each step as "job:status". */
    static List<String> steps(JsonNode program) {
        List<String> steps = new ArrayList<>();
        program.get("steps").forEach(s -> steps.add(s.get("job").asText() + ":" + s.get("status").asText()));
        return steps;
    }
}
