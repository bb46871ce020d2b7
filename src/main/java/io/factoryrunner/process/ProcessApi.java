package io.factoryrunner.process;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.factoryrunner.api.ApiError;
import io.factoryrunner.api.ApiTokens.Caller;
import io.factoryrunner.api.ApiTokens.Role;
import io.factoryrunner.api.Audit;
import io.factoryrunner.api.OperatorApi;
import io.factoryrunner.api.OperatorApi.Status;
import io.factoryrunner.api.OperatorQueries.Page;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.process.ProcessDefinitions.Process;
import io.factoryrunner.process.ProcessStore.Run;
import io.factoryrunner.process.ProcessStore.Task;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.camel.Message;
import org.apache.camel.model.rest.RestDefinition;

/**
 * The processes' calls of the operator API: the declared processes, a process's runs and one run with every task
 * (role viewer); starting a run, and calling again the tasks of a run that ended in error (role operator).
 */
public final class ProcessApi implements OperatorApi.Extension {

    /** A process's name as its keys can hold it. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,100}");
    private static final Set<String> BODY_FIELDS = Set.of("key", "data", "requestor");
    private static final Set<String> RUN_STATUSES = Arrays.stream(ProcessStatus.values()).map(ProcessStatus::db)
            .collect(Collectors.toUnmodifiableSet());

    private final ProcessDefinitions definitions;
    private final ProcessEngine engine;
    private final ProcessStore store;
    private final Audit audit;

    public ProcessApi(ProcessDefinitions definitions, ProcessEngine engine, ProcessStore store, Audit audit) {
        this.definitions = definitions;
        this.engine = engine;
        this.store = store;
        this.audit = audit;
    }

    @Override
    public void addCalls(OperatorApi api, RestDefinition rest) {
        api.call(rest.get("/processes").description("The declared processes (process.<name>.start-url), each with"
                + " its latest run"), "api-processes", Role.VIEWER, (c, in) -> Map.of("processes", processes()));
        api.call(rest.post("/processes/{name}/start").description("Starts a run: body {\"key\": \"...\", \"data\":"
                + " any JSON, \"requestor\": \"...\"}; 201 with its runId and Location"), "api-process-start",
                Role.OPERATOR, this::start);
        api.call(rest.get("/processes/{name}/runs").description("A process's runs, newest first; filter status;"
                + " keyset paging by after"), "api-process-runs", Role.VIEWER, (c, in) -> runs(in));
        api.call(rest.get("/processes/{name}/runs/{id}").description("One run with every task: name, URL, status,"
                + " times, output, error, parent task"), "api-process-run", Role.VIEWER, (c, in) -> run(in));
        api.call(rest.post("/processes/{name}/runs/{id}/retry").description("Calls again every task of the run that"
                + " ended in error (body {\"note\": \"...\"}, optional); 409 when none did"), "api-process-retry",
                Role.OPERATOR, this::retry);
    }

    private List<Map<String, Object>> processes() throws SQLException {
        List<Map<String, Object>> answer = new ArrayList<>();
        for (Process p : definitions.all()) {
            Map<String, Object> process = new LinkedHashMap<>();
            process.put("name", p.name());
            process.put("startUrl", Secrets.maskUrl(p.startUrl()));
            process.put("timeout", p.timeout().toString());
            process.put("lastRun", store.lastRun(p.name()).map(ProcessApi::run).orElse(null));
            answer.add(process);
        }
        return answer;
    }

    private Status start(Caller caller, Message in) throws SQLException, JsonProcessingException {
        Process process = process(in);
        JsonNode body = OperatorApi.body(in);
        List<String> unknown = new ArrayList<>();
        body.fieldNames().forEachRemaining(f -> {
            if (!BODY_FIELDS.contains(f)) {
                unknown.add(f);
            }
        });
        if (!unknown.isEmpty()) {
            throw ApiError.badRequest("Unknown field(s) " + unknown + " in the body; it takes key, data and"
                    + " requestor");
        }
        String key = text(body, "key", true, 400);
        String requestor = text(body, "requestor", false, 200);
        String data = body.has("data") ? body.get("data").toString() : null;
        if (data != null && data.length() > ActivityAnswer.MAX_DATA) {
            throw ApiError.badRequest("Field 'data' is " + data.length() + " characters of JSON; at most "
                    + ActivityAnswer.MAX_DATA);
        }
        long runId = engine.start(process, key, data, requestor, caller.name());
        audit.record(caller.name(), "process-start", "process " + process.name() + " run " + runId, null,
                "run " + runId + " started, key " + key);
        return new Status(201, Map.of("runId", runId), "/api/processes/" + process.name() + "/runs/" + runId);
    }

    private Page<Map<String, Object>> runs(Message in) throws SQLException {
        Process process = process(in);
        String status = OperatorApi.optional(in, "status");
        if (status != null && !RUN_STATUSES.contains(status)) {
            throw ApiError.badRequest("Parameter 'status' must be one of " + RUN_STATUSES.stream().sorted().toList()
                    + "; got '" + status + "'");
        }
        Page<Run> page = store.runs(process.name(), status, OperatorApi.limit(in),
                OperatorApi.longParam(in, "after"));
        return new Page<>(page.items().stream().map(ProcessApi::run).toList(), page.next());
    }

    private Map<String, Object> run(Message in) throws SQLException {
        Process process = process(in);
        Long id = OperatorApi.longParam(in, "id");
        Run run = store.run(id).filter(r -> r.process().equals(process.name()))
                .orElseThrow(() -> ApiError.notFound("Process " + process.name() + " has no run " + id));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("run", run(run));
        answer.put("tasks", store.tasks(run.runId()).stream().map(ProcessApi::task).toList());
        return answer;
    }

    private Map<String, Object> retry(Caller caller, Message in) throws SQLException, JsonProcessingException {
        Process process = process(in);
        Long id = OperatorApi.longParam(in, "id");
        String note = OperatorApi.note(in);
        store.run(id).filter(r -> r.process().equals(process.name()))
                .orElseThrow(() -> ApiError.notFound("Process " + process.name() + " has no run " + id));
        List<Long> retried = engine.retryFailed(id, caller.name());
        if (retried.isEmpty()) {
            throw ApiError.conflict("Run " + id + " of process " + process.name() + " has no task in error to call"
                    + " again", Map.of("runId", id));
        }
        audit.record(caller.name(), "process-retry", "process " + process.name() + " run " + id, note,
                retried.size() + (retried.size() == 1 ? " task" : " tasks") + " scheduled again: " + retried);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("retried", retried);
        answer.putAll(run(in));
        return answer;
    }

    private Process process(Message in) {
        String name = OperatorApi.text(in, "name");
        return (NAME.matcher(name).matches() ? definitions.find(name) : Optional.<Process>empty()).orElseThrow(() -> ApiError.notFound("No process named '" + name
                + "'; declared: " + definitions.all().stream().map(Process::name).toList()
                + " (process.<name>.start-url)"));
    }

    private static String text(JsonNode body, String field, boolean required, int max) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            if (required) {
                throw ApiError.badRequest("Field '" + field + "' is missing from the body");
            }
            return null;
        }
        if (!value.isTextual() || value.asText().isBlank()) {
            throw ApiError.badRequest("Field '" + field + "' must be a non-empty string; got " + value);
        }
        if (value.asText().length() > max) {
            throw ApiError.badRequest("Field '" + field + "' is longer than " + max + " characters");
        }
        return value.asText();
    }

    private static Map<String, Object> run(Run r) {
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("runId", r.runId());
        run.put("process", r.process());
        run.put("key", r.key());
        run.put("requestor", r.requestor());
        run.put("startedBy", r.startedBy());
        run.put("status", r.status());
        run.put("tasks", r.tasks());
        run.put("openTasks", r.openTasks());
        run.put("failedTasks", r.failedTasks());
        run.put("startedAt", r.startedAt());
        run.put("endedAt", r.endedAt());
        run.put("data", json(r.data()));
        return run;
    }

    private static Map<String, Object> task(Task t) {
        Map<String, Object> task = new LinkedHashMap<>();
        task.put("taskId", t.taskId());
        task.put("parentTaskId", t.parentTaskId());
        task.put("name", t.name());
        task.put("url", Secrets.maskUrl(t.url()));
        task.put("status", t.status());
        task.put("attempts", t.attempts());
        task.put("node", t.node());
        task.put("scheduledAt", t.scheduledAt());
        task.put("startedAt", t.startedAt());
        task.put("endedAt", t.endedAt());
        task.put("httpStatus", t.httpStatus());
        task.put("output", json(t.output()));
        task.put("error", t.error());
        task.put("errorId", t.errorId());
        return task;
    }

    /** Stored JSON as JSON; anything else (an answer that was not JSON, or cut) as its text. */
    private static Object json(String text) {
        if (text == null) {
            return null;
        }
        try {
            return ActivityAnswer.JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return text;
        }
    }
}
