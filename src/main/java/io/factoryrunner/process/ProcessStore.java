package io.factoryrunner.process;

import io.factoryrunner.api.OperatorQueries.Page;
import io.factoryrunner.db.Jdbc;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The process tables: {@code process_run} (one row per run) and {@code process_task} (one row per call of an
 * activity). A task's end, the tasks its answer names and the run's counts are written in one transaction, so a
 * crash leaves a task either running (called again: at least once) or ended with its next tasks scheduled.
 */
public final class ProcessStore {

    /** One run of a process. */
    public record Run(long runId, String process, String key, String data, String requestor, String startedBy,
            String status, int tasks, int openTasks, int failedTasks, Instant startedAt, Instant endedAt) {
    }

    /** One task of a run, as the API shows it. */
    public record Task(long taskId, Long parentTaskId, String name, String url, String status, int attempts,
            String node, Instant scheduledAt, Instant startedAt, Instant endedAt, Integer httpStatus, String output,
            String error, Long errorId) {
    }

    /** A task a worker has claimed: what its call sends, and the attempt that guards its end. */
    public record Claimed(long taskId, long runId, String process, String name, String url, String input,
            String key, String requestor, int attempts) {
    }

    /** An activity an answer named, to be called with {@code input}. */
    public record Next(String name, String url) {
    }

    /** How a task ended. */
    public record Outcome(TaskStatus status, Integer httpStatus, String output, String error, Long errorId,
            List<Next> next, String nextInput) {
    }

    private static final String RUN_COLUMNS = """
            run_id, process, run_key, data, requestor, started_by, status, tasks, open_tasks, failed_tasks,
            started_at, ended_at""";

    private static final Jdbc.RowMapper<Run> RUN = rs -> new Run(rs.getLong("run_id"), rs.getString("process"),
            rs.getString("run_key"), rs.getString("data"), rs.getString("requestor"), rs.getString("started_by"),
            rs.getString("status"), rs.getInt("tasks"), rs.getInt("open_tasks"), rs.getInt("failed_tasks"),
            Jdbc.instant(rs, "started_at"), Jdbc.instant(rs, "ended_at"));

    private static final String TASK_COLUMNS = """
            task_id, parent_task_id, name, url, status, attempts, node, scheduled_at, started_at, ended_at,
            http_status, output, error_message, error_id""";

    private static final Jdbc.RowMapper<Task> TASK = rs -> new Task(rs.getLong("task_id"),
            nullableLong(rs, "parent_task_id"), rs.getString("name"), rs.getString("url"), rs.getString("status"),
            rs.getInt("attempts"), rs.getString("node"), Jdbc.instant(rs, "scheduled_at"),
            Jdbc.instant(rs, "started_at"), Jdbc.instant(rs, "ended_at"),
            (Integer) rs.getObject("http_status", Integer.class), rs.getString("output"),
            rs.getString("error_message"), nullableLong(rs, "error_id"));

    private static final String INSERT_RUN = """
            INSERT INTO process_run (process, run_key, data, requestor, started_by, status, tasks, open_tasks,
                                     failed_tasks, started_at)
            VALUES (?, ?, ?, ?, ?, 'running', 1, 1, 0, ?)""";

    private static final String INSERT_TASK = """
            INSERT INTO process_task (run_id, parent_task_id, name, url, input, status, attempts, scheduled_at)
            VALUES (?, ?, ?, ?, ?, 'scheduled', 0, ?)""";

    // oldest first; a task another node is claiming is locked: skipped, not waited for
    private static final String CLAIMABLE = """
            SELECT task_id FROM process_task
             WHERE status = 'scheduled'
             ORDER BY task_id
             LIMIT ?
               FOR UPDATE SKIP LOCKED""";

    private static final String CLAIM = """
            UPDATE process_task
               SET status = 'running', node = ?, started_at = ?, attempts = attempts + 1, ended_at = NULL,
                   http_status = NULL, output = NULL, error_message = NULL, error_id = NULL
             WHERE task_id = ? AND status = 'scheduled'""";

    private static final String CLAIMED = """
            SELECT t.task_id, t.run_id, r.process, t.name, t.url, t.input, r.run_key, r.requestor, t.attempts
              FROM process_task t JOIN process_run r ON r.run_id = t.run_id
             WHERE t.task_id = ?""";

    private static final Jdbc.RowMapper<Claimed> CLAIMED_TASK = rs -> new Claimed(rs.getLong(1), rs.getLong(2),
            rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8),
            rs.getInt(9));

    private static final String CALLED = """
            UPDATE process_task SET started_at = ?
             WHERE task_id = ? AND status = 'running' AND node = ? AND attempts = ?""";

    // only the claim that is still this node's ends the task: one taken back after this node went silent is not
    private static final String END_TASK = """
            UPDATE process_task
               SET status = ?, ended_at = ?, http_status = ?, output = ?, error_message = ?, error_id = ?
             WHERE task_id = ? AND status = 'running' AND node = ? AND attempts = ?""";

    // the run's row is locked by this update until the commit: two branches ending at once are counted in turn
    private static final String COUNT_END = """
            UPDATE process_run
               SET tasks = tasks + ?, open_tasks = open_tasks - 1 + ?, failed_tasks = failed_tasks + ?
             WHERE run_id = ?""";

    private static final String OPEN_TASKS = "SELECT open_tasks, failed_tasks FROM process_run WHERE run_id = ?";

    private static final String END_RUN = """
            UPDATE process_run SET status = ?, ended_at = ? WHERE run_id = ? AND status = 'running'""";

    private static final String RESCHEDULE = """
            UPDATE process_task SET status = 'scheduled', node = NULL
             WHERE status = 'running'""";

    // locked so that two retries of one run at once do not both take them (the second finds none in error); a task
    // still ending meanwhile is left to its end, which counts it in the run
    private static final String FAILED_TASKS = """
            SELECT task_id FROM process_task WHERE run_id = ? AND status = 'error' ORDER BY task_id FOR UPDATE""";

    // the task's last outcome stays in factory_error (error_id); the claim of its next call would clear it anyway
    private static final String SCHEDULE_AGAIN = """
            UPDATE process_task
               SET status = 'scheduled', node = NULL, scheduled_at = ?, ended_at = NULL, http_status = NULL,
                   output = NULL, error_message = NULL, error_id = NULL
             WHERE task_id = ? AND status = 'error'""";

    // after the tasks: a task ending meanwhile has counted itself in the run (its end locks the task, then the run)
    private static final String COUNT_RETRY = """
            UPDATE process_run
               SET open_tasks = open_tasks + ?, failed_tasks = failed_tasks - ?, status = 'running', ended_at = NULL
             WHERE run_id = ?""";

    private static final String SILENT_NODES = """
            SELECT node FROM factory_node WHERE last_seen_at < ? AND node <> ?""";

    private final Jdbc jdbc;

    public ProcessStore(DataSource dataSource) {
        this.jdbc = Jdbc.of(dataSource);
    }

    /** Opens a run of a process with its start task scheduled; returns the run's id. */
    public long start(String process, String startUrl, String key, String data, String requestor, String startedBy,
            Instant now) throws SQLException {
        return jdbc.inTransaction(tx -> {
            long runId = tx.insertReturningKey(INSERT_RUN, process, key, data, requestor, startedBy, now);
            tx.update(INSERT_TASK, runId, null, "start", startUrl, data, now);
            return runId;
        });
    }

    /** Claims up to {@code max} scheduled tasks, oldest first, for this node. */
    public List<Claimed> claim(int max, String node, Instant now) throws SQLException {
        return jdbc.inTransaction(tx -> {
            List<Long> ids = tx.query(CLAIMABLE, rs -> rs.getLong(1), max);
            List<Claimed> claimed = new ArrayList<>();
            for (long id : ids) {
                if (tx.update(CLAIM, node, now, id) == 1) {
                    tx.queryFirst(CLAIMED, CLAIMED_TASK, id).ifPresent(claimed::add);
                }
            }
            return claimed;
        });
    }

    /** Records when the worker began the task's call, which may be later than its claim. */
    public void called(Claimed task, String node, Instant now) throws SQLException {
        jdbc.update(CALLED, now, task.taskId(), node, task.attempts());
    }

    /**
     * Ends a claimed task with its outcome, schedules the tasks its answer named and counts them in the run, which
     * ends when no task of it is left. Empty when the claim is no longer this node's (nothing is written then);
     * otherwise the run's status after this task.
     */
    public Optional<ProcessStatus> end(Claimed task, String node, Outcome outcome, Instant now) throws SQLException {
        return jdbc.inTransaction(tx -> {
            if (tx.update(END_TASK, outcome.status().db(), now, outcome.httpStatus(), outcome.output(),
                    outcome.error(), outcome.errorId(), task.taskId(), node, task.attempts()) != 1) {
                return Optional.<ProcessStatus>empty();
            }
            List<Object[]> next = new ArrayList<>();
            for (Next n : outcome.next()) {
                next.add(new Object[] {task.runId(), task.taskId(), n.name(), n.url(), outcome.nextInput(), now});
            }
            tx.batch(INSERT_TASK, next);
            int failed = outcome.status() == TaskStatus.ERROR ? 1 : 0;
            tx.update(COUNT_END, next.size(), next.size(), failed, task.runId());
            int[] counts = tx.queryFirst(OPEN_TASKS, rs -> new int[] {rs.getInt(1), rs.getInt(2)}, task.runId())
                    .orElseThrow(() -> new SQLException("Process run " + task.runId() + " has no row"));
            if (counts[0] > 0) {
                return Optional.of(ProcessStatus.RUNNING);
            }
            ProcessStatus ended = counts[1] > 0 ? ProcessStatus.DONE_WITH_ERRORS : ProcessStatus.DONE;
            tx.update(END_RUN, ended.db(), now, task.runId());
            return Optional.of(ended);
        });
    }

    /**
     * Schedules again every task of a run that ended in error, each to be called again as it was the first time (same
     * activity, same input); the run is running again until they end. Returns their ids, none when the run has no
     * task in error.
     */
    public List<Long> retryFailed(long runId, Instant now) throws SQLException {
        return jdbc.inTransaction(tx -> {
            List<Long> failed = tx.query(FAILED_TASKS, rs -> rs.getLong(1), runId);
            List<Long> retried = new ArrayList<>();
            for (long taskId : failed) {
                if (tx.update(SCHEDULE_AGAIN, now, taskId) == 1) {
                    retried.add(taskId);
                }
            }
            if (!retried.isEmpty()) {
                tx.update(COUNT_RETRY, retried.size(), retried.size(), runId);
            }
            return List.copyOf(retried);
        });
    }

    /** Schedules again every running task: at the start of the only node of an embedded database. */
    public int rescheduleAllRunning() throws SQLException {
        return jdbc.update(RESCHEDULE);
    }

    /** Schedules again the tasks a node left running: at its start. */
    public int rescheduleRunningOf(String node) throws SQLException {
        return jdbc.update(RESCHEDULE + " AND node = ?", node);
    }

    /**
     * Schedules again the tasks left running by nodes silent since {@code silentSince} (by the database's clock),
     * other than {@code self}; returns how many.
     */
    public int rescheduleRunningOfSilentNodes(Instant silentSince, String self) throws SQLException {
        int rescheduled = 0;
        for (String node : jdbc.query(SILENT_NODES, rs -> rs.getString(1), silentSince, self)) {
            rescheduled += rescheduleRunningOf(node);
        }
        return rescheduled;
    }

    /** The database's clock, which nodes' heartbeats are written by. */
    public Instant databaseNow() throws SQLException {
        return jdbc.queryFirst("SELECT CURRENT_TIMESTAMP", rs -> Jdbc.instant(rs, 1)).orElseThrow();
    }

    /** How many tasks a run has had so far. */
    public int taskCount(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT tasks FROM process_run WHERE run_id = ?", rs -> rs.getInt(1), runId)
                .orElse(0);
    }

    /** A process's runs, newest first; the cursor is the last run's id. */
    public Page<Run> runs(String process, String status, int limit, Long after) throws SQLException {
        List<Object> args = new ArrayList<>(List.of(process));
        StringBuilder sql = new StringBuilder("SELECT " + RUN_COLUMNS + " FROM process_run WHERE process = ?");
        if (status != null) {
            sql.append(" AND status = ?");
            args.add(status);
        }
        if (after != null) {
            sql.append(" AND run_id < ?");
            args.add(after);
        }
        // the index (process, run_id) is read in order and the scan stops after a page
        sql.append(" ORDER BY process DESC, run_id DESC LIMIT ").append(limit + 1);
        List<Run> rows = jdbc.query(sql.toString(), RUN, args.toArray());
        if (rows.size() <= limit) {
            return new Page<>(rows, null);
        }
        List<Run> page = List.copyOf(rows.subList(0, limit));
        return new Page<>(page, String.valueOf(page.get(limit - 1).runId()));
    }

    public Optional<Run> lastRun(String process) throws SQLException {
        return jdbc.queryFirst("SELECT " + RUN_COLUMNS + " FROM process_run WHERE process = ?"
                + " ORDER BY process DESC, run_id DESC LIMIT 1", RUN, process);
    }

    public Optional<Run> run(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT " + RUN_COLUMNS + " FROM process_run WHERE run_id = ?", RUN, runId);
    }

    /** A run's tasks in the order they were scheduled. */
    public List<Task> tasks(long runId) throws SQLException {
        return jdbc.query("SELECT " + TASK_COLUMNS + " FROM process_task WHERE run_id = ? ORDER BY run_id, task_id",
                TASK, runId);
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }
}
