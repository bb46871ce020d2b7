package io.factoryrunner.program;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.sql.SQLException;
import java.util.List;
import org.apache.camel.Exchange;

/**
 * Submits programs: the operator API's {@code POST /api/programs}, and the {@code programs} bean, with which a route
 * (a program job too) starts another program. The bean takes the submission as the body, a Map or JSON text in the
 * API's form, and answers the new program's run id as the body:
 * <pre>
 * - setBody:
 *     constant: '{"jobs": ["send_report"], "programData": {"customer": "acme"}}'
 * - bean:
 *     ref: programs
 *     method: submit
 * </pre>
 */
public final class Programs {

    private final ProgramStore store;
    private final ProgramJobs jobs;
    private volatile Runnable submitted = () -> { };

    public Programs(ProgramStore store, ProgramJobs jobs) {
        this.store = store;
        this.jobs = jobs;
    }

    /** Told of each program submitted or started, so that the executor looks for it at once. */
    public void afterSubmitted(Runnable action) {
        submitted = action;
    }

    public ProgramStore store() {
        return store;
    }

    public ProgramJobs jobs() {
        return jobs;
    }

    /** The bean's method: submits the body's program; the answer, the new program's run id, becomes the body. */
    public String submit(Object body, Exchange exchange) throws SQLException {
        JsonNode node;
        try {
            node = body instanceof String text ? ProgramJson.JSON.readTree(text) : ProgramJson.JSON.valueToTree(body);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("The program to submit is not valid JSON: " + e.getOriginalMessage(), e);
        }
        Submission program = Submission.parse(node);
        List<String> unknown = jobs.unknown(program.jobs());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(unknownJobs(unknown));
        }
        String by = exchange.getMessage().getHeader(ProgramConstants.RUN_ID, String.class);
        return submit(program, by != null ? "program " + by : "route " + exchange.getFromRouteId());
    }

    /** Adds the program (and starts it unless it says start: false); its run id. */
    public String submit(Submission program, String submittedBy) throws SQLException {
        String runId = store.submit(program, submittedBy);
        if (program.start()) {
            submitted.run();
        }
        return runId;
    }

    /** Starts a program added with start: false; false when there is none waiting to be started under the id. */
    public boolean execute(String runId) throws SQLException {
        boolean started = store.execute(runId);
        if (started) {
            submitted.run();
        }
        return started;
    }

    /**
     * Resumes an errored program at the step that failed (see {@link ProgramStore#resume}); false when it is not
     * errored.
     */
    public boolean resume(String runId) throws SQLException {
        boolean resumed = store.resume(runId);
        if (resumed) {
            submitted.run();
        }
        return resumed;
    }

    /** The words of a refusal of job names no route declares. */
    public String unknownJobs(List<String> unknown) {
        return "Unknown program job" + (unknown.size() > 1 ? "s " : " ") + "'" + String.join("', '", unknown)
                + "'; the factory's program jobs are " + (jobs.names().isEmpty() ? "none (no route starts with"
                + " program:NAME)" : String.join(", ", jobs.names())) + " (GET /api/program-jobs)";
    }
}
