package io.factoryrunner.program;

import io.factoryrunner.db.Jdbc;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The program table: programs submitted, claimed by a node's workers, moved on step by step, retried, ended. Every
 * write of a running program is guarded by the node that claimed it ({@code claimed_by}) and its status, and checks
 * the rows it changed: a node that lost its claim (taken over after it went silent) writes nothing.
 */
public final class ProgramStore {

    /** A program's status as the API shows it: the end times rule over the executor's status column. */
    public static final String STATUS = """
            CASE WHEN finished_at IS NOT NULL THEN 'finished' WHEN errored_at IS NOT NULL THEN 'errored'
                 WHEN cancelled_at IS NOT NULL THEN 'cancelled' ELSE status END""";

    private static final String INSERT = """
            INSERT INTO program (run_id, program_data, jobs, step_arguments, job_data, status, next_attempt_at,
                                 submitted_by, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";

    private static final String CLAIMED_COLUMNS = """
            id, run_id, program_data, jobs, step_arguments, job_data, step, step_retry_count, last_result""";

    private static final String DUE = """
            status = 'waiting' AND next_attempt_at <= ? AND errored_at IS NULL AND cancelled_at IS NULL
               AND finished_at IS NULL""";

    /**
     * PostgreSQL: one statement claims a batch. SKIP LOCKED lets nodes claiming at the same moment take different
     * programs instead of queueing behind each other's row locks.
     */
    private static final String CLAIM_POSTGRES = """
            UPDATE program p SET status = 'running', claimed_by = ?, claimed_at = ?, updated_at = ?
              FROM (SELECT id FROM program WHERE %s ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) due
             WHERE p.id = due.id
            RETURNING p.id, p.run_id, p.program_data, p.jobs, p.step_arguments, p.job_data, p.step,
                      p.step_retry_count, p.last_result""".formatted(DUE);

    /** H2, which one process opens: the rows are locked while they are marked, and read with the mark. */
    private static final String SELECT_DUE = "SELECT " + CLAIMED_COLUMNS + " FROM program WHERE " + DUE
            + " ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE";

    private static final String MARK_CLAIMED = """
            UPDATE program SET status = 'running', claimed_by = ?, claimed_at = ?, updated_at = ?
             WHERE id = ? AND status = 'waiting'""";

    // the end times are checked in the same statement, so a program cancelled or errored by hand during the step
    // stops here, its step's work recorded
    private static final String STEP_DONE = """
            UPDATE program
               SET step = ?, job_data = ?, last_result = ?, step_retry_count = 0, error_message = NULL,
                   updated_at = ?, finished_at = ?,
                   status = CASE WHEN ? = 'finished' THEN 'finished' WHEN errored_at IS NOT NULL THEN 'errored'
                                 WHEN cancelled_at IS NOT NULL THEN 'cancelled' ELSE 'running' END,
                   claimed_by = CASE WHEN ? = 'finished' OR errored_at IS NOT NULL OR cancelled_at IS NOT NULL
                                     THEN NULL ELSE claimed_by END
             WHERE id = ? AND claimed_by = ? AND status = 'running'""";

    private static final String STATUS_OF = "SELECT status FROM program WHERE id = ?";

    /**
     * PostgreSQL: the completions of a batch of steps (of different programs), their events and the programs' statuses
     * in one statement, committed on its own: one round trip and one commit for the batch. The arrays are the steps'
     * columns, one element per step.
     */
    private static final String STEPS_DONE_POSTGRES = """
            WITH done AS (
                SELECT * FROM unnest(CAST(? AS BIGINT[]), CAST(? AS INTEGER[]), CAST(? AS VARCHAR[]),
                                     CAST(? AS VARCHAR[]), CAST(? AS BOOLEAN[]), CAST(? AS VARCHAR[]),
                                     CAST(? AS INTEGER[]), CAST(? AS VARCHAR[]), CAST(? AS VARCHAR[]),
                                     CAST(? AS TIMESTAMP WITH TIME ZONE[]), CAST(? AS BIGINT[]))
                    AS t(id, next_step, job_data, last_result, last, job, attempt, arguments, event_job_data,
                         started_at, duration_ms)),
            moved AS (
                UPDATE program p
                   SET step = d.next_step, job_data = d.job_data, last_result = d.last_result, step_retry_count = 0,
                       error_message = NULL, updated_at = ?,
                       finished_at = CASE WHEN d.last THEN CAST(? AS TIMESTAMP WITH TIME ZONE) END,
                       status = CASE WHEN d.last THEN 'finished' WHEN p.errored_at IS NOT NULL THEN 'errored'
                                     WHEN p.cancelled_at IS NOT NULL THEN 'cancelled' ELSE 'running' END,
                       claimed_by = CASE WHEN d.last OR p.errored_at IS NOT NULL OR p.cancelled_at IS NOT NULL
                                         THEN NULL ELSE p.claimed_by END
                  FROM done d
                 -- the status is tested as an expression that no index serves: the planner, whose statistics may
                 -- date from an empty table, would otherwise walk every running program through the status index
                 -- instead of looking each step's program up by its key
                 WHERE p.id = d.id AND p.claimed_by = ? AND (p.status = 'running') IS TRUE
                RETURNING p.id, p.status),
            event AS (
                INSERT INTO program_event (program_id, step, job, attempt, outcome, arguments, job_data, node,
                                           started_at, duration_ms)
                SELECT d.id, d.next_step - 1, d.job, d.attempt, 'succeeded', d.arguments, d.event_job_data, ?,
                       d.started_at, d.duration_ms
                  FROM done d JOIN moved m ON m.id = d.id)
            SELECT id, status FROM moved""";

    private static final String STEP_RETRY = """
            UPDATE program
               SET step_retry_count = step_retry_count + 1, error_message = ?, job_data = ?, status = 'waiting',
                   next_attempt_at = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ?
             WHERE id = ? AND claimed_by = ? AND status = 'running'""";

    private static final String STEP_FAILED = """
            UPDATE program
               SET errored_at = COALESCE(errored_at, ?), error_message = ?, job_data = ?, status = 'errored',
                   claimed_by = NULL, updated_at = ?
             WHERE id = ? AND claimed_by = ? AND status = 'running'""";

    private static final String INSERT_EVENT = """
            INSERT INTO program_event (program_id, step, job, attempt, outcome, arguments, job_data, node, started_at,
                                       duration_ms, exception_class, error_message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";

    /** Who holds a program, its status, and whether it was cancelled or errored by hand. */
    private static final String HOLDER = """
            SELECT claimed_by, status, CASE WHEN errored_at IS NOT NULL OR cancelled_at IS NOT NULL THEN 1 ELSE 0 END
              FROM program
             WHERE id = ?""";

    private static final String STOP_IF_ENDED = """
            UPDATE program
               SET status = CASE WHEN errored_at IS NOT NULL THEN 'errored' ELSE 'cancelled' END, claimed_by = NULL,
                   updated_at = ?
             WHERE id = ? AND claimed_by = ? AND status = 'running'
               AND (errored_at IS NOT NULL OR cancelled_at IS NOT NULL)""";

    private static final String WRITE_JOB_DATA = """
            UPDATE program SET job_data = ?, updated_at = ? WHERE id = ? AND claimed_by = ? AND status = 'running'""";

    private static final String RELEASE = """
            UPDATE program SET status = 'waiting', claimed_by = NULL, claimed_at = NULL, next_attempt_at = ?,
                               updated_at = ?
             WHERE id = ? AND claimed_by = ? AND status = 'running'""";

    private static final String RELEASE_ALL = """
            UPDATE program SET status = 'waiting', claimed_by = NULL, claimed_at = NULL, next_attempt_at = ?,
                               updated_at = ?
             WHERE status = 'running'""";

    private static final String RELEASE_OF_NODE = RELEASE_ALL + " AND claimed_by = ?";

    private static final String RELEASE_OF_SILENT_NODES = RELEASE_ALL + """
             AND claimed_by IN (SELECT node FROM factory_node
                                 WHERE last_seen_at < CURRENT_TIMESTAMP - ? * INTERVAL '1' SECOND)
               AND claimed_by <> ?""";

    private static final String EXECUTE = """
            UPDATE program SET status = 'waiting', next_attempt_at = ?, updated_at = ?
             WHERE run_id = ? AND status = 'added' AND errored_at IS NULL AND cancelled_at IS NULL""";

    // a running program keeps its status until its worker sees the cancel, after the step under way
    private static final String CANCEL = """
            UPDATE program SET cancelled_at = ?, updated_at = ?,
                               status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END
             WHERE run_id = ? AND finished_at IS NULL AND errored_at IS NULL AND cancelled_at IS NULL""";

    // not while a worker holds it (a program errored by hand during a step is still running it); the failed
    // attempt's job data stays, so the step goes on from the progress it stored
    private static final String RESUME = """
            UPDATE program SET errored_at = NULL, error_message = NULL, step_retry_count = 0, status = 'waiting',
                               next_attempt_at = ?, updated_at = ?
             WHERE run_id = ? AND errored_at IS NOT NULL AND status <> 'running' AND finished_at IS NULL
               AND cancelled_at IS NULL""";

    private static final Jdbc.RowMapper<Program> CLAIMED = rs -> new Program(rs.getLong(1), rs.getString(2),
            ProgramJson.object(rs.getString(3)), ProgramJson.names(rs.getString(4)),
            ProgramJson.objects(rs.getString(5)), ProgramJson.objects(rs.getString(6)), rs.getInt(7), rs.getInt(8),
            ProgramJson.read(rs.getString(9)));

    /** What a step's attempt came to, as its event records it. */
    record StepRecord(int step, String job, int attempt, String outcome, String argumentsJson, String jobDataJson,
            String node, Instant startedAt, long durationMs, String exceptionClass, String errorMessage) {
    }

    /**
     * Where a program claimed a while ago stands before its next step: still this node's to run, stopped (cancelled,
     * or errored by hand), or no longer this node's (another node took it over while this one was silent).
     */
    enum Hold {
        HELD, STOPPED, LOST
    }

    /** After a step's success: go on with the next step, or stop (the program ended, or is no longer this node's). */
    enum Next {
        CONTINUE, FINISHED, STOPPED, LOST
    }

    private final Jdbc jdbc;
    private final Clock clock;
    private final boolean postgres;

    public ProgramStore(DataSource dataSource, Clock clock, boolean postgres) {
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.postgres = postgres;
    }

    Jdbc jdbc() {
        return jdbc;
    }

    /** Adds a program; started, it is due at once. Returns its run id. */
    public String submit(Submission program, String submittedBy) throws SQLException {
        String runId = UUID.randomUUID().toString();
        Instant now = clock.instant();
        jdbc.update(INSERT, runId, ProgramJson.write(program.programData()), ProgramJson.write(program.jobs()),
                ProgramJson.write(program.arguments()), ProgramJson.write(program.jobData()),
                program.start() ? "waiting" : "added", program.start() ? now : null, submittedBy, now, now);
        return runId;
    }

    /** Claims up to {@code limit} due programs for {@code node}, oldest due first. */
    List<Program> claim(String node, int limit) throws SQLException {
        Instant now = clock.instant();
        if (postgres) {
            return jdbc.query(CLAIM_POSTGRES, CLAIMED, node, now, now, now, limit);
        }
        return jdbc.inTransaction(tx -> {
            List<Program> due = tx.query(SELECT_DUE, CLAIMED, now, limit);
            List<Program> claimed = new ArrayList<>();
            for (Program p : due) {
                if (tx.update(MARK_CLAIMED, node, now, now, p.id) == 1) {
                    claimed.add(p);
                }
            }
            return claimed;
        });
    }

    /** A step's success as a worker hands it in: the program, where it moves to, its event and its result. */
    record Done(Program program, int nextStep, String jobDataJson, String resultJson, boolean last,
            StepRecord event) {

        Done(Program p, StepRecord event, String resultJson) {
            this(p, p.step + 1, ProgramJson.write(p.jobData), resultJson, p.isLastStep(), event);
        }
    }

    /**
     * Records steps' successes and moves each program to its next step: a step's completion, its event and the
     * program's advance are committed together, so a crash after it never runs the step again and a crash before it
     * runs the step again. Steps of several programs share the commit. Answers, per step in order, what comes next.
     */
    List<Next> stepsDone(List<Done> steps, String node) throws SQLException {
        Instant now = clock.instant();
        if (postgres) {
            Map<Long, String> moved = jdbc.withConnection(c -> {
                List<Object> columns = List.of(
                        c.createArrayOf("bigint", steps.stream().map(d -> d.program().id).toArray()),
                        c.createArrayOf("integer", steps.stream().map(Done::nextStep).toArray()),
                        c.createArrayOf("varchar", steps.stream().map(Done::jobDataJson).toArray()),
                        c.createArrayOf("varchar", steps.stream().map(Done::resultJson).toArray()),
                        c.createArrayOf("boolean", steps.stream().map(Done::last).toArray()),
                        c.createArrayOf("varchar", steps.stream().map(d -> d.event().job()).toArray()),
                        c.createArrayOf("integer", steps.stream().map(d -> d.event().attempt()).toArray()),
                        c.createArrayOf("varchar", steps.stream().map(d -> d.event().argumentsJson()).toArray()),
                        c.createArrayOf("varchar", steps.stream().map(d -> d.event().jobDataJson()).toArray()),
                        c.createArrayOf("timestamptz", steps.stream()
                                .map(d -> Timestamp.from(d.event().startedAt())).toArray()),
                        c.createArrayOf("bigint", steps.stream().map(d -> d.event().durationMs()).toArray()));
                Map<Long, String> statuses = new HashMap<>();
                try (PreparedStatement ps = c.prepareStatement(STEPS_DONE_POSTGRES)) {
                    List<Object> args = new ArrayList<>(columns);
                    args.addAll(List.of(now, now, node, node));
                    Jdbc.bind(ps, args.toArray());
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            statuses.put(rs.getLong(1), rs.getString(2));
                        }
                    }
                }
                return statuses;
            });
            return steps.stream().map(d -> next(d, moved.get(d.program().id))).toList();
        }
        return jdbc.inTransaction(tx -> {
            List<Next> answers = new ArrayList<>();
            for (Done d : steps) {
                String end = d.last() ? "finished" : "running";
                if (tx.update(STEP_DONE, d.nextStep(), d.jobDataJson(), d.resultJson(), now, d.last() ? now : null,
                        end, end, d.program().id, node) != 1) {
                    answers.add(Next.LOST);
                    continue;
                }
                insertEvent(tx, d.program().id, d.event());
                answers.add(next(d, tx.queryFirst(STATUS_OF, rs -> rs.getString(1), d.program().id).orElse(null)));
            }
            return answers;
        });
    }

    private static Next next(Done d, String status) {
        if (status == null) {
            return Next.LOST;
        }
        return d.last() ? Next.FINISHED : status.equals("running") ? Next.CONTINUE : Next.STOPPED;
    }

    /** Puts the program back to try the step again at {@code next}, with the job data stored so far. */
    boolean stepRetry(Program p, StepRecord event, Instant next, String node) throws SQLException {
        Instant now = clock.instant();
        return jdbc.inTransaction(tx -> {
            if (tx.update(STEP_RETRY, event.errorMessage(), ProgramJson.write(p.jobData), next, now, p.id,
                    node) != 1) {
                return false;
            }
            insertEvent(tx, p.id, event);
            return true;
        });
    }

    /** Ends the program with an error at its step; the remaining steps are skipped. */
    boolean stepFailed(Program p, StepRecord event, String node) throws SQLException {
        Instant now = clock.instant();
        return jdbc.inTransaction(tx -> {
            if (tx.update(STEP_FAILED, now, event.errorMessage(), ProgramJson.write(p.jobData), now, p.id,
                    node) != 1) {
                return false;
            }
            insertEvent(tx, p.id, event);
            return true;
        });
    }

    private static void insertEvent(Jdbc tx, long programId, StepRecord e) throws SQLException {
        tx.update(INSERT_EVENT, programId, e.step(), e.job(), e.attempt(), e.outcome(), e.argumentsJson(),
                e.jobDataJson(), e.node(), e.startedAt(), e.durationMs(), e.exceptionClass(), e.errorMessage());
    }

    /**
     * Before the next step of a program this node claimed, or committed a step of, a while ago: whether the node still
     * holds it. One cancelled, or errored by hand, since then is let go of: its status says so from now on.
     */
    Hold holdOf(long id, String node) throws SQLException {
        Optional<Hold> hold = jdbc.queryFirst(HOLDER, rs -> !node.equals(rs.getString(1))
                || !"running".equals(rs.getString(2)) ? Hold.LOST : rs.getInt(3) == 1 ? Hold.STOPPED : Hold.HELD, id);
        if (hold.orElse(Hold.LOST) != Hold.STOPPED) {
            return hold.orElse(Hold.LOST);
        }
        return jdbc.update(STOP_IF_ENDED, clock.instant(), id, node) == 1 ? Hold.STOPPED : Hold.LOST;
    }

    /** Writes a running program's job data now; false when the node no longer holds it. */
    boolean writeJobData(long id, String node, String jobDataJson) throws SQLException {
        return jdbc.update(WRITE_JOB_DATA, jobDataJson, clock.instant(), id, node) == 1;
    }

    /** Gives a program back, due at {@code at}, with no attempt counted (a stop; the job's route is away). */
    boolean release(long id, String node, Instant at) throws SQLException {
        return jdbc.update(RELEASE, at, clock.instant(), id, node) == 1;
    }

    /** The programs every node left running (the database is this process's alone): due again now. */
    public int releaseAllRunning() throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(RELEASE_ALL, now, now);
    }

    /** The programs this node left running when it stopped or died: due again now. */
    public int releaseRunningOf(String node) throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(RELEASE_OF_NODE, now, now, node);
    }

    /** The programs held by nodes not seen for {@code staleAfter} (by the database's clock): due again now. */
    int releaseOfSilentNodes(Duration staleAfter, String self) throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(RELEASE_OF_SILENT_NODES, now, now, staleAfter.toSeconds(), self);
    }

    /** Starts a program added with {@code "start": false}; false when it is not waiting to be started. */
    public boolean execute(String runId) throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(EXECUTE, now, now, runId) == 1;
    }

    /** Cancels a program that has not ended: none of its steps starts from now on. False when it had ended. */
    public boolean cancel(String runId) throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(CANCEL, now, now, runId) == 1;
    }

    /**
     * Resumes an errored program at the step that failed, with the job data that step's last attempt stored, its
     * attempts counted afresh; false when it is not errored, or its worker has not let it go yet.
     */
    public boolean resume(String runId) throws SQLException {
        Instant now = clock.instant();
        return jdbc.update(RESUME, now, now, runId) == 1;
    }

    /** The program's status as the API shows it, if there is such a program. */
    public Optional<String> statusOf(String runId) throws SQLException {
        return jdbc.queryFirst("SELECT " + STATUS + " FROM program WHERE run_id = ?", rs -> rs.getString(1), runId);
    }
}
