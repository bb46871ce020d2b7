package io.factoryrunner.job;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Feed;
import io.factoryrunner.job.JobStore.Item;
import io.factoryrunner.job.JobStore.Result;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * PostgreSQL: a chunk's claim and its results go as one statement each (arrays, {@code RETURNING},
 * {@code ON CONFLICT}, data-modifying {@code WITH}), and a claim skips the inbox rows another transaction holds, so
 * the next chunk can be taken while the previous one commits.
 */
final class PostgresStoreDialect implements StoreDialect {

    /**
     * The take walks the inbox index in seq order and stops after a chunk. Without statistics (a new table, a
     * backlog that arrived since the last ANALYZE) the planner guesses a few rows and would rather read and sort all
     * the job's waiting rows, once per chunk. Set for the transaction only, in the take's own round trip.
     */
    private static final String WALK_INBOX_IN_ORDER = "SET LOCAL enable_sort = off;";

    /**
     * The chunk statements run hundreds of times a run in the same shape: each connection plans them once (a
     * generic plan, made again after an ANALYZE of their tables) instead of at every execution, which took a fifth
     * of the server's CPU per chunk (the connections' {@code plan_cache_mode} is {@code force_custom_plan}). The plan
     * made stays linear in the chunk size whatever the table's statistics say when it is made (a new table looks
     * empty, and a sequential scan of it cheap): every table is read through the index its conditions name. Set for
     * the transaction only, in the statement's own round trip.
     */
    private static final String ONE_PLAN = """
            SET LOCAL plan_cache_mode = force_generic_plan;
            SET LOCAL enable_seqscan = off;
            """;

    /**
     * Takes the oldest waiting rows of a job (job, available by, limit), skipping those another transaction holds;
     * the start of both ways to take a chunk.
     */
    private static final String TAKE_FROM_INBOX = """
            DELETE FROM job_inbox
             WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM job_inbox
                    WHERE job = ? AND complete = TRUE AND (available_at IS NULL OR available_at <= ?)
                    ORDER BY seq
                    LIMIT ?
                      FOR UPDATE SKIP LOCKED))
            RETURNING item_key, item_version, data, attempts, failing_since""";

    /**
     * The upstream's done items after a feed position (upstream, position), oldest first, as many as the inbox
     * left room for in the chunk (limit): the index on (job, done_seq) is walked from the position and stops there.
     */
    private static final String FED = """
            SELECT s.item_key, s.item_version, s.data, s.done_seq
              FROM job_state s
             WHERE s.job = %s AND s.done_seq > %s
             ORDER BY s.done_seq
             LIMIT GREATEST(? - (SELECT COUNT(*) FROM taken), 0)""";

    /**
     * The whole claim of a chunk: inbox rows first, then the feed (locked, and moved past what it gave); answers how
     * many items were taken and the items claimed (one row with no item when none was). {@code ON CONFLICT DO
     * NOTHING} skips an item the job has acted on already through the primary key, whatever the planner knows about
     * the table.
     */
    private static final String CLAIM = """
            %s%s
            WITH taken AS (%s),
            feed AS (SELECT upstream, read_seq FROM job_feed WHERE job = ? ORDER BY upstream LIMIT 1 FOR UPDATE),
            fed AS (%s),
            moved AS (
                UPDATE job_feed SET read_seq = (SELECT MAX(done_seq) FROM fed)
                 WHERE job = ? AND upstream = (SELECT upstream FROM feed) AND EXISTS (SELECT 1 FROM fed)),
            arrived AS (
                SELECT item_key, item_version, data, attempts, failing_since FROM taken
                UNION ALL
                SELECT item_key, item_version, data, 0, CAST(NULL AS TIMESTAMP WITH TIME ZONE) FROM fed),
            claimed AS (
                INSERT INTO job_state (job, item_key, item_version, status, data, attempts, run_id, created_at,
                                       updated_at, row_version)
                SELECT ?, a.item_key, a.item_version, 'claimed', a.data, a.attempts + 1, ?, ?, ?, 0
                  FROM arrived a
                ON CONFLICT (job, item_key, item_version) DO NOTHING
                RETURNING item_key, item_version, data, attempts)
            SELECT n.taken, c.item_key, c.item_version, c.data, c.attempts, a.failing_since
              FROM (SELECT COUNT(*) AS taken FROM arrived) n
              LEFT JOIN (claimed c JOIN arrived a ON a.item_key = c.item_key AND a.item_version = c.item_version)
                ON TRUE""".formatted(ONE_PLAN, WALK_INBOX_IN_ORDER, TAKE_FROM_INBOX,
            FED.formatted("(SELECT upstream FROM feed)", "(SELECT read_seq FROM feed)"));

    /**
     * One transaction per chunk: takes a chunk from the inbox and then from the feed (not moved: the chunk's commit
     * moves it), answering how many were taken, the feed position after them, and the items with whether the job has
     * acted on each already. That is asked per item, by the state's primary key, through a lateral join with a limit:
     * as an anti-join or an EXISTS the planner, which guesses the job's state holds a few rows until the next
     * ANALYZE, would hash all of them for every chunk.
     */
    private static final String TAKE = """
            %s%s
            WITH taken AS (%s),
            fed AS (%s),
            arrived AS (
                SELECT item_key, item_version, data, attempts, failing_since, CAST(NULL AS BIGINT) AS done_seq
                  FROM taken
                UNION ALL
                SELECT item_key, item_version, data, 0, CAST(NULL AS TIMESTAMP WITH TIME ZONE), done_seq FROM fed)
            SELECT n.taken, n.read_to, a.item_key, a.item_version, a.data, a.attempts, a.failing_since,
                   x.acted IS NOT NULL
              FROM (SELECT COUNT(*) AS taken, MAX(done_seq) AS read_to FROM arrived) n
              LEFT JOIN arrived a ON TRUE
              LEFT JOIN LATERAL (
                   SELECT 1 AS acted FROM job_state s
                    WHERE s.job = ? AND s.item_key = a.item_key AND s.item_version = a.item_version
                    LIMIT 1) x ON TRUE"""
            .formatted(ONE_PLAN, WALK_INBOX_IN_ORDER, TAKE_FROM_INBOX, FED.formatted("?", "?"));

    /** Numbers a chunk's done items from the job's head row, which the transaction holds until it ends. */
    private static final String HEAD = """
            head AS (
                INSERT INTO job_head (job, last_seq) VALUES (?, ?)
                ON CONFLICT (job) DO UPDATE SET last_seq = job_head.last_seq + EXCLUDED.last_seq
                RETURNING last_seq)""";

    /**
     * The run's counts from the items written (and the items put back, the retries), and the feed's move; answers
     * one row: how many items were written, whether the feed moved and whether the run was counted.
     */
    private static final String COUNT_AND_MOVE = """
            moved AS (
                UPDATE job_feed SET read_seq = ? WHERE job = ? AND upstream = ? AND read_seq = ? RETURNING 1),
            counted AS (
                UPDATE job_run
                   SET items_taken = items_taken + (SELECT COUNT(*) FROM written) + ?,
                       items_done = items_done + (SELECT COUNT(*) FROM written WHERE status = 'done'),
                       items_failed = items_failed + (SELECT COUNT(*) FROM written WHERE status = 'failed'),
                       retries = retries + ?, items_kept = items_kept + ?, items_deferred = items_deferred + ?
                 WHERE run_id = ? AND status = 'running'
                RETURNING 1)
            SELECT (SELECT COUNT(*) FROM written), (SELECT COUNT(*) FROM moved), (SELECT COUNT(*) FROM counted)""";

    /**
     * The claim path's results in one statement: the run's claimed rows moved to their final status (answering those
     * the run still owned), numbered, and counted. With no statistics to say otherwise the planner guesses that the
     * run holds one claimed row and would join the chunk's arrays to it in a nested loop, chunk size squared
     * comparisons; a hash join is linear whatever the guess (set for this transaction only, in the same round trip).
     */
    private static final String FINISH = """
            %sSET LOCAL enable_nestloop = off;
            WITH %s,
            written AS (
                UPDATE job_state s
                   SET status = u.status, data = u.data, error_message = u.error,
                       done_seq = (SELECT last_seq FROM head) - ? + u.done_n, updated_at = ?,
                       row_version = s.row_version + 1
                  FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::int[])
                       AS u(item_key, item_version, status, data, error, done_n)
                 WHERE s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version AND s.run_id = ?
                   AND s.status = 'claimed'
                RETURNING s.item_key, s.item_version, s.status),
            %s""".formatted(ONE_PLAN, HEAD, COUNT_AND_MOVE);

    /**
     * One transaction per chunk: the chunk's finished items inserted at their final status, numbered, the feed moved
     * and the run counted, in one statement; answers how many items were written and whether the feed moved. Its
     * insert's conflict clause is filled in by {@link #WRITE_NEW} and {@link #WRITE_AROUND_OTHERS}.
     */
    private static final String WRITE_FINISHED = """
            WITH %s,
            written AS (
                INSERT INTO job_state (job, item_key, item_version, status, data, error_message, attempts, run_id,
                                       created_at, updated_at, row_version, done_seq)
                SELECT ?, u.item_key, u.item_version, u.status, u.data, u.error, u.attempts, ?, ?, ?, 0,
                       (SELECT last_seq FROM head) - ? + u.done_n
                  FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::int[],
                              ?::int[])
                       AS u(item_key, item_version, status, data, error, attempts, done_n)
                %%s
                RETURNING item_key, item_version, status),
            %s""".formatted(HEAD, COUNT_AND_MOVE);

    /**
     * The chunk's write as it runs first: the job's head row locked, then a plain insert after a savepoint. The
     * lock waits for the chunk written before this one to end, should it still be committing (its write holds the
     * head row until then), and the write, a statement of its own, then runs as of that commit: it sees where that
     * chunk left the feed and the run's counts, and numbers its items after that chunk's. The take left out every
     * item the job has acted on, so a state row of the chunk's items exists only in the rare case that another run
     * wrote one meanwhile (an item offered by hand and fed to a run declared abandoned, say); {@code ON CONFLICT DO
     * NOTHING} on every write would make each insert speculative, a third of the write's server time per row (a
     * check, the insert, then a second WAL record to confirm it). The take's settings ({@link #ONE_PLAN}) hold for
     * the whole transaction.
     */
    private static final String WRITE_NEW = """
            SELECT 1 FROM job_head WHERE job = ? FOR UPDATE;
            SAVEPOINT chunk_write;
            """ + WRITE_FINISHED.formatted("");

    /**
     * The chunk's write again after the plain insert met a row another run wrote: back to the savepoint, and every
     * item whose row exists already is left as it is (and not counted).
     */
    private static final String WRITE_AROUND_OTHERS = "ROLLBACK TO SAVEPOINT chunk_write;\n"
            + WRITE_FINISHED.formatted("ON CONFLICT (job, item_key, item_version) DO NOTHING");

    /** SQLSTATE of a unique key violation. */
    private static final String UNIQUE_VIOLATION = "23505";

    private static final String ENSURE_HEAD = """
            INSERT INTO job_head (job, last_seq) VALUES (?, 0) ON CONFLICT (job) DO NOTHING""";

    private static final String ENSURE_FEED = """
            INSERT INTO job_feed (job, upstream, read_seq)
            SELECT ?, ?, COALESCE((SELECT last_seq FROM job_head WHERE job = ?), 0)
            ON CONFLICT (job, upstream) DO NOTHING""";

    /**
     * An offer in one statement; inserts or refreshes the inbox row unless the job has acted on the item already
     * (the count is then 0).
     */
    private static final String OFFER = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            SELECT ?, ?, ?, ?, ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM job_state s WHERE s.job = ? AND s.item_key = ? AND s.item_version = ?)
            ON CONFLICT (job, item_key, item_version) DO UPDATE SET complete = EXCLUDED.complete, data = EXCLUDED.data""";

    /** PostgreSQL skips the rows another transaction holds and goes on to the next ones. */
    @Override
    public boolean takesWhileCommitting() {
        return true;
    }

    @Override
    public Claim claim(Connection c, String job, long runId, int limit, Instant availableBy, Instant now)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
            Jdbc.bind(ps, job, availableBy, limit, job, limit, job, job, runId, now, now);
            int taken = 0;
            Map<ItemKey, Item> items = new LinkedHashMap<>();
            try (ResultSet rs = resultSet(ps)) {
                while (rs.next()) {
                    taken = rs.getInt(1);
                    if (rs.getString(2) != null) {
                        // an item both in the inbox and in the feed is claimed once
                        items.putIfAbsent(new ItemKey(rs.getString(2), rs.getString(3)), new Item(rs.getString(2),
                                rs.getString(3), rs.getString(4), rs.getInt(5), Jdbc.instant(rs, 6)));
                    }
                }
            }
            return new Claim(taken, new ArrayList<>(items.values()));
        }
    }

    @Override
    public Claim take(Connection c, String job, int limit, Instant availableBy, Feed feed) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(TAKE)) {
            // no job is named "": a job without a feed reads nothing from it
            Jdbc.bind(ps, job, availableBy, limit, feed == null ? "" : feed.upstream(),
                    feed == null ? 0L : feed.readTo(), limit, job);
            int taken = 0;
            Feed after = feed;
            Map<ItemKey, Item> items = new LinkedHashMap<>();
            try (ResultSet rs = resultSet(ps)) {
                while (rs.next()) {
                    taken = rs.getInt(1);
                    long readTo = rs.getLong(2);
                    if (!rs.wasNull() && feed != null) {
                        after = new Feed(feed.upstream(), readTo);
                    }
                    if (rs.getString(3) != null && !rs.getBoolean(8)) {
                        items.putIfAbsent(new ItemKey(rs.getString(3), rs.getString(4)), new Item(rs.getString(3),
                                rs.getString(4), rs.getString(5), rs.getInt(6) + 1, Jdbc.instant(rs, 7)));
                    }
                }
            }
            return new Claim(taken, new ArrayList<>(items.values()), after);
        }
    }

    @Override
    public int write(Connection c, ChunkWrite w) throws SQLException {
        List<Result> finished = w.finished();
        int done = w.doneCount();
        List<Object> params = new ArrayList<>(List.of(w.job(), done));
        if (w.claimed()) {
            params.addAll(List.of(done, w.now(),
                    texts(finished, r -> r.item().key()),
                    texts(finished, r -> r.item().version()),
                    texts(finished, StoreDialect::status),
                    texts(finished, Result::data),
                    texts(finished, StoreDialect::error),
                    w.doneOrdinals().toArray(Integer[]::new),
                    w.job(), w.runId()));
        } else {
            params.addAll(List.of(w.job(), w.runId(), w.now(), w.now(), done,
                    texts(finished, r -> r.item().key()),
                    texts(finished, r -> r.item().version()),
                    texts(finished, StoreDialect::status),
                    texts(finished, Result::data),
                    texts(finished, StoreDialect::error),
                    finished.stream().map(r -> r.item().attempts()).toArray(Integer[]::new),
                    w.doneOrdinals().toArray(Integer[]::new)));
        }
        // no job is named "": a chunk that does not move the feed moves nothing
        boolean moves = w.movesFeed();
        params.addAll(List.of(moves ? w.feedTo().readTo() : 0L, w.job(), moves ? w.feedFrom().upstream() : "",
                moves ? w.feedFrom().readTo() : 0L,
                w.deferred() + w.kept(), w.retries(), w.kept(), w.deferred(), w.runId()));
        if (w.claimed()) {
            return write(c, w, FINISH, params, 0);
        }
        try {
            List<Object> locked = new ArrayList<>(params.size() + 1);
            locked.add(w.job());
            locked.addAll(params);
            return write(c, w, WRITE_NEW, locked, 1);
        } catch (SQLException e) {
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw e;
            }
            return write(c, w, WRITE_AROUND_OTHERS, params, 0);
        }
    }

    private static int write(Connection c, ChunkWrite w, String statement, List<Object> params, int skip)
            throws SQLException {
        boolean moves = w.movesFeed();
        try (PreparedStatement ps = c.prepareStatement(statement)) {
            Jdbc.bind(ps, params.toArray());
            int written;
            boolean feedMoved;
            boolean counted;
            try (ResultSet rs = resultSet(ps, skip)) {
                rs.next();
                written = rs.getInt(1);
                feedMoved = rs.getInt(2) == 1;
                counted = rs.getInt(3) == 1;
            }
            if (!counted) {
                throw StoreDialect.runTakenOver(w);
            }
            if (moves && !feedMoved) {
                throw new SQLException(StoreDialect.feedMoved(w));
            }
            return written;
        }
    }

    /**
     * A column of the results as a Java array: the driver sends it to the server in binary, each text as its bytes,
     * where an SQL array built by {@code createArrayOf} is written and parsed again as quoted text.
     */
    private static String[] texts(List<Result> results, Function<Result, String> value) {
        String[] column = new String[results.size()];
        for (int i = 0; i < column.length; i++) {
            column[i] = value.apply(results.get(i));
        }
        return column;
    }

    /** Runs a statement that may start with settings, and answers the result set of its query. */
    private static ResultSet resultSet(PreparedStatement ps) throws SQLException {
        return resultSet(ps, 0);
    }

    /** As {@link #resultSet(PreparedStatement)}, after the first {@code skip} result sets. */
    private static ResultSet resultSet(PreparedStatement ps, int skip) throws SQLException {
        boolean isResultSet = ps.execute();
        for (int skipped = 0; skipped < skip; ) {
            if (isResultSet) {
                skipped++;
            } else if (ps.getUpdateCount() == -1) {
                throw new SQLException("The statement answered no rows");
            }
            isResultSet = ps.getMoreResults();
        }
        while (!isResultSet) {
            if (ps.getUpdateCount() == -1) {
                throw new SQLException("The statement answered no rows");
            }
            isResultSet = ps.getMoreResults();
        }
        return ps.getResultSet();
    }

    @Override
    public void ensureHead(Connection c, String job) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ENSURE_HEAD)) {
            Jdbc.bind(ps, job);
            ps.executeUpdate();
        }
    }

    @Override
    public void ensureFeed(Connection c, String job, String upstream) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ENSURE_FEED)) {
            Jdbc.bind(ps, job, upstream, upstream);
            ps.executeUpdate();
        }
    }

    @Override
    public boolean offer(Connection c, String job, String key, String version, String data, boolean complete,
            Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(OFFER)) {
            Jdbc.bind(ps, job, key, version, complete, data, now, job, key, version);
            return ps.executeUpdate() == 1;
        }
    }
}
