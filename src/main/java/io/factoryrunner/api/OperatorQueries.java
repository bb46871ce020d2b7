package io.factoryrunner.api;

import io.factoryrunner.db.Dialect;
import io.factoryrunner.db.Jdbc;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import javax.sql.DataSource;

/**
 * What the operator API reads: runs, items, errors, alerts and the audit, straight from the factory's tables. Lists are
 * paged by keyset ({@code after} is the last row's cursor), never by OFFSET, so a page costs the same deep in a long
 * history as at its start.
 */
public final class OperatorQueries {

    /** One page of a list and the cursor of the next page, null on the last. */
    public record Page<T>(List<T> items, String next) {
    }

    public record Run(long runId, String job, String trigger, String node, String status, Instant startedAt,
            Instant endedAt, int itemsTaken, int itemsDone, int itemsFailed, int itemsDeferred, int retries,
            int firesSkipped, String summary) {
    }

    public record ItemState(String job, String key, String version, String status, int attempts, Long runId,
            Instant createdAt, Instant updatedAt, Instant availableAt, String error) {
    }

    public record Occurrence(long errorId, Instant occurredAt, Instant lastOccurredAt, int occurrences, String job,
            String routeId, Long runId, String itemKey, String itemVersion, String category, String exceptionClass,
            String message, String stackTrace, String payloadExcerpt, int attempts, String httpMethod, String httpUrl,
            Integer httpStatus, String httpResponse, String fingerprint) {
    }

    public record Fingerprint(String fingerprint, String job, String category, String exceptionClass,
            String message, String status, Instant firstSeen, Instant lastSeen, long occurrences, String note,
            String sample) {
    }

    public record Alert(long alertId, Instant createdAt, String kind, String job, String fingerprint,
            String recipients, String subject, String status, int attempts, Instant nextAttemptAt, Instant sentAt,
            String lastError) {
    }

    /** A run going on a node. */
    public record NodeRun(long runId, String job, Instant startedAt) {
    }

    /**
     * A node that shares the database: when it started, the version it runs, when it was last seen and how long ago
     * (by the database's clock, which every node's heartbeat is stamped with), its clock's distance from the
     * database's, and the runs it has going.
     */
    public record Node(String node, String status, Instant startedAt, Instant lastSeenAt, long silentForSeconds,
            String version, Long clockOffsetMs, List<NodeRun> running) {
    }

    public record AuditEntry(long auditId, Instant at, String actor, String action, String target, String note,
            String outcome) {
    }

    static final String RUN_COLUMNS = """
            run_id, job, trigger_kind, node, status, started_at, ended_at, items_taken, items_done, items_failed,
            items_deferred, retries, fires_skipped, error_summary""";

    private static final Jdbc.RowMapper<Run> RUN = rs -> new Run(rs.getLong("run_id"), rs.getString("job"),
            rs.getString("trigger_kind"), rs.getString("node"), rs.getString("status"),
            Jdbc.instant(rs, "started_at"), Jdbc.instant(rs, "ended_at"), rs.getInt("items_taken"),
            rs.getInt("items_done"), rs.getInt("items_failed"), rs.getInt("items_deferred"), rs.getInt("retries"),
            rs.getInt("fires_skipped"), rs.getString("error_summary"));



    private static final Set<String> INBOX_STATUSES = Set.of("waiting", "deferred");

    private static final String STATE_ITEM_COLUMNS = """
            job, item_key, item_version, status, attempts, run_id, created_at, updated_at,
            CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS available_at, error_message""";

    /**
     * Items waiting for a job (in its inbox, or done upstream and not read yet from its feed: the view job_waiting),
     * as rows of the same shape as the state's (the first parameter is now). Every column has the type of the
     * state's: PostgreSQL flattens a UNION ALL of the two into one append only when no column needs a conversion (a
     * text status against the state's VARCHAR did), and only then reads a job's first page of items as a merge of
     * the keys, in order, stopping after a page.
     */
    private static final String INBOX_ITEMS = """
            SELECT job, item_key, item_version,
                   CAST(CASE WHEN available_at IS NOT NULL AND available_at > ? THEN 'deferred' ELSE 'waiting' END
                       AS VARCHAR(20)) AS status,
                   attempts, CAST(NULL AS BIGINT) AS run_id, enqueued_at AS created_at, enqueued_at AS updated_at,
                   available_at, CAST(NULL AS VARCHAR(2000)) AS error_message
              FROM job_waiting""";

    /** The state rows and the inbox rows of items, as one relation: an item waiting is an item too. */
    private static final String ITEMS = "SELECT " + STATE_ITEM_COLUMNS + " FROM job_state UNION ALL " + INBOX_ITEMS;

    private static final Jdbc.RowMapper<ItemState> ITEM = rs -> new ItemState(rs.getString("job"),
            rs.getString("item_key"), rs.getString("item_version"), rs.getString("status"), rs.getInt("attempts"),
            nullableLong(rs, "run_id"), Jdbc.instant(rs, "created_at"), Jdbc.instant(rs, "updated_at"),
            Jdbc.instant(rs, "available_at"), rs.getString("error_message"));

    private static final String OCCURRENCE_COLUMNS = """
            error_id, occurred_at, last_occurred_at, occurrences, job, route_id, run_id, item_key, item_version,
            category, exception_class, message, stack_trace, payload_excerpt, attempts, http_method, http_url,
            http_status, http_response, fingerprint""";

    private static final Jdbc.RowMapper<Occurrence> OCCURRENCE = rs -> new Occurrence(rs.getLong("error_id"),
            Jdbc.instant(rs, "occurred_at"), Jdbc.instant(rs, "last_occurred_at"), rs.getInt("occurrences"),
            rs.getString("job"), rs.getString("route_id"), nullableLong(rs, "run_id"), rs.getString("item_key"),
            rs.getString("item_version"), rs.getString("category"), rs.getString("exception_class"),
            rs.getString("message"), rs.getString("stack_trace"), rs.getString("payload_excerpt"),
            rs.getInt("attempts"), rs.getString("http_method"), rs.getString("http_url"),
            (Integer) rs.getObject("http_status", Integer.class), rs.getString("http_response"),
            rs.getString("fingerprint"));

    private static final String FINGERPRINTS = """
            SELECT f.fingerprint, f.job, f.category, f.exception_class, f.normalized_message, f.status, f.first_seen,
                   f.last_seen, f.occurrences, f.note,
                   (SELECT e.message FROM factory_error e WHERE e.error_id =
                        (SELECT MAX(e2.error_id) FROM factory_error e2 WHERE e2.fingerprint = f.fingerprint)) AS sample
              FROM error_fingerprint f""";

    private static final Jdbc.RowMapper<Fingerprint> FINGERPRINT = rs -> new Fingerprint(rs.getString("fingerprint"),
            rs.getString("job"), rs.getString("category"), rs.getString("exception_class"),
            rs.getString("normalized_message"), rs.getString("status"), Jdbc.instant(rs, "first_seen"),
            Jdbc.instant(rs, "last_seen"), rs.getLong("occurrences"), rs.getString("note"), rs.getString("sample"));

    private static final String ALERT_COLUMNS = """
            alert_id, created_at, kind, job, fingerprint, recipients, subject, status, attempts, next_attempt_at,
            sent_at, last_error""";

    private static final Jdbc.RowMapper<Alert> ALERT = rs -> new Alert(rs.getLong("alert_id"),
            Jdbc.instant(rs, "created_at"), rs.getString("kind"), rs.getString("job"), rs.getString("fingerprint"),
            rs.getString("recipients"), rs.getString("subject"), rs.getString("status"), rs.getInt("attempts"),
            Jdbc.instant(rs, "next_attempt_at"), Jdbc.instant(rs, "sent_at"), rs.getString("last_error"));

    private static final Jdbc.RowMapper<AuditEntry> AUDIT = rs -> new AuditEntry(rs.getLong("audit_id"),
            Jdbc.instant(rs, "at"), rs.getString("actor"), rs.getString("action"), rs.getString("target"),
            rs.getString("note"), rs.getString("outcome"));

    private final Jdbc jdbc;
    private final Dialect dialect;
    private final Clock clock;

    public OperatorQueries(DataSource dataSource, Dialect dialect, Clock clock) {
        this.jdbc = Jdbc.of(dataSource);
        this.dialect = dialect;
        this.clock = clock;
    }

    /**
     * The jobs' item counts by status, except done, in two statements whatever the number of jobs: claimed and failed
     * from the state (one count per job and status, each through its index: on PostgreSQL the partial indexes of
     * claimed and of failed items), waiting and deferred from the inbox.
     */
    public Map<String, Map<String, Long>> liveCounts(List<String> jobs) throws SQLException {
        Map<String, Map<String, Long>> counts = new LinkedHashMap<>();
        if (jobs.isEmpty()) {
            return counts;
        }
        Jdbc.RowMapper<Void> add = rs -> {
            counts.computeIfAbsent(rs.getString(1), j -> new LinkedHashMap<>()).merge(rs.getString(2),
                    rs.getLong(3), Long::sum);
            return null;
        };
        List<String> parts = new ArrayList<>();
        List<Object> args = new ArrayList<>();
        for (String job : jobs) {
            for (String status : List.of("claimed", "failed")) {
                parts.add("SELECT CAST(? AS VARCHAR(100)), CAST(? AS VARCHAR(20)), COUNT(*) FROM job_state"
                        + " WHERE job = ? AND status = ?");
                args.addAll(List.of(job, status, job, status));
            }
        }
        jdbc.query(String.join(" UNION ALL ", parts), add, args.toArray());
        jdbc.query("""
                SELECT job, state, COUNT(*)
                  FROM (SELECT job, CASE WHEN available_at IS NOT NULL AND available_at > ? THEN 'deferred'
                                         ELSE 'waiting' END AS state
                          FROM job_waiting) i
                 GROUP BY job, state""", add, clock.instant());
        return counts;
    }

    /** Done items by job: the one count that grows without bound, read in one pass. */
    public Map<String, Long> doneCounts() throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        jdbc.inTransaction(tx -> {
            if (dialect == Dialect.POSTGRESQL) {
                // a background count: one core, not every core the parallel workers would take from the answers
                tx.update("SET LOCAL max_parallel_workers_per_gather = 0");
            }
            return tx.query("SELECT job, COUNT(*) FROM job_state WHERE status = 'done' GROUP BY job",
                    rs -> counts.put(rs.getString(1), rs.getLong(2)));
        });
        return counts;
    }

    /**
     * The latest run of each job, in one statement: a subquery per job, each ordered by the whole index (job, run_id)
     * so that H2 too reads one entry instead of the job's every run.
     */
    public Map<String, Run> lastRuns(List<String> jobs) throws SQLException {
        Map<String, Run> runs = new LinkedHashMap<>();
        if (jobs.isEmpty()) {
            return runs;
        }
        String one = "(SELECT " + RUN_COLUMNS + " FROM job_run WHERE job = ? ORDER BY job DESC, run_id DESC LIMIT 1)";
        jdbc.query(String.join(" UNION ALL ", Collections.nCopies(jobs.size(), one)), RUN, jobs.toArray())
                .forEach(r -> runs.put(r.job(), r));
        return runs;
    }

    /**
     * The latest runs of each job, newest first, in one statement: a subquery per job, each read through the index on
     * (job, run_id) and stopping after {@code limit} runs, as {@link #lastRuns} does for one.
     */
    public Map<String, List<Run>> recentRuns(List<String> jobs, int limit) throws SQLException {
        Map<String, List<Run>> runs = new LinkedHashMap<>();
        jobs.forEach(job -> runs.put(job, new ArrayList<>()));
        if (jobs.isEmpty()) {
            return runs;
        }
        String one = "(SELECT " + RUN_COLUMNS + " FROM job_run WHERE job = ? ORDER BY job DESC, run_id DESC LIMIT "
                + limit + ")";
        List<Run> rows = new ArrayList<>(jdbc.query(String.join(" UNION ALL ", Collections.nCopies(jobs.size(),
                one)), RUN, jobs.toArray()));
        // a union answers its parts in no promised order
        rows.sort(Comparator.comparingLong(Run::runId).reversed());
        rows.forEach(r -> runs.get(r.job()).add(r));
        return runs;
    }

    public Page<Run> runs(String job, String status, Instant since, int limit, Long after) throws SQLException {
        Where where = new Where();
        where.add(job != null, "job = ?", job);
        where.add(status != null, "status = ?", status);
        where.add(since != null, "started_at >= ?", since);
        where.add(after != null, "run_id < ?", after);
        // the column fixed by the filter leads the order, so the index (job, run_id) or (status, run_id) is read
        // in order and stops after a page, on H2 as on PostgreSQL
        String order = job != null ? "job DESC, run_id DESC" : status != null ? "status DESC, run_id DESC"
                : "run_id DESC";
        List<Run> rows = jdbc.query("SELECT " + RUN_COLUMNS + " FROM job_run" + where + " ORDER BY " + order
                + " LIMIT " + (limit + 1), RUN, where.args());
        return page(rows, limit, r -> String.valueOf(r.runId()));
    }

    public Optional<Run> run(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT " + RUN_COLUMNS + " FROM job_run WHERE run_id = ?", RUN, runId);
    }

    public Optional<String> runConfig(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT config FROM job_run WHERE run_id = ?", rs -> rs.getString(1), runId);
    }

    /** The items a run took, in key order, at most {@code limit}. */
    public List<ItemState> itemsOfRun(String job, long runId, int limit) throws SQLException {
        return jdbc.query("SELECT " + STATE_ITEM_COLUMNS + " FROM job_state WHERE job = ? AND run_id = ?"
                + " ORDER BY item_key, item_version"
                + " LIMIT " + limit, ITEM, job, runId);
    }

    public List<Occurrence> errorsOfRun(long runId, int limit) throws SQLException {
        return jdbc.query("SELECT " + OCCURRENCE_COLUMNS + " FROM factory_error WHERE run_id = ? ORDER BY error_id DESC"
                + " LIMIT " + limit, OCCURRENCE, runId);
    }

    /** A job's items in key order; the cursor is the last item's key and version. */
    public Page<ItemState> items(String job, String status, String key, int limit, String afterKey,
            String afterVersion) throws SQLException {
        Where where = new Where();
        where.add(true, "job = ?", job);
        where.add(status != null, "status = ?", status);
        where.add(key != null, "item_key = ?", key);
        where.add(afterKey != null, "(item_key > ? OR (item_key = ? AND item_version > ?))", afterKey, afterKey,
                afterVersion);
        String order = " ORDER BY item_key, item_version LIMIT " + (limit + 1);
        boolean inState = status == null || !INBOX_STATUSES.contains(status);
        boolean inInbox = status == null || INBOX_STATUSES.contains(status);
        List<Object> args = new ArrayList<>();
        if (inInbox) {
            args.add(clock.instant());
        }
        args.addAll(Arrays.asList(where.args()));
        List<ItemState> rows;
        if (inState && inInbox && dialect == Dialect.H2) {
            // H2 builds the union of a job's every item before it takes the first page: each table is read in the
            // order of its primary key instead, and the two pages merged (H2 orders strings as Java does)
            rows = new ArrayList<>(jdbc.query("SELECT * FROM (SELECT " + STATE_ITEM_COLUMNS + " FROM job_state) i"
                    + where + order, ITEM, where.args()));
            rows.addAll(jdbc.query("SELECT * FROM (" + INBOX_ITEMS + ") i" + where + order, ITEM, args.toArray()));
            rows.sort(Comparator.comparing(ItemState::key).thenComparing(ItemState::version));
        } else {
            String source = !inInbox ? "SELECT " + STATE_ITEM_COLUMNS + " FROM job_state"
                    : inState ? ITEMS : INBOX_ITEMS;
            rows = jdbc.query("SELECT * FROM (" + source + ") i" + where + order, ITEM, args.toArray());
        }
        return page(rows, limit, i -> Cursor.of(i.key(), i.version()));
    }

    /**
     * Every row of one item key in the given jobs, the inbox included, oldest first: one lookup per job and table by
     * primary key (job, key, version), so no index on the key alone slows their writes.
     */
    public List<ItemState> itemAcrossJobs(String key, List<String> jobs) throws SQLException {
        List<ItemState> rows = new ArrayList<>();
        for (String job : jobs) {
            rows.addAll(jdbc.query("SELECT " + STATE_ITEM_COLUMNS + " FROM job_state WHERE job = ? AND item_key = ?",
                    ITEM, job, key));
            rows.addAll(jdbc.query(INBOX_ITEMS + " WHERE job = ? AND item_key = ?", ITEM, clock.instant(), job, key));
        }
        rows.sort(Comparator.comparing(ItemState::createdAt).thenComparing(ItemState::job)
                .thenComparing(ItemState::version));
        return rows;
    }

    public List<Occurrence> errorsOfItem(String key, int limit) throws SQLException {
        return jdbc.query("SELECT " + OCCURRENCE_COLUMNS + " FROM factory_error WHERE item_key = ?"
                + " ORDER BY error_id DESC LIMIT " + limit, OCCURRENCE, key);
    }

    /** The status of one version of an item in a job: from the state, or waiting in the inbox. */
    public Optional<ItemState> item(String job, String key, String version) throws SQLException {
        return jdbc.queryFirst("SELECT * FROM (" + ITEMS + ") i WHERE job = ? AND item_key = ? AND item_version = ?",
                ITEM, clock.instant(), job, key, version);
    }

    /** The latest version of an item in a job, by the time it was last written. */
    public Optional<ItemState> latestItem(String job, String key) throws SQLException {
        return jdbc.queryFirst("SELECT * FROM (" + ITEMS + ") i WHERE job = ? AND item_key = ?"
                + " ORDER BY updated_at DESC, item_version DESC LIMIT 1", ITEM, clock.instant(), job, key);
    }

    /** The latest failed version of an item in a job. */
    public Optional<ItemState> latestFailed(String job, String key) throws SQLException {
        return jdbc.queryFirst("SELECT " + STATE_ITEM_COLUMNS + " FROM job_state WHERE job = ? AND item_key = ?"
                + " AND status = 'failed' ORDER BY updated_at DESC, item_version DESC LIMIT 1", ITEM, job, key);
    }

    /** Fingerprints, the most recently seen first; the cursor is the last one's last-seen time and id. */
    public Page<Fingerprint> fingerprints(String status, String job, int limit, Instant afterSeen, String afterId)
            throws SQLException {
        Where where = new Where();
        where.add(status != null, "f.status = ?", status);
        where.add(job != null, "f.job = ?", job);
        where.add(afterSeen != null, "(f.last_seen < ? OR (f.last_seen = ? AND f.fingerprint < ?))", afterSeen,
                afterSeen, afterId);
        List<Fingerprint> rows = jdbc.query(FINGERPRINTS + where + " ORDER BY f.last_seen DESC, f.fingerprint DESC"
                + " LIMIT " + (limit + 1), FINGERPRINT, where.args());
        return page(rows, limit, f -> Cursor.of(f.lastSeen().toString(), f.fingerprint()));
    }

    public Optional<Fingerprint> fingerprint(String id) throws SQLException {
        return jdbc.queryFirst(FINGERPRINTS + " WHERE f.fingerprint = ?", FINGERPRINT, id);
    }

    public List<Occurrence> occurrences(String fingerprint, int limit) throws SQLException {
        return jdbc.query("SELECT " + OCCURRENCE_COLUMNS + " FROM factory_error WHERE fingerprint = ?"
                + " ORDER BY error_id DESC LIMIT " + limit, OCCURRENCE, fingerprint);
    }

    /** The items (job, key, version) whose failure was recorded under a fingerprint. */
    public List<String[]> itemsOfFingerprint(String fingerprint) throws SQLException {
        return jdbc.query("""
                SELECT DISTINCT job, item_key, item_version FROM factory_error
                 WHERE fingerprint = ? AND job IS NOT NULL AND item_key IS NOT NULL AND item_version IS NOT NULL""",
                rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)}, fingerprint);
    }

    public Page<Alert> alerts(String status, int limit, Long after) throws SQLException {
        Where where = new Where();
        where.add(status != null, "status = ?", status);
        where.add(after != null, "alert_id < ?", after);
        List<Alert> rows = jdbc.query("SELECT " + ALERT_COLUMNS + " FROM alerts" + where
                + " ORDER BY alert_id DESC LIMIT " + (limit + 1), ALERT, where.args());
        return page(rows, limit, a -> String.valueOf(a.alertId()));
    }

    public Optional<Alert> alert(long id) throws SQLException {
        return jdbc.queryFirst("SELECT " + ALERT_COLUMNS + " FROM alerts WHERE alert_id = ?", ALERT, id);
    }

    /**
     * Every node that has written a heartbeat, by name: {@code up}, or {@code silent} once not seen for
     * {@code staleAfter}.
     */
    public List<Node> nodes(Duration staleAfter) throws SQLException {
        Map<String, List<NodeRun>> running = new LinkedHashMap<>();
        jdbc.query("SELECT run_id, job, node, started_at FROM job_run WHERE status = 'running' ORDER BY run_id",
                rs -> running.computeIfAbsent(rs.getString("node"), n -> new ArrayList<>()).add(new NodeRun(
                        rs.getLong("run_id"), rs.getString("job"), Jdbc.instant(rs, "started_at"))));
        return jdbc.query("""
                SELECT node, started_at, last_seen_at, version, clock_offset_ms, CURRENT_TIMESTAMP AS db_now
                  FROM factory_node ORDER BY node""", rs -> {
                    Duration silent = Duration.between(Jdbc.instant(rs, "last_seen_at"), Jdbc.instant(rs, "db_now"));
                    String node = rs.getString("node");
                    return new Node(node, silent.compareTo(staleAfter) > 0 ? "silent" : "up",
                            Jdbc.instant(rs, "started_at"), Jdbc.instant(rs, "last_seen_at"),
                            Math.max(0, silent.toSeconds()), rs.getString("version"),
                            nullableLong(rs, "clock_offset_ms"), List.copyOf(running.getOrDefault(node, List.of())));
                });
    }

    public Page<AuditEntry> audit(String actor, String action, int limit, Long after) throws SQLException {
        Where where = new Where();
        where.add(actor != null, "actor = ?", actor);
        where.add(action != null, "action = ?", action);
        where.add(after != null, "audit_id < ?", after);
        List<AuditEntry> rows = jdbc.query("SELECT audit_id, at, actor, action, target, note, outcome"
                + " FROM factory_audit" + where + " ORDER BY audit_id DESC LIMIT " + (limit + 1), AUDIT, where.args());
        return page(rows, limit, a -> String.valueOf(a.auditId()));
    }

    private static <T> Page<T> page(List<T> rows, int limit, Function<T, String> cursor) {
        if (rows.size() <= limit) {
            return new Page<>(rows, null);
        }
        List<T> items = rows.subList(0, limit);
        return new Page<>(List.copyOf(items), cursor.apply(items.get(limit - 1)));
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }

    /** The conditions of a WHERE clause built from the filters given, with their parameters in order. */
    private static final class Where {
        private final List<String> conditions = new ArrayList<>();
        private final List<Object> args = new ArrayList<>();

        void add(boolean when, String condition, Object... values) {
            if (when) {
                conditions.add(condition);
                args.addAll(Arrays.asList(values));
            }
        }

        Object[] args() {
            return args.toArray();
        }

        @Override
        public String toString() {
            return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
        }
    }
}
