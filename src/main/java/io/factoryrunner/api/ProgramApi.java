package io.factoryrunner.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.factoryrunner.api.ApiTokens.Role;
import io.factoryrunner.api.OperatorApi.Status;
import io.factoryrunner.api.OperatorQueries.Page;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.program.ProgramStore;
import io.factoryrunner.program.Programs;
import io.factoryrunner.program.Submission;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.apache.camel.Message;
import org.apache.camel.model.rest.RestDefinition;

/**
 * The programs of the operator API: submit, start, cancel, list and inspect programs, and the library of program
 * jobs. Its calls are routes of the operator API (its tokens, roles, error body and audit).
 */
public final class ProgramApi implements OperatorApi.Extension {

    private static final Set<String> STATUSES = Set.of("added", "waiting", "running", "finished", "errored",
            "cancelled");
    private static final int MAX_EVENTS = 1000;
    private static final TypeReference<Object> ANY = new TypeReference<>() { };

    /** The program's columns the API shows, its status as {@link ProgramStore#STATUS} reckons it. */
    private static final String COLUMNS = """
            id, run_id, %s AS shown_status, jobs, step, step_retry_count, created_at, next_attempt_at, claimed_by,
            finished_at, errored_at, cancelled_at, error_message, submitted_by""".formatted(ProgramStore.STATUS);

    private static final String EVENTS = """
            SELECT step, job, attempt, outcome, arguments, job_data, node, started_at, duration_ms, exception_class,
                   error_message
              FROM program_event WHERE program_id = ? ORDER BY event_id LIMIT ?""";

    private record Row(long id, Map<String, Object> shown) {
    }

    private final Jdbc jdbc;
    private final Programs programs;
    private final Audit audit;

    public ProgramApi(DataSource dataSource, Clock clock, Programs programs) {
        this.jdbc = Jdbc.of(dataSource);
        this.programs = programs;
        this.audit = new Audit(dataSource, clock);
    }

    @Override
    public void addCalls(OperatorApi calls, RestDefinition api) {
        calls.call(api.post("/programs").description("Submits a program: body {\"jobs\": [\"a\", \"b\"],"
                + " \"programData\": {...}, \"jobData\": {\"a\": {...}}} or {\"steps\": [[\"a\", {...}], [\"b\"]]};"
                + " \"start\": false only adds it. 201 with its runId"), "api-program-submit", Role.OPERATOR,
                (c, in) -> submit(c.name(), in));
        calls.call(api.get("/programs").description("Programs, newest first; filter status (added, waiting, running,"
                + " finished, errored, cancelled); keyset paging by after"), "api-programs", Role.VIEWER,
                (c, in) -> list(OperatorApi.optional(in, "status"), OperatorApi.limit(in),
                        OperatorApi.longParam(in, "after")));
        calls.call(api.get("/programs/{runId}").description("One program: its steps with their status, and an event"
                + " per step attempt (job, arguments, outcome, duration, error)"), "api-program", Role.VIEWER,
                (c, in) -> program(OperatorApi.text(in, "runId")));
        calls.call(api.post("/programs/{runId}/execute").description("Starts a program submitted with \"start\":"
                + " false; 409 when it was started already"), "api-program-execute", Role.OPERATOR,
                (c, in) -> execute(c.name(), OperatorApi.text(in, "runId"), OperatorApi.note(in)));
        calls.call(api.post("/programs/{runId}/cancel").description("Cancels a program: no step starts from now on (a"
                + " step under way ends); 409 when it has ended"), "api-program-cancel", Role.OPERATOR,
                (c, in) -> cancel(c.name(), OperatorApi.text(in, "runId"), OperatorApi.note(in)));
        calls.call(api.post("/programs/{runId}/resume").description("Resumes an errored program at the step that"
                + " failed, with the job data that step stored; 409 when it is not errored"), "api-program-resume",
                Role.OPERATOR, (c, in) -> resume(c.name(), OperatorApi.text(in, "runId"), OperatorApi.note(in)));
        calls.call(api.get("/program-jobs").description("The program jobs: name, route, file, description"),
                "api-program-jobs", Role.VIEWER, (c, in) -> Map.of("jobs", programs.jobs().library()));
    }

    private Status submit(String caller, Message in) throws SQLException, JsonProcessingException {
        Submission program = Submission.parse(OperatorApi.body(in));
        List<String> unknown = programs.jobs().unknown(program.jobs());
        if (!unknown.isEmpty()) {
            throw new ApiError(400, programs.unknownJobs(unknown), Map.of("unknownJobs", unknown,
                    "programJobs", programs.jobs().names()));
        }
        String runId = programs.submit(program, caller);
        audit.record(caller, "program-submit", "program " + runId, null, (program.start() ? "started: " : "added: ")
                + String.join(", ", program.jobs()));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("runId", runId);
        return new Status(201, answer, "/api/programs/" + runId);
    }

    private Map<String, Object> execute(String caller, String runId, String note) throws SQLException {
        if (!programs.execute(runId)) {
            String status = statusOf(runId);
            audit.record(caller, "program-execute", "program " + runId, note, "refused: " + status);
            throw ApiError.conflict("Program " + runId + " is " + status + "; only a program added with \"start\":"
                    + " false can be started", Map.of("status", status));
        }
        audit.record(caller, "program-execute", "program " + runId, note, "started");
        return Map.of("runId", runId, "status", "waiting");
    }

    private Map<String, Object> cancel(String caller, String runId, String note) throws SQLException {
        if (!programs.store().cancel(runId)) {
            String status = statusOf(runId);
            audit.record(caller, "program-cancel", "program " + runId, note, "refused: " + status);
            throw ApiError.conflict("Program " + runId + " has ended (" + status + "); there is nothing to cancel",
                    Map.of("status", status));
        }
        audit.record(caller, "program-cancel", "program " + runId, note, "cancelled");
        return Map.of("runId", runId, "status", "cancelled");
    }

    private Map<String, Object> resume(String caller, String runId, String note) throws SQLException {
        if (!programs.resume(runId)) {
            String status = statusOf(runId);
            audit.record(caller, "program-resume", "program " + runId, note, "refused: " + status);
            throw ApiError.conflict("Program " + runId + " is " + status + (status.equals("errored")
                    ? " but its step is still under way; resume it once the step has ended"
                    : "; only an errored program can be resumed"), Map.of("status", status));
        }
        audit.record(caller, "program-resume", "program " + runId, note, "resumed");
        return Map.of("runId", runId, "status", "waiting");
    }

    private String statusOf(String runId) throws SQLException {
        return programs.store().statusOf(runId)
                .orElseThrow(() -> ApiError.notFound("No program with runId '" + runId + "'"));
    }

    private Page<Map<String, Object>> list(String status, int limit, Long after) throws SQLException {
        List<String> conditions = new ArrayList<>();
        List<Object> args = new ArrayList<>();
        if (status != null) {
            if (!STATUSES.contains(status)) {
                throw ApiError.badRequest("Parameter 'status' must be one of added, waiting, running, finished,"
                        + " errored, cancelled; got '" + status + "'");
            }
            switch (status) {
                case "finished" -> conditions.add("finished_at IS NOT NULL");
                case "errored" -> conditions.add("finished_at IS NULL AND errored_at IS NOT NULL");
                case "cancelled" -> conditions.add("finished_at IS NULL AND errored_at IS NULL"
                        + " AND cancelled_at IS NOT NULL");
                default -> {
                    conditions.add("status = ? AND finished_at IS NULL AND errored_at IS NULL"
                            + " AND cancelled_at IS NULL");
                    args.add(status);
                }
            }
        }
        if (after != null) {
            conditions.add("id < ?");
            args.add(after);
        }
        String where = conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
        List<Row> rows = jdbc.query("SELECT " + COLUMNS + " FROM program" + where + " ORDER BY id DESC LIMIT "
                + (limit + 1), ProgramApi::row, args.toArray());
        List<Map<String, Object>> items = rows.stream().limit(limit).map(Row::shown).toList();
        String next = rows.size() > limit ? String.valueOf(rows.get(limit - 1).id()) : null;
        return new Page<>(items, next);
    }

    private Map<String, Object> program(String runId) throws SQLException {
        Optional<Row> found = jdbc.queryFirst("SELECT " + COLUMNS + ", program_data, step_arguments, job_data,"
                + " last_result FROM program WHERE run_id = ?", rs -> {
                    Row row = row(rs);
                    row.shown().put("programData", json(rs.getString("program_data")));
                    row.shown().put("result", json(rs.getString("last_result")));
                    row.shown().put("stepArguments", json(rs.getString("step_arguments")));
                    row.shown().put("stepJobData", json(rs.getString("job_data")));
                    return row;
                }, runId);
        Row row = found.orElseThrow(() -> ApiError.notFound("No program with runId '" + runId + "'"));
        List<Map<String, Object>> events = jdbc.query(EVENTS, rs -> {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("step", rs.getInt("step"));
            e.put("job", rs.getString("job"));
            e.put("attempt", rs.getInt("attempt"));
            e.put("outcome", rs.getString("outcome"));
            e.put("arguments", json(rs.getString("arguments")));
            e.put("jobData", json(rs.getString("job_data")));
            e.put("node", rs.getString("node"));
            e.put("startedAt", Jdbc.instant(rs, "started_at"));
            e.put("durationMs", rs.getLong("duration_ms"));
            e.put("exception", rs.getString("exception_class"));
            e.put("error", rs.getString("error_message"));
            return e;
        }, row.id(), MAX_EVENTS);
        Map<String, Object> program = row.shown();
        Object arguments = program.remove("stepArguments");
        Object jobData = program.remove("stepJobData");
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("program", program);
        answer.put("steps", steps(program, arguments, jobData, events));
        answer.put("events", events);
        return answer;
    }

    /** Each step with its arguments, its job data and where it stands. */
    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> steps(Map<String, Object> program, Object arguments, Object jobData,
            List<Map<String, Object>> events) {
        List<String> jobs = (List<String>) program.get("jobs");
        int current = (Integer) program.get("step");
        String status = (String) program.get("status");
        int retries = (Integer) program.get("stepRetryCount");
        boolean failedHere = events.stream().anyMatch(e -> e.get("step").equals(current)
                && "failed".equals(e.get("outcome")));
        List<Map<String, Object>> steps = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            String state;
            if (i < current) {
                state = "done";
            } else if (i == current) {
                state = switch (status) {
                    case "running" -> "running";
                    case "waiting" -> retries > 0 ? "retrying" : "waiting";
                    case "added" -> "pending";
                    case "errored" -> failedHere ? "failed" : "skipped";
                    default -> "skipped";
                };
            } else {
                state = status.equals("errored") || status.equals("cancelled") ? "skipped" : "pending";
            }
            Map<String, Object> step = new LinkedHashMap<>();
            step.put("step", i);
            step.put("job", jobs.get(i));
            step.put("status", state);
            step.put("arguments", ((List<Object>) arguments).get(i));
            step.put("jobData", ((List<Object>) jobData).get(i));
            steps.add(step);
        }
        return steps;
    }

    private static Row row(ResultSet rs) throws SQLException {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("runId", rs.getString("run_id"));
        p.put("status", rs.getString("shown_status"));
        p.put("jobs", json(rs.getString("jobs")));
        p.put("step", rs.getInt("step"));
        p.put("stepRetryCount", rs.getInt("step_retry_count"));
        p.put("createdAt", Jdbc.instant(rs, "created_at"));
        p.put("nextAttemptAt", Jdbc.instant(rs, "next_attempt_at"));
        p.put("claimedBy", rs.getString("claimed_by"));
        p.put("finishedAt", Jdbc.instant(rs, "finished_at"));
        p.put("erroredAt", Jdbc.instant(rs, "errored_at"));
        p.put("cancelledAt", Jdbc.instant(rs, "cancelled_at"));
        p.put("errorMessage", rs.getString("error_message"));
        p.put("submittedBy", rs.getString("submitted_by"));
        return new Row(rs.getLong("id"), p);
    }

    private static Object json(String text) {
        if (text == null) {
            return null;
        }
        try {
            return OperatorApi.JSON.readValue(text, ANY);
        } catch (JsonProcessingException e) {
            return text;
        }
    }
}
