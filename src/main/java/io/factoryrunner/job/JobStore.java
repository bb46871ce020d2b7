package io.factoryrunner.job;

import io.factoryrunner.db.LostConnections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The job tables: runs ({@code job_run}), the state store ({@code job_state}) and the items waiting for each job
 * ({@code job_inbox}). Every write of a state row names the run that owns it and checks the row count, so a run
 * that lost its items (its node was declared dead) cannot overwrite what another run did.
 */
public final class JobStore {

    /**
     * An item a run has claimed, with the data its upstream handed on; {@code failingSince} is when its transient
     * failures began, when it was put back for one (null otherwise, and for an item taken back after a crash).
     */
    public record Item(String key, String version, String data, int attempts, Instant failingSince) {
        public Item(String key, String version, String data, int attempts) {
            this(key, version, data, attempts, null);
        }
    }

    /**
     * What a claim took: how many inbox rows it took, and the items it claimed for the run. It claims fewer items
     * than it took rows when the job has acted on an item already (handed on again after a redrive upstream).
     */
    public record Claim(int taken, List<Item> items) {
    }

    /** What became of an item in a run. */
    public enum Outcome {
        /** Acted on; its data goes to the downstream jobs. */
        DONE,
        /** Failed; not taken again by this job until redriven. */
        FAILED,
        /** Put back for a later run of the same job, with the data it was given. */
        DEFERRED
    }

    /** What a run did with one item; a deferred item waits until {@code availableAt} (null: the next run). */
    public record Result(Item item, Outcome outcome, String data, String error, int retries, Instant availableAt) {
        public Result(Item item, Outcome outcome, String data, String error, int retries) {
            this(item, outcome, data, error, retries, null);
        }

        public boolean done() {
            return outcome == Outcome.DONE;
        }
    }

    /** SQLSTATE of a unique constraint violation, the same on PostgreSQL and H2. */
    private static final String UNIQUE_VIOLATION = "23505";

    private static final String INSERT_RUN = """
            INSERT INTO job_run (job, trigger_kind, node, status, started_at, config)
            VALUES (?, ?, ?, 'running', ?, ?)""";

    private static final String INSERT_SKIPPED = """
            INSERT INTO job_run (job, trigger_kind, node, status, started_at, ended_at, error_summary, fires_skipped)
            VALUES (?, ?, ?, 'skipped', ?, ?, ?, 1)""";

    /** Counts the fire on the job's latest run when that is a skip for the same reason. */
    private static final String COUNT_SKIPPED = """
            UPDATE job_run
               SET fires_skipped = fires_skipped + 1, ended_at = ?
             WHERE run_id = (SELECT MAX(run_id) FROM job_run WHERE job = ?)
               AND status = 'skipped' AND error_summary = ?""";

    /** The job's running run, with when its node was last seen and the database's time now. */
    private static final String RUNNING_RUN = """
            SELECT r.run_id, r.node, r.started_at, n.last_seen_at, CURRENT_TIMESTAMP
              FROM job_run r LEFT JOIN factory_node n ON n.node = r.node
             WHERE r.job = ? AND r.status = 'running'
             ORDER BY r.run_id
             LIMIT 1""";

    private static final String RUNNING_ELSEWHERE = """
            SELECT COUNT(*) FROM job_run WHERE status = 'running' AND job = ?""";

    private static final String FINISH_RUN = """
            UPDATE job_run
               SET status = ?, ended_at = ?, error_summary = ?
             WHERE run_id = ? AND status = 'running'""";

    private static final String COUNT_RUN = """
            UPDATE job_run
               SET items_taken = items_taken + ?, items_done = items_done + ?, items_failed = items_failed + ?,
                   retries = retries + ?, items_kept = items_kept + ?, items_deferred = items_deferred + ?
             WHERE run_id = ?""";

    private static final String ABANDON_NODE_RUNS = """
            UPDATE job_run
               SET status = 'abandoned', ended_at = ?, error_summary = ?
             WHERE status = 'running' AND node = ?""";

    private static final String ABANDON_ALL_RUNS = """
            UPDATE job_run
               SET status = 'abandoned', ended_at = ?, error_summary = ?
             WHERE status = 'running'""";

    private static final String RECLAIM = """
            UPDATE job_state
               SET run_id = ?, attempts = attempts + 1, updated_at = ?, row_version = row_version + 1
             WHERE job = ? AND status = 'claimed' AND (run_id IS NULL OR run_id <> ?)""";

    private static final String NEXT_IN_INBOX = """
            SELECT item_key, item_version, data, attempts, failing_since
              FROM job_inbox
             WHERE job = ? AND complete = TRUE AND (available_at IS NULL OR available_at <= ?)
             ORDER BY seq
             LIMIT ?""";

    private static final String TAKE_FROM_INBOX = """
            DELETE FROM job_inbox WHERE job = ? AND item_key = ? AND item_version = ?""";

    /** Inserts nothing when the job has acted on this key and version already (the count tells). */
    private static final String INSERT_CLAIMED = """
            INSERT INTO job_state (job, item_key, item_version, status, data, attempts, run_id, created_at,
                                   updated_at, row_version)
            SELECT CAST(? AS VARCHAR(100)), CAST(? AS VARCHAR(400)), CAST(? AS VARCHAR(100)), 'claimed',
                   CAST(? AS VARCHAR(1000000)), CAST(? AS INTEGER), CAST(? AS BIGINT),
                   CAST(? AS TIMESTAMP WITH TIME ZONE), CAST(? AS TIMESTAMP WITH TIME ZONE), 0
             WHERE NOT EXISTS (SELECT 1 FROM job_state s
                                WHERE s.job = ? AND s.item_key = ? AND s.item_version = ?)""";

    private static final String CLAIMED_BY_RUN = """
            SELECT item_key, item_version, data, attempts
              FROM job_state
             WHERE job = ? AND status = 'claimed' AND run_id = ?
             ORDER BY created_at, item_key, item_version
             LIMIT ?""";

    private static final String FINISH_ITEM = """
            UPDATE job_state
               SET status = ?, data = ?, error_message = ?, updated_at = ?, row_version = row_version + 1
             WHERE job = ? AND item_key = ? AND item_version = ? AND run_id = ? AND status = 'claimed'""";

    private static final String ENQUEUE = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            VALUES (?, ?, ?, ?, ?, ?)""";

    /**
     * PostgreSQL: the whole claim of a chunk; answers how many inbox rows were taken and the items claimed (one row
     * with no item when none was). {@code ON CONFLICT DO NOTHING} skips an item the job has acted on already
     * through the primary key, whatever the planner knows about the table.
     */
    /**
     * PostgreSQL: takes the oldest waiting rows of a job (job, available by, limit), skipping those another
     * transaction holds; the start of both ways to take a chunk.
     */
    private static final String PG_TAKE_FROM_INBOX = """
            DELETE FROM job_inbox
             WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM job_inbox
                    WHERE job = ? AND complete = TRUE AND (available_at IS NULL OR available_at <= ?)
                    ORDER BY seq
                    LIMIT ?
                      FOR UPDATE SKIP LOCKED))
            RETURNING item_key, item_version, data, attempts, failing_since""";

    private static final String PG_CLAIM = """
            WITH taken AS (%s),
            claimed AS (
                INSERT INTO job_state (job, item_key, item_version, status, data, attempts, run_id, created_at,
                                       updated_at, row_version)
                SELECT ?, t.item_key, t.item_version, 'claimed', t.data, t.attempts + 1, ?, ?, ?, 0
                  FROM taken t
                ON CONFLICT (job, item_key, item_version) DO NOTHING
                RETURNING item_key, item_version, data, attempts)
            SELECT n.taken, c.item_key, c.item_version, c.data, c.attempts, t.failing_since
              FROM (SELECT COUNT(*) AS taken FROM taken) n
              LEFT JOIN (claimed c JOIN taken t ON t.item_key = c.item_key AND t.item_version = c.item_version)
                ON TRUE""".formatted(PG_TAKE_FROM_INBOX);

    /** PostgreSQL: a chunk's results in one statement; answers the items the run still owned. */
    private static final String PG_FINISH = """
            UPDATE job_state s
               SET status = u.status, data = u.data, error_message = u.error, updated_at = ?,
                   row_version = s.row_version + 1
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[])
                   AS u(item_key, item_version, status, data, error)
             WHERE s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version AND s.run_id = ?
               AND s.status = 'claimed'
            RETURNING s.item_key, s.item_version""";

    /** PostgreSQL: hands a chunk's done items to one downstream job. */
    private static final String PG_HAND_ON = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            SELECT ?, u.item_key, u.item_version, TRUE, u.data, ?
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[]) AS u(item_key, item_version, data)
            ON CONFLICT (job, item_key, item_version) DO UPDATE SET data = EXCLUDED.data, complete = TRUE""";

    /**
     * PostgreSQL: an offer in one statement; inserts or refreshes the inbox row unless the job has acted on the
     * item already (the count is then 0).
     */
    private static final String PG_OFFER = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            SELECT ?, ?, ?, ?, ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM job_state s WHERE s.job = ? AND s.item_key = ? AND s.item_version = ?)
            ON CONFLICT (job, item_key, item_version) DO UPDATE SET complete = EXCLUDED.complete, data = EXCLUDED.data""";

    /** PostgreSQL, one transaction per chunk: takes a chunk from the inbox, answering the items not acted on yet. */
    private static final String PG_TAKE = """
            WITH taken AS (%s)
            SELECT n.taken, t.item_key, t.item_version, t.data, t.attempts, t.failing_since
              FROM (SELECT COUNT(*) AS taken FROM taken) n
              LEFT JOIN taken t
                ON NOT EXISTS (SELECT 1 FROM job_state s
                                WHERE s.job = ? AND s.item_key = t.item_key AND s.item_version = t.item_version)            """.formatted(PG_TAKE_FROM_INBOX);

    /**
     * PostgreSQL, one transaction per chunk: the chunk's finished items written at their final status; answers those
     * written (an item another run wrote meanwhile is left as it is).
     */
    private static final String PG_WRITE_FINISHED = """
            INSERT INTO job_state (job, item_key, item_version, status, data, error_message, attempts, run_id,
                                   created_at, updated_at, row_version)
            SELECT ?, u.item_key, u.item_version, u.status, u.data, u.error, u.attempts, ?, ?, ?, 0
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::int[])
                   AS u(item_key, item_version, status, data, error, attempts)
            ON CONFLICT (job, item_key, item_version) DO NOTHING
            RETURNING item_key, item_version""";

    /** Other databases, one transaction per chunk: a finished item at its final status, unless written already. */
    private static final String WRITE_FINISHED = """
            INSERT INTO job_state (job, item_key, item_version, status, data, error_message, attempts, run_id,
                                   created_at, updated_at, row_version)
            SELECT CAST(? AS VARCHAR(100)), CAST(? AS VARCHAR(400)), CAST(? AS VARCHAR(100)), CAST(? AS VARCHAR(20)),
                   CAST(? AS VARCHAR(1000000)), CAST(? AS VARCHAR(2000)), CAST(? AS INTEGER), CAST(? AS BIGINT),
                   CAST(? AS TIMESTAMP WITH TIME ZONE), CAST(? AS TIMESTAMP WITH TIME ZONE), 0
             WHERE NOT EXISTS (SELECT 1 FROM job_state s
                                WHERE s.job = ? AND s.item_key = ? AND s.item_version = ?)""";

    private static final String HAS_STATE = """
            SELECT COUNT(*) FROM job_state WHERE job = ? AND item_key = ? AND item_version = ?""";

    private static final String REFRESH_QUEUED = """
            UPDATE job_inbox SET data = ?, complete = TRUE WHERE job = ? AND item_key = ? AND item_version = ?""";

    private static final String DEFER = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at, available_at, attempts,
                                   failing_since)
            VALUES (?, ?, ?, TRUE, ?, ?, ?, ?, ?)""";

    private static final String DELETE_CLAIMED = """
            DELETE FROM job_state
             WHERE job = ? AND item_key = ? AND item_version = ? AND run_id = ? AND status = 'claimed'""";

    private static final String UPDATE_QUEUED = """
            UPDATE job_inbox SET complete = ?, data = ? WHERE job = ? AND item_key = ? AND item_version = ?""";

    private static final String FAILED_ITEM = """
            SELECT data FROM job_state WHERE job = ? AND item_key = ? AND item_version = ? AND status = 'failed'""";

    private static final String DELETE_ITEM = """
            DELETE FROM job_state WHERE job = ? AND item_key = ? AND item_version = ? AND status = 'failed'""";

    /** A counted skipped run was last fired at its end: the fires it counts were not missed. */
    private static final String LAST_RUN = """
            SELECT MAX(CASE WHEN status = 'skipped' AND ended_at IS NOT NULL THEN ended_at ELSE started_at END)
              FROM job_run WHERE job = ?""";

    private final DataSource dataSource;
    private final Clock clock;
    private final boolean postgres;

    public JobStore(DataSource dataSource, Clock clock) {
        this(dataSource, clock, false);
    }

    /**
     * @param postgres whether the database is PostgreSQL: a chunk's claim and results then go as one statement
     *                 each (arrays and {@code RETURNING}), where other databases take a statement per item
     */
    public JobStore(DataSource dataSource, Clock clock, boolean postgres) {
        this.dataSource = dataSource;
        this.clock = clock;
        this.postgres = postgres;
    }

    private Timestamp now() {
        return Timestamp.from(clock.instant());
    }

    /** Starts a run unless one of the job is going; returns the run id, or -1 after recording a skipped run. */
    public long startRun(String job, Trigger trigger, String node, String config) throws SQLException {
        // only the look for a running run is tried again on a lost connection: an insert whose answer was lost may
        // have been committed, and trying it again would find its own run and leave it running for ever
        boolean busy = LostConnections.retryOnce(dataSource, () -> runningElsewhere(job));
        try (Connection c = dataSource.getConnection()) {
            if (busy) {
                insertSkipped(c, job, trigger, node, "a run of " + job + " was still going");
                return -1;
            }
            try (PreparedStatement ps = c.prepareStatement(INSERT_RUN, Statement.RETURN_GENERATED_KEYS)) {
                ps.setString(1, job);
                ps.setString(2, trigger.db());
                ps.setString(3, node);
                ps.setTimestamp(4, now());
                ps.setString(5, config);
                ps.executeUpdate();
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    keys.next();
                    return keys.getLong(1);
                }
            } catch (SQLException e) {
                if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                    throw e;
                }
                // another node opened a run of the job between the check and the insert (PostgreSQL's
                // job_run_one_running index)
                insertSkipped(c, job, trigger, node, "a run of " + job + " was still going");
                return -1;
            }
        }
    }

    private boolean runningElsewhere(String job) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(RUNNING_ELSEWHERE)) {
            ps.setString(1, job);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }

    /** Records a fire that was skipped before it reached the database guard (a run is going in this process). */
    public void recordSkipped(String job, Trigger trigger, String node, String reason) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            insertSkipped(c, job, trigger, node, reason);
        }
    }

    private void insertSkipped(Connection c, String job, Trigger trigger, String node, String reason)
            throws SQLException {
        Timestamp now = now();
        try (PreparedStatement ps = c.prepareStatement(COUNT_SKIPPED)) {
            ps.setTimestamp(1, now);
            ps.setString(2, job);
            ps.setString(3, cut(reason, 2000));
            if (ps.executeUpdate() == 1) {
                return;
            }
        }
        try (PreparedStatement ps = c.prepareStatement(INSERT_SKIPPED)) {
            ps.setString(1, job);
            ps.setString(2, trigger.db());
            ps.setString(3, node);
            ps.setTimestamp(4, now);
            ps.setTimestamp(5, now);
            ps.setString(6, cut(reason, 2000));
            ps.executeUpdate();
        }
    }

    /** Ends a running run; false when it was no longer running (another node declared it abandoned). */
    public boolean finishRun(long runId, RunStatus status, String summary) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> finishRunOnce(runId, status, summary));
    }

    private boolean finishRunOnce(long runId, RunStatus status, String summary) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(FINISH_RUN)) {
            ps.setString(1, status.db());
            ps.setTimestamp(2, now());
            ps.setString(3, cut(summary, 2000));
            ps.setLong(4, runId);
            return ps.executeUpdate() == 1;
        }
    }

    /** A run of a job that is going, and whether its node still shows signs of life. */
    public record RunningRun(long runId, String node, Instant startedAt, Instant nodeLastSeen, Duration silentFor) {
    }

    /**
     * The job's running run, if any, with how long its node has been silent by the database's clock (since its last
     * heartbeat, or since the run started when the node never wrote one).
     */
    public Optional<RunningRun> runningRun(String job) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(RUNNING_RUN)) {
            ps.setString(1, job);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Instant started = rs.getTimestamp(3).toInstant();
                Instant seen = instant(rs.getTimestamp(4));
                Instant dbNow = rs.getTimestamp(5).toInstant();
                return Optional.of(new RunningRun(rs.getLong(1), rs.getString(2), started, seen,
                        Duration.between(seen != null ? seen : started, dbNow)));
            }
        }
    }

    /** When the job last started a run (or skipped one), if ever. */
    public java.util.Optional<java.time.Instant> lastRunAt(String job) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(LAST_RUN)) {
            ps.setString(1, job);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                Timestamp t = rs.getTimestamp(1);
                return java.util.Optional.ofNullable(t).map(Timestamp::toInstant);
            }
        }
    }

    /**
     * At start, on a database no other process can have open: every run left running was this process's last
     * life, whatever node name it had then (a container gets a new host name each time). Returns how many.
     */
    public int abandonAllRuns() throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(ABANDON_ALL_RUNS)) {
            ps.setTimestamp(1, now());
            ps.setString(2, "the factory stopped while the run was going; its claimed items went to the next run");
            return ps.executeUpdate();
        }
    }

    /** At start: the runs this node left running when it stopped or died are abandoned. Returns how many. */
    public int abandonRunsOf(String node) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(ABANDON_NODE_RUNS)) {
            ps.setTimestamp(1, now());
            ps.setString(2, "the node stopped while the run was going; its claimed items went to the next run");
            ps.setString(3, node);
            return ps.executeUpdate();
        }
    }

    /** Gives the run the items earlier runs of the job claimed and never finished. Returns how many. */
    public int reclaim(String job, long runId) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> reclaimOnce(job, runId));
    }

    private int reclaimOnce(String job, long runId) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(RECLAIM)) {
            ps.setLong(1, runId);
            ps.setTimestamp(2, now());
            ps.setString(3, job);
            ps.setLong(4, runId);
            return ps.executeUpdate();
        }
    }

    /**
     * Claims up to {@code limit} waiting items for the run, in one transaction: each is deleted from the inbox
     * (a row another claim already deleted is skipped) and written to the state store as claimed, unless the job
     * has acted on that key and version already (once per job; a new version is a new item).
     */
    public Claim claim(String job, long runId, int limit) throws SQLException {
        return claim(job, runId, limit, clock.instant());
    }

    /** As {@link #claim(String, long, int)}, taking only items available at {@code availableBy}. */
    public Claim claim(String job, long runId, int limit, java.time.Instant availableBy) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> claimOnce(job, runId, limit, availableBy));
    }

    private Claim claimOnce(String job, long runId, int limit, java.time.Instant availableBy) throws SQLException {
        if (postgres) {
            return claimInOneStatement(job, runId, limit, availableBy);
        }
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                List<Item> waiting = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(NEXT_IN_INBOX)) {
                    ps.setString(1, job);
                    ps.setTimestamp(2, Timestamp.from(availableBy));
                    ps.setInt(3, limit);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            waiting.add(new Item(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                                    instant(rs.getTimestamp(5))));
                        }
                    }
                }
                if (waiting.isEmpty()) {
                    c.commit();
                    return new Claim(0, List.of());
                }
                Timestamp now = now();
                try (PreparedStatement take = c.prepareStatement(TAKE_FROM_INBOX);
                        PreparedStatement insert = c.prepareStatement(INSERT_CLAIMED)) {
                    for (Item item : waiting) {
                        take.setString(1, job);
                        take.setString(2, item.key());
                        take.setString(3, item.version());
                        take.addBatch();
                    }
                    int[] taken = take.executeBatch();
                    List<Item> candidates = new ArrayList<>();
                    for (int i = 0; i < waiting.size(); i++) {
                        if (taken[i] != 1) {
                            // another claim took it first
                            continue;
                        }
                        Item item = waiting.get(i);
                        insert.setString(1, job);
                        insert.setString(2, item.key());
                        insert.setString(3, item.version());
                        insert.setString(4, item.data());
                        insert.setInt(5, item.attempts() + 1);
                        insert.setLong(6, runId);
                        insert.setTimestamp(7, now);
                        insert.setTimestamp(8, now);
                        insert.setString(9, job);
                        insert.setString(10, item.key());
                        insert.setString(11, item.version());
                        insert.addBatch();
                        candidates.add(new Item(item.key(), item.version(), item.data(), item.attempts() + 1,
                                item.failingSince()));
                    }
                    List<Item> claimed = new ArrayList<>();
                    if (!candidates.isEmpty()) {
                        int[] inserted = insert.executeBatch();
                        for (int i = 0; i < candidates.size(); i++) {
                            if (inserted[i] == 1) {
                                claimed.add(candidates.get(i));
                            }
                        }
                    }
                    c.commit();
                    return new Claim(candidates.size(), claimed);
                }
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private Claim claimInOneStatement(String job, long runId, int limit, java.time.Instant availableBy)
            throws SQLException {
        Timestamp now = now();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (Statement st = c.createStatement()) {
                    // the claim walks the inbox index in seq order and stops after a chunk. Without statistics (a
                    // new table, a backlog that arrived since the last ANALYZE) the planner guesses a few rows and
                    // would rather read and sort all the job's waiting rows, once per chunk
                    st.execute("SET LOCAL enable_sort = off");
                }
                int taken = 0;
                List<Item> claimed = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(PG_CLAIM)) {
                    ps.setString(1, job);
                    ps.setTimestamp(2, Timestamp.from(availableBy));
                    ps.setInt(3, limit);
                    ps.setString(4, job);
                    ps.setLong(5, runId);
                    ps.setTimestamp(6, now);
                    ps.setTimestamp(7, now);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            taken = rs.getInt(1);
                            if (rs.getString(2) != null) {
                                claimed.add(new Item(rs.getString(2), rs.getString(3), rs.getString(4),
                                        rs.getInt(5), instant(rs.getTimestamp(6))));
                            }
                        }
                    }
                }
                c.commit();
                return new Claim(taken, claimed);
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    /**
     * A chunk taken from the inbox in a transaction that stays open while its items go through the route, and that
     * {@link #commitChunk} ends by writing their results: one transaction per chunk. A run that stops or dies before
     * the commit rolls it back, and the items are simply waiting again. Closing it without a commit rolls it back.
     */
    public static final class OpenChunk implements AutoCloseable {
        private final Connection connection;
        private final int taken;
        private final List<Item> items;
        private boolean ended;

        OpenChunk(Connection connection, int taken, List<Item> items) {
            this.connection = connection;
            this.taken = taken;
            this.items = items;
        }

        /** Inbox rows taken, including those of items the job had acted on already (they are dropped). */
        public int taken() {
            return taken;
        }

        /** The items to run. */
        public List<Item> items() {
            return items;
        }

        @Override
        public void close() throws SQLException {
            try {
                if (!ended) {
                    connection.rollback();
                }
            } finally {
                ended = true;
                connection.close();
            }
        }
    }

    /**
     * Whether a chunk can be taken while the previous one commits. PostgreSQL skips the rows another transaction
     * holds and goes on to the next ones; H2 applies the limit first and would find the inbox empty.
     */
    public boolean takesWhileCommitting() {
        return postgres;
    }

    /** Opens a chunk's transaction and takes up to {@code limit} items available at {@code availableBy}. */
    public OpenChunk openChunk(String job, int limit, Instant availableBy) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> openChunkOnce(job, limit, availableBy));
    }

    private OpenChunk openChunkOnce(String job, int limit, Instant availableBy) throws SQLException {
        Connection c = dataSource.getConnection();
        try {
            c.setAutoCommit(false);
            int taken = 0;
            List<Item> items = new ArrayList<>();
            if (postgres) {
                try (Statement st = c.createStatement()) {
                    // as in the claim: walk the inbox index in seq order and stop after a chunk, whatever the
                    // planner guesses of a backlog that arrived since the last ANALYZE
                    st.execute("SET LOCAL enable_sort = off");
                }
                try (PreparedStatement ps = c.prepareStatement(PG_TAKE)) {
                    ps.setString(1, job);
                    ps.setTimestamp(2, Timestamp.from(availableBy));
                    ps.setInt(3, limit);
                    ps.setString(4, job);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            taken = rs.getInt(1);
                            if (rs.getString(2) != null) {
                                items.add(new Item(rs.getString(2), rs.getString(3), rs.getString(4),
                                        rs.getInt(5) + 1, instant(rs.getTimestamp(6))));
                            }
                        }
                    }
                }
                return new OpenChunk(c, taken, items);
            }
            // not locked by the select (H2 would read and lock every waiting row of the job): the delete below
            // takes each row, and one another transaction took first counts 0 and is passed over
            List<Item> waiting = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(NEXT_IN_INBOX)) {
                ps.setString(1, job);
                ps.setTimestamp(2, Timestamp.from(availableBy));
                ps.setInt(3, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        waiting.add(new Item(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4) + 1,
                                instant(rs.getTimestamp(5))));
                    }
                }
            }
            if (!waiting.isEmpty()) {
                try (PreparedStatement take = c.prepareStatement(TAKE_FROM_INBOX)) {
                    for (Item item : waiting) {
                        take.setString(1, job);
                        take.setString(2, item.key());
                        take.setString(3, item.version());
                        take.addBatch();
                    }
                    int[] deleted = take.executeBatch();
                    for (int i = 0; i < waiting.size(); i++) {
                        if (deleted[i] != 1) {
                            continue;
                        }
                        taken++;
                        if (!hasState(c, job, waiting.get(i))) {
                            items.add(waiting.get(i));
                        }
                    }
                }
            }
            return new OpenChunk(c, taken, items);
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback();
            } finally {
                c.close();
            }
            throw e;
        }
    }

    /**
     * Ends a chunk's transaction: the finished items are written at their final status (the state row is written
     * once), the done ones handed to the downstream jobs, the deferred ones and those {@code kept} (their failure
     * could not be recorded) put back in the inbox, the run's counts added, and all of it committed. Returns how
     * many results were written.
     */
    public int commitChunk(OpenChunk chunk, String job, long runId, List<Result> results,
            Collection<String> downstream, List<Item> kept) throws SQLException {
        Connection c = chunk.connection;
        Timestamp now = now();
        List<Result> finished = results.stream().filter(r -> r.outcome() != Outcome.DEFERRED).toList();
        java.util.Set<String> written = postgres ? writeFinishedInOneStatement(c, job, runId, finished, now)
                : writeFinishedOneByOne(c, job, runId, finished, now);
        int done = 0;
        int failed = 0;
        List<Result> handedOn = new ArrayList<>();
        for (Result r : finished) {
            if (!written.contains(ownedKey(r.item().key(), r.item().version()))) {
                // another run wrote this item meanwhile: leave it as it is
                continue;
            }
            if (r.done()) {
                done++;
                handedOn.add(r);
            } else {
                failed++;
            }
        }
        handOn(c, handedOn, downstream, now);
        List<Result> putBack = new ArrayList<>(results.stream().filter(r -> r.outcome() == Outcome.DEFERRED)
                .toList());
        int deferred = putBack.size();
        kept.forEach(item -> putBack.add(new Result(item, Outcome.DEFERRED, item.data(), null, 0)));
        if (!putBack.isEmpty()) {
            try (PreparedStatement defer = c.prepareStatement(DEFER)) {
                for (Result r : putBack) {
                    bindDeferred(defer, job, r, now);
                    defer.addBatch();
                }
                defer.executeBatch();
            }
        }
        try (PreparedStatement ps = c.prepareStatement(COUNT_RUN)) {
            // as a claim counts: the items this run acted on, not the inbox rows of items acted on before
            ps.setInt(1, done + failed + deferred + kept.size());
            ps.setInt(2, done);
            ps.setInt(3, failed);
            ps.setInt(4, results.stream().mapToInt(Result::retries).sum());
            ps.setInt(5, kept.size());
            ps.setInt(6, deferred);
            ps.setLong(7, runId);
            ps.executeUpdate();
        }
        c.commit();
        chunk.ended = true;
        return done + failed + deferred;
    }

    private void bindDeferred(PreparedStatement defer, String job, Result r, Timestamp now) throws SQLException {
        defer.setString(1, job);
        defer.setString(2, r.item().key());
        defer.setString(3, r.item().version());
        defer.setString(4, r.item().data());
        defer.setTimestamp(5, now);
        defer.setTimestamp(6, r.availableAt() != null ? Timestamp.from(r.availableAt()) : now);
        defer.setInt(7, r.item().attempts());
        defer.setTimestamp(8, r.item().failingSince() != null ? Timestamp.from(r.item().failingSince()) : null);
    }

    private java.util.Set<String> writeFinishedInOneStatement(Connection c, String job, long runId,
            List<Result> finished, Timestamp now) throws SQLException {
        java.util.Set<String> written = new java.util.HashSet<>();
        if (finished.isEmpty()) {
            return written;
        }
        try (PreparedStatement ps = c.prepareStatement(PG_WRITE_FINISHED)) {
            ps.setString(1, job);
            ps.setLong(2, runId);
            ps.setTimestamp(3, now);
            ps.setTimestamp(4, now);
            ps.setArray(5, c.createArrayOf("varchar", finished.stream().map(r -> r.item().key()).toArray()));
            ps.setArray(6, c.createArrayOf("varchar", finished.stream().map(r -> r.item().version()).toArray()));
            ps.setArray(7, c.createArrayOf("varchar", finished.stream()
                    .map(r -> (r.done() ? ItemStatus.DONE : ItemStatus.FAILED).db()).toArray()));
            ps.setArray(8, c.createArrayOf("varchar", finished.stream().map(Result::data).toArray()));
            ps.setArray(9, c.createArrayOf("varchar", finished.stream().map(r -> cut(r.error(), 2000)).toArray()));
            ps.setArray(10, c.createArrayOf("integer", finished.stream().map(r -> r.item().attempts()).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    written.add(ownedKey(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return written;
    }

    private java.util.Set<String> writeFinishedOneByOne(Connection c, String job, long runId, List<Result> finished,
            Timestamp now) throws SQLException {
        java.util.Set<String> written = new java.util.HashSet<>();
        if (finished.isEmpty()) {
            return written;
        }
        try (PreparedStatement ps = c.prepareStatement(WRITE_FINISHED)) {
            for (Result r : finished) {
                ps.setString(1, job);
                ps.setString(2, r.item().key());
                ps.setString(3, r.item().version());
                ps.setString(4, (r.done() ? ItemStatus.DONE : ItemStatus.FAILED).db());
                ps.setString(5, r.data());
                ps.setString(6, cut(r.error(), 2000));
                ps.setInt(7, r.item().attempts());
                ps.setLong(8, runId);
                ps.setTimestamp(9, now);
                ps.setTimestamp(10, now);
                ps.setString(11, job);
                ps.setString(12, r.item().key());
                ps.setString(13, r.item().version());
                ps.addBatch();
            }
            return rowsWritten(ps.executeBatch(), finished);
        }
    }

    /** The items of a batch whose statement changed their row (one count per result, in order). */
    private static java.util.Set<String> rowsWritten(int[] counts, List<Result> results) {
        java.util.Set<String> written = new java.util.HashSet<>();
        for (int i = 0; i < results.size(); i++) {
            if (counts[i] == 1) {
                written.add(ownedKey(results.get(i).item().key(), results.get(i).item().version()));
            }
        }
        return written;
    }

    private static boolean hasState(Connection c, String job, Item item) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(HAS_STATE)) {
            ps.setString(1, job);
            ps.setString(2, item.key());
            ps.setString(3, item.version());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }

    /** The run's claimed, unfinished items, oldest first. */
    public List<Item> claimedBy(String job, long runId, int limit) throws SQLException {
        List<Item> items = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(CLAIMED_BY_RUN)) {
            ps.setString(1, job);
            ps.setLong(2, runId);
            ps.setInt(3, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    items.add(new Item(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4)));
                }
            }
        }
        return items;
    }

    /**
     * Writes a chunk's results in one transaction: each item's state, the downstream jobs' inbox rows for the items
     * done, and the run's counts (with the chunk's redeliveries and the items kept claimed because their failure
     * could not be recorded). Returns how many results were written; an item the run no longer owns is left as
     * it is.
     */
    public int complete(String job, long runId, List<Result> results, Collection<String> downstream,
            int kept) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                Timestamp now = now();
                int written = 0;
                int done = 0;
                int failed = 0;
                int deferred = 0;
                List<Result> handedOn = new ArrayList<>();
                List<Result> finished = results.stream().filter(r -> r.outcome() != Outcome.DEFERRED).toList();
                java.util.Set<String> owned = postgres ? finishInOneStatement(c, job, runId, finished, now)
                        : finishOneByOne(c, job, runId, finished, now);
                for (Result r : finished) {
                    if (!owned.contains(ownedKey(r.item().key(), r.item().version()))) {
                        // the run no longer owns the item (it was declared abandoned): leave it as it is
                        continue;
                    }
                    written++;
                    if (r.done()) {
                        done++;
                        handedOn.add(r);
                    } else {
                        failed++;
                    }
                }
                handOn(c, handedOn, downstream, now);
                try (PreparedStatement delete = c.prepareStatement(DELETE_CLAIMED);
                        PreparedStatement defer = c.prepareStatement(DEFER)) {
                    for (Result r : results) {
                        if (r.outcome() != Outcome.DEFERRED) {
                            continue;
                        }
                        delete.setString(1, job);
                        delete.setString(2, r.item().key());
                        delete.setString(3, r.item().version());
                        delete.setLong(4, runId);
                        if (delete.executeUpdate() != 1) {
                            continue;
                        }
                        defer.setString(1, job);
                        defer.setString(2, r.item().key());
                        defer.setString(3, r.item().version());
                        defer.setString(4, r.item().data());
                        defer.setTimestamp(5, now);
                        defer.setTimestamp(6, r.availableAt() != null ? Timestamp.from(r.availableAt()) : now);
                        defer.setInt(7, r.item().attempts());
                        defer.setTimestamp(8, r.item().failingSince() != null
                                ? Timestamp.from(r.item().failingSince()) : null);
                        defer.executeUpdate();
                        written++;
                        deferred++;
                    }
                }
                int retries = results.stream().mapToInt(Result::retries).sum();
                try (PreparedStatement ps = c.prepareStatement(COUNT_RUN)) {
                    ps.setInt(1, written + kept);
                    ps.setInt(2, done);
                    ps.setInt(3, failed);
                    ps.setInt(4, retries);
                    ps.setInt(5, kept);
                    ps.setInt(6, deferred);
                    ps.setLong(7, runId);
                    ps.executeUpdate();
                }
                c.commit();
                return written;
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private static String ownedKey(String key, String version) {
        return key + "\u0000" + version;
    }

    /** Writes the finished items' states, a statement per item in one batch; returns those the run still owned. */
    private java.util.Set<String> finishOneByOne(Connection c, String job, long runId, List<Result> finished,
            Timestamp now) throws SQLException {
        java.util.Set<String> owned = new java.util.HashSet<>();
        if (finished.isEmpty()) {
            return owned;
        }
        try (PreparedStatement ps = c.prepareStatement(FINISH_ITEM)) {
            for (Result r : finished) {
                ps.setString(1, (r.done() ? ItemStatus.DONE : ItemStatus.FAILED).db());
                ps.setString(2, r.data());
                ps.setString(3, cut(r.error(), 2000));
                ps.setTimestamp(4, now);
                ps.setString(5, job);
                ps.setString(6, r.item().key());
                ps.setString(7, r.item().version());
                ps.setLong(8, runId);
                ps.addBatch();
            }
            return rowsWritten(ps.executeBatch(), finished);
        }
    }

    /** Writes the finished items' states in one statement; returns those the run still owned. */
    private java.util.Set<String> finishInOneStatement(Connection c, String job, long runId, List<Result> finished,
            Timestamp now) throws SQLException {
        java.util.Set<String> owned = new java.util.HashSet<>();
        if (finished.isEmpty()) {
            return owned;
        }
        try (Statement st = c.createStatement()) {
            // with no statistics to say otherwise the planner guesses that the run holds one claimed row and joins
            // the chunk's arrays to it in a nested loop, chunk size squared comparisons; a hash join is linear
            // whatever the guess (for this transaction only)
            st.execute("SET LOCAL enable_nestloop = off");
        }
        try (PreparedStatement ps = c.prepareStatement(PG_FINISH)) {
            ps.setTimestamp(1, now);
            ps.setArray(2, c.createArrayOf("varchar", finished.stream().map(r -> r.item().key()).toArray()));
            ps.setArray(3, c.createArrayOf("varchar", finished.stream().map(r -> r.item().version()).toArray()));
            ps.setArray(4, c.createArrayOf("varchar", finished.stream()
                    .map(r -> (r.done() ? ItemStatus.DONE : ItemStatus.FAILED).db()).toArray()));
            ps.setArray(5, c.createArrayOf("varchar", finished.stream().map(Result::data).toArray()));
            ps.setArray(6, c.createArrayOf("varchar", finished.stream().map(r -> cut(r.error(), 2000)).toArray()));
            ps.setString(7, job);
            ps.setLong(8, runId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    owned.add(ownedKey(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return owned;
    }

    /**
     * Puts the done items in the downstream jobs' inboxes: a row already waiting there (the item was handed on
     * again before the downstream job took it) gets the new data; the others are inserted.
     */
    private void handOn(Connection c, List<Result> done, Collection<String> downstream, Timestamp now)
            throws SQLException {
        if (done.isEmpty() || downstream.isEmpty()) {
            return;
        }
        if (postgres) {
            Object[] keys = done.stream().map(r -> r.item().key()).toArray();
            Object[] versions = done.stream().map(r -> r.item().version()).toArray();
            Object[] data = done.stream().map(Result::data).toArray();
            try (PreparedStatement ps = c.prepareStatement(PG_HAND_ON)) {
                for (String next : downstream) {
                    ps.setString(1, next);
                    ps.setTimestamp(2, now);
                    ps.setArray(3, c.createArrayOf("varchar", keys));
                    ps.setArray(4, c.createArrayOf("varchar", versions));
                    ps.setArray(5, c.createArrayOf("varchar", data));
                    ps.executeUpdate();
                }
            }
            return;
        }
        List<String[]> targets = new ArrayList<>();
        try (PreparedStatement refresh = c.prepareStatement(REFRESH_QUEUED)) {
            for (Result r : done) {
                for (String next : downstream) {
                    refresh.setString(1, r.data());
                    refresh.setString(2, next);
                    refresh.setString(3, r.item().key());
                    refresh.setString(4, r.item().version());
                    refresh.addBatch();
                    targets.add(new String[] {next, r.item().key(), r.item().version(), r.data()});
                }
            }
            int[] refreshed = refresh.executeBatch();
            try (PreparedStatement enqueue = c.prepareStatement(ENQUEUE)) {
                int inserts = 0;
                for (int i = 0; i < targets.size(); i++) {
                    if (refreshed[i] > 0) {
                        continue;
                    }
                    String[] t = targets.get(i);
                    enqueue.setString(1, t[0]);
                    enqueue.setString(2, t[1]);
                    enqueue.setString(3, t[2]);
                    enqueue.setBoolean(4, true);
                    enqueue.setString(5, t[3]);
                    enqueue.setTimestamp(6, now);
                    enqueue.addBatch();
                    inserts++;
                }
                if (inserts > 0) {
                    enqueue.executeBatch();
                }
            }
        }
    }

    /**
     * Offers an item to a job that has no upstream job (or to any job, by hand). An incomplete item waits until
     * it is offered again as complete. A new version of a key is a new item.
     */
    public boolean offer(String job, String key, String version, String data, boolean complete)
            throws SQLException {
        if (postgres) {
            try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(PG_OFFER)) {
                bindInboxRow(ps, job, key, version, complete, data);
                ps.setString(7, job);
                ps.setString(8, key);
                ps.setString(9, version);
                return ps.executeUpdate() == 1;
            }
        }
        try (Connection c = dataSource.getConnection()) {
            if (hasState(c, job, new Item(key, version, null, 0))) {
                // already taken by the job: offering it again changes nothing
                return false;
            }
            try (PreparedStatement ps = c.prepareStatement(UPDATE_QUEUED)) {
                ps.setBoolean(1, complete);
                ps.setString(2, data);
                ps.setString(3, job);
                ps.setString(4, key);
                ps.setString(5, version);
                if (ps.executeUpdate() == 1) {
                    return true;
                }
            }
            try (PreparedStatement ps = c.prepareStatement(ENQUEUE)) {
                bindInboxRow(ps, job, key, version, complete, data);
                ps.executeUpdate();
            }
            return true;
        }
    }

    /** The first six parameters of an inbox insert: job, key, version, complete, data, enqueued now. */
    private void bindInboxRow(PreparedStatement ps, String job, String key, String version, boolean complete,
            String data) throws SQLException {
        ps.setString(1, job);
        ps.setString(2, key);
        ps.setString(3, version);
        ps.setBoolean(4, complete);
        ps.setString(5, data);
        ps.setTimestamp(6, now());
    }

    /** Puts an item that failed in a job back in that job's inbox, with the data it was given. */
    public boolean redrive(String job, String key, String version) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                String data;
                try (PreparedStatement ps = c.prepareStatement(FAILED_ITEM)) {
                    ps.setString(1, job);
                    ps.setString(2, key);
                    ps.setString(3, version);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            c.rollback();
                            return false;
                        }
                        data = rs.getString(1);
                    }
                }
                try (PreparedStatement ps = c.prepareStatement(DELETE_ITEM)) {
                    ps.setString(1, job);
                    ps.setString(2, key);
                    ps.setString(3, version);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(ENQUEUE)) {
                    bindInboxRow(ps, job, key, version, true, data);
                    ps.executeUpdate();
                }
                c.commit();
                return true;
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }

    static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
