package io.factoryrunner.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.Function;

/**
 * The operator commands of the command line ({@code jobs}, {@code runs}, {@code redrive JOB KEY}, ...): each is one
 * call to the running factory's operator API, printed as an aligned table, or as the API's JSON with {@code --json}.
 */
public final class OperatorCommand {

    /** The commands this class answers, with their arguments. */
    public static final Map<String, String> COMMANDS = commands();

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path home;
    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;

    public OperatorCommand(Path home, Map<String, String> env, PrintStream out, PrintStream err) {
        this.home = home;
        this.env = env;
        this.out = out;
        this.err = err;
    }

    private static Map<String, String> commands() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("jobs", "every job: chain, schedule, last run, item counts");
        c.put("nodes", "the nodes sharing the database: status, last heartbeat, version, runs going");
        c.put("runs", "the latest runs [--job JOB] [--status STATUS] [--limit N]");
        c.put("errors", "open and acknowledged error fingerprints [--status STATUS] [--job JOB]");
        c.put("item", "JOB KEY: one item's story across the jobs");
        c.put("redrive", "JOB KEY [--version V]: put a failed item back");
        c.put("ack", "FINGERPRINT [--note TEXT]: acknowledge an error");
        c.put("resolve", "FINGERPRINT [--note TEXT]: resolve an error");
        c.put("trigger", "JOB: start a run now");
        c.put("pause", "JOB: pause a job");
        c.put("resume", "JOB: resume a job");
        c.put("processes", "the declared processes, each with its latest run");
        c.put("process-runs", "PROCESS: its latest runs [--status STATUS] [--limit N]");
        c.put("process-retry", "PROCESS RUN [--note TEXT]: call again the tasks of a run that ended in error");
        c.put("programs", "the latest programs [--status STATUS] [--limit N]");
        c.put("program-cancel", "RUN [--note TEXT]: cancel a program: no step starts from now on");
        c.put("program-resume", "RUN [--note TEXT]: resume an errored program at the step that failed");
        c.put("token", "create NAME ROLE | list | revoke NAME: API tokens (roles viewer, operator, admin)");
        return c;
    }

    public static boolean isCommand(String word) {
        return COMMANDS.containsKey(word);
    }

    /** Runs {@code command} with its words and options; returns the exit code (0 success, 1 refused, 2 usage). */
    public int run(String command, List<String> words, Map<String, String> options, boolean json) {
        try {
            Call call = call(command, words, options);
            String url = baseUrl(options);
            String token = token(options);
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + call.path()))
                    .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + token)
                    .header("Accept", "application/json");
            request.method(call.method(), call.body() == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(call.body().toString()));
            if (call.body() != null) {
                request.header("Content-Type", "application/json");
            }
            HttpResponse<String> response;
            try {
                // HTTP/1.1: the JDK client would otherwise ask the plain-HTTP server to upgrade the connection to
                // HTTP/2 (h2c), which the server grants, and that path of the JDK 17 client can wait forever
                response = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                        .send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (ConnectException e) {
                err.println("No factory answers at " + url + " (start it, or give --url / FACTORY_URL)");
                return 1;
            }
            JsonNode answer = response.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(response.body());
            if (response.statusCode() >= 400) {
                err.println(response.statusCode() + ": " + answer.path("error").asText(response.body()));
                return 1;
            }
            out.println(json ? JSON.writerWithDefaultPrettyPrinter().writeValueAsString(answer)
                    : call.table().apply(answer));
            return 0;
        } catch (UsageException e) {
            err.println(e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("The call failed: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private record Call(String method, String path, ObjectNode body, Function<JsonNode, String> table) {
    }

    private static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message, null, false, false);
        }
    }

    private Call call(String command, List<String> words, Map<String, String> options) {
        switch (command) {
            case "jobs" -> {
                args(command, words, 0);
                return new Call("GET", "/api/jobs", null, a -> table(a.get("jobs"), List.of(
                        col("JOB", "/name"), col("UPSTREAM", "/upstream"), col("CRON", "/cron"),
                        col("NEXT FIRE", "/nextFire"), col("PAUSED", "/paused"), col("LAST RUN", "/lastRun/runId"),
                        col("STATUS", "/lastRun/status"), col("WAITING", "/items/waiting"),
                        col("DEFERRED", "/items/deferred"), col("CLAIMED", "/items/claimed"),
                        col("DONE", "/items/done"), col("FAILED", "/items/failed"))));
            }
            case "nodes" -> {
                args(command, words, 0);
                return new Call("GET", "/api/nodes", null, a -> table(withCell(a.get("nodes"), "runsGoing",
                        OperatorCommand::runsGoing), List.of(col("NODE", "/node"), col("STATUS", "/status"), col("LAST SEEN", "/lastSeenAt"),
                        col("SILENT (S)", "/silentForSeconds"), col("VERSION", "/version"),
                        col("STARTED", "/startedAt"), col("CLOCK OFFSET (MS)", "/clockOffsetMs"),
                        col("RUNNING", "/runsGoing"))));
            }
            case "runs" -> {
                args(command, words, 0);
                return new Call("GET", "/api/runs" + query(options, "job", "status", "limit", "since"), null,
                        a -> table(a.get("items"), List.of(col("RUN", "/runId"), col("JOB", "/job"),
                                col("STATUS", "/status"), col("TRIGGER", "/trigger"), col("STARTED", "/startedAt"),
                                col("ENDED", "/endedAt"), col("DONE", "/itemsDone"), col("FAILED", "/itemsFailed"),
                                col("SUMMARY", "/summary"))));
            }
            case "errors" -> {
                args(command, words, 0);
                return new Call("GET", "/api/errors" + query(options, "status", "job", "limit"), null,
                        a -> table(a.get("items"), List.of(col("FINGERPRINT", "/fingerprint"),
                                col("STATUS", "/status"), col("JOB", "/job"), col("CATEGORY", "/category"),
                                col("COUNT", "/occurrences"), col("LAST SEEN", "/lastSeen"), col("SAMPLE", "/sample"))));
            }
            case "item" -> {
                args(command, words, 2);
                return new Call("GET", "/api/items/" + enc(words.get(0)) + "/" + enc(words.get(1)), null,
                        a -> table(a.get("path"), List.of(col("JOB", "/job"), col("STATUS", "/status"),
                                col("VERSION", "/version"), col("ATTEMPTS", "/attempts"), col("RUN", "/runId"),
                                col("UPDATED", "/updatedAt"), col("ERROR", "/error"))));
            }
            case "redrive" -> {
                args(command, words, 2);
                return new Call("POST", "/api/items/" + enc(words.get(0)) + "/" + enc(words.get(1)) + "/redrive"
                        + query(options, "version"), note(options), a -> "Put back " + a.path("redriven").asInt()
                        + " item: " + a.path("job").asText() + " " + a.path("key").asText() + " version "
                        + a.path("version").asText());
            }
            case "ack", "resolve" -> {
                args(command, words, 1);
                return new Call("POST", "/api/errors/" + enc(words.get(0)) + (command.equals("ack") ? "/acknowledge"
                        : "/resolve"), note(options), a -> "Fingerprint " + a.path("fingerprint").asText() + " is "
                        + a.path("status").asText());
            }
            case "trigger" -> {
                args(command, words, 1);
                return new Call("POST", "/api/jobs/" + enc(words.get(0)) + "/trigger", null,
                        a -> "Run " + a.path("runId").asLong() + " of job " + a.path("job").asText() + " started");
            }
            case "pause", "resume" -> {
                args(command, words, 1);
                return new Call("POST", "/api/jobs/" + enc(words.get(0)) + "/" + command, note(options),
                        a -> "Job " + a.path("job").asText() + (a.path("paused").asBoolean() ? " paused" : " resumed"));
            }
            case "processes" -> {
                args(command, words, 0);
                return new Call("GET", "/api/processes", null, a -> table(a.get("processes"), List.of(
                        col("PROCESS", "/name"), col("START URL", "/startUrl"), col("TIMEOUT", "/timeout"),
                        col("LAST RUN", "/lastRun/runId"), col("STATUS", "/lastRun/status"),
                        col("STARTED", "/lastRun/startedAt"), col("FAILED TASKS", "/lastRun/failedTasks"))));
            }
            case "process-runs" -> {
                args(command, words, 1);
                return new Call("GET", "/api/processes/" + enc(words.get(0)) + "/runs"
                        + query(options, "status", "limit"), null, a -> table(a.get("items"), List.of(
                                col("RUN", "/runId"), col("KEY", "/key"), col("STATUS", "/status"),
                                col("TASKS", "/tasks"), col("OPEN", "/openTasks"), col("FAILED", "/failedTasks"),
                                col("STARTED", "/startedAt"), col("ENDED", "/endedAt"))));
            }
            case "process-retry" -> {
                args(command, words, 2);
                return new Call("POST", "/api/processes/" + enc(words.get(0)) + "/runs/" + enc(words.get(1))
                        + "/retry", note(options), a -> "Run " + a.at("/run/runId").asLong() + " of process "
                        + a.at("/run/process").asText() + ": " + a.path("retried").size() + " failed "
                        + (a.path("retried").size() == 1 ? "task" : "tasks") + " scheduled again "
                        + a.path("retried"));
            }
            case "programs" -> {
                args(command, words, 0);
                return new Call("GET", "/api/programs" + query(options, "status", "limit"), null,
                        a -> table(withCell(withCell(a.get("items"), "jobsText", OperatorCommand::jobs),
                                "stepText", OperatorCommand::step), List.of(col("RUN", "/runId"),
                                col("STATUS", "/status"), col("JOBS", "/jobsText"), col("STEP", "/stepText"),
                                col("RETRIES", "/stepRetryCount"),
                                col("SUBMITTED", "/createdAt"), col("BY", "/submittedBy"),
                                col("ERROR", "/errorMessage"))));
            }
            case "program-cancel", "program-resume" -> {
                args(command, words, 1);
                String action = command.substring("program-".length());
                return new Call("POST", "/api/programs/" + enc(words.get(0)) + "/" + action, note(options),
                        a -> "Program " + a.path("runId").asText() + " is " + a.path("status").asText());
            }
            case "token" -> {
                if (words.size() == 1 && words.get(0).equals("list")) {
                    return new Call("GET", "/api/tokens", null, a -> table(a.get("tokens"), List.of(
                            col("NAME", "/name"), col("ROLE", "/role"), col("CREATED", "/createdAt"),
                            col("BY", "/createdBy"), col("LAST USED", "/lastUsedAt"), col("REVOKED", "/revokedAt"))));
                }
                if (words.size() == 2 && words.get(0).equals("revoke")) {
                    return new Call("DELETE", "/api/tokens/" + enc(words.get(1)), null,
                            a -> "Token " + a.path("name").asText() + " revoked");
                }
                if (words.size() != 3 || !words.get(0).equals("create")) {
                    throw new UsageException("Usage: token create NAME ROLE (role: viewer, operator or admin)"
                            + " | token list | token revoke NAME");
                }
                ObjectNode body = JSON.createObjectNode().put("name", words.get(1)).put("role", words.get(2));
                return new Call("POST", "/api/tokens", body, a -> "Token " + a.path("name").asText() + " ("
                        + a.path("role").asText() + "), shown once: " + a.path("token").asText());
            }
            default -> throw new UsageException("Unknown command '" + command + "'");
        }
    }

    /** A copy of the rows with one more field, {@code name}, that {@code cell} makes of each row. */
    private static JsonNode withCell(JsonNode rows, String name, Function<JsonNode, String> cell) {
        if (rows == null) {
            return null;
        }
        JsonNode copy = rows.deepCopy();
        copy.forEach(row -> ((ObjectNode) row).put(name, cell.apply(row)));
        return copy;
    }

    /** A node's runs going as one cell: {@code build#41 check#57}. */
    private static String runsGoing(JsonNode node) {
        List<String> runs = new ArrayList<>();
        node.path("running").forEach(r -> runs.add(r.path("job").asText() + "#" + r.path("runId").asText()));
        return String.join(" ", runs);
    }

    /** A program's jobs as one cell: {@code fetch,report}. */
    private static String jobs(JsonNode program) {
        List<String> jobs = new ArrayList<>();
        program.path("jobs").forEach(j -> jobs.add(j.asText()));
        return String.join(",", jobs);
    }

    /** The step a program is at: {@code report (2 of 2)}, or {@code all 2 done}. */
    private static String step(JsonNode program) {
        JsonNode jobs = program.path("jobs");
        int step = program.path("step").asInt();
        return step >= jobs.size() ? "all " + jobs.size() + " done"
                : jobs.get(step).asText() + " (" + (step + 1) + " of " + jobs.size() + ")";
    }

    private static void args(String command, List<String> words, int count) {
        if (words.size() != count) {
            throw new UsageException("Usage: " + command + " " + COMMANDS.get(command));
        }
    }

    private static ObjectNode note(Map<String, String> options) {
        return options.containsKey("note") ? JSON.createObjectNode().put("note", options.get("note")) : null;
    }

    private static String query(Map<String, String> options, String... names) {
        List<String> parts = new ArrayList<>();
        for (String name : names) {
            if (options.containsKey(name)) {
                parts.add(name + "=" + enc(options.get(name)));
            }
        }
        return parts.isEmpty() ? "" : "?" + String.join("&", parts);
    }

    private static String enc(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The API's address: --url, FACTORY_URL, else this machine on the port of the home's configuration. */
    private String baseUrl(Map<String, String> options) {
        String url = options.getOrDefault("url", env.get("FACTORY_URL"));
        if (url == null || url.isBlank()) {
            url = "http://localhost:" + setting("camel.server.port", "8080");
        }
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** The token: --token, FACTORY_TOKEN, else the admin token the factory wrote at its first start. */
    private String token(Map<String, String> options) throws IOException {
        String token = options.getOrDefault("token", env.get("FACTORY_TOKEN"));
        if (token != null && !token.isBlank()) {
            return token.trim();
        }
        Path file = home.resolve(setting("factory.data-dir", "data")).resolve("admin.token");
        if (!Files.isReadable(file)) {
            throw new UsageException("No token: give --token or FACTORY_TOKEN (no " + file + " to read)");
        }
        return Files.readString(file).trim();
    }

    private String setting(String key, String fallback) {
        Properties properties = new Properties();
        Path file = home.resolve("config/application.properties");
        if (Files.isReadable(file)) {
            try (InputStream in = Files.newInputStream(file)) {
                properties.load(in);
            } catch (IOException e) {
                return fallback;
            }
        }
        String value = properties.getProperty(key);
        return value == null || value.isBlank() || value.contains("{{") ? fallback : value.trim();
    }

    private record Column(String title, String pointer) {
    }

    private static Column col(String title, String pointer) {
        return new Column(title, pointer);
    }

    private static final Set<String> NO_VALUE = Set.of("null", "");

    /** Rows of a JSON array as a table whose columns are as wide as their widest cell. */
    static String table(JsonNode rows, List<Column> columns) {
        List<List<String>> cells = new ArrayList<>();
        cells.add(columns.stream().map(Column::title).toList());
        if (rows != null) {
            rows.forEach(row -> cells.add(columns.stream().map(c -> {
                JsonNode value = row.at(c.pointer());
                String text = value.isMissingNode() || value.isNull() ? "-" : value.asText();
                text = NO_VALUE.contains(text) ? "-" : text.replaceAll("\\s+", " ");
                return text.length() > 60 ? text.substring(0, 59) + "…" : text;
            }).toList()));
        }
        int[] widths = new int[columns.size()];
        cells.forEach(r -> {
            for (int i = 0; i < r.size(); i++) {
                widths[i] = Math.max(widths[i], r.get(i).length());
            }
        });
        StringBuilder text = new StringBuilder();
        for (List<String> r : cells) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.size(); i++) {
                line.append(i == r.size() - 1 ? r.get(i) : String.format("%-" + widths[i] + "s  ", r.get(i)));
            }
            text.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
        return text.toString().stripTrailing();
    }
}
