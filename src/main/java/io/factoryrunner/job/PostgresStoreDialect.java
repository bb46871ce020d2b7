package io.factoryrunner.job;

import static io.factoryrunner.job.StoreDialect.column;
import static io.factoryrunner.job.StoreDialect.itemKeys;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Feed;
import io.factoryrunner.job.JobStore.Item;
import io.factoryrunner.job.JobStore.Result;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * PostgreSQL: a chunk's claim and its results go as one statement each (arrays, {@code RETURNING},
 * {@code ON CONFLICT}, data-modifying {@code WITH}), and a claim skips the inbox rows another transaction holds, so
 * the next chunk can be taken while the previous one commits.
 */
final class PostgresStoreDialect implements StoreDialect {

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
                ON TRUE""".formatted(TAKE_FROM_INBOX,
            FED.formatted("(SELECT upstream FROM feed)", "(SELECT read_seq FROM feed)"));

    /**
     * One transaction per chunk: takes a chunk from the inbox and then from the feed (not moved: the chunk's commit
     * moves it), answering how many were taken, the feed position after them, and the items not acted on yet.
     */
    private static final String TAKE = """
            WITH taken AS (%s),
            fed AS (%s),
            arrived AS (
                SELECT item_key, item_version, data, attempts, failing_since, CAST(NULL AS BIGINT) AS done_seq
                  FROM taken
                UNION ALL
                SELECT item_key, item_version, data, 0, CAST(NULL AS TIMESTAMP WITH TIME ZONE), done_seq FROM fed)
            SELECT n.taken, n.read_to, a.item_key, a.item_version, a.data, a.attempts, a.failing_since
              FROM (SELECT COUNT(*) AS taken, MAX(done_seq) AS read_to FROM arrived) n
              LEFT JOIN arrived a
                ON NOT EXISTS (SELECT 1 FROM job_state s
                                WHERE s.job = ? AND s.item_key = a.item_key AND s.item_version = a.item_version)"""
            .formatted(TAKE_FROM_INBOX, FED.formatted("?", "?"));

    /** A chunk's results in one statement; answers the items the run still owned. */
    private static final String FINISH = """
            UPDATE job_state s
               SET status = u.status, data = u.data, error_message = u.error, done_seq = u.done_seq, updated_at = ?,
                   row_version = s.row_version + 1
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::bigint[])
                   AS u(item_key, item_version, status, data, error, done_seq)
             WHERE s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version AND s.run_id = ?
               AND s.status = 'claimed'
            RETURNING s.item_key, s.item_version""";

    /**
     * One transaction per chunk: the chunk's finished items written at their final status; answers those written
     * (an item another run wrote meanwhile is left as it is).
     */
    private static final String WRITE_FINISHED = """
            INSERT INTO job_state (job, item_key, item_version, status, data, error_message, attempts, run_id,
                                   created_at, updated_at, row_version, done_seq)
            SELECT ?, u.item_key, u.item_version, u.status, u.data, u.error, u.attempts, ?, ?, ?, 0, u.done_seq
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::int[],
                          ?::bigint[])
                   AS u(item_key, item_version, status, data, error, attempts, done_seq)
            ON CONFLICT (job, item_key, item_version) DO NOTHING
            RETURNING item_key, item_version""";

    private static final String ALLOCATE = """
            INSERT INTO job_head (job, last_seq) VALUES (?, ?)
            ON CONFLICT (job) DO UPDATE SET last_seq = job_head.last_seq + EXCLUDED.last_seq
            RETURNING last_seq""";

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
        walkInboxInOrder(c);
        try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
            Jdbc.bind(ps, job, availableBy, limit, job, limit, job, job, runId, now, now);
            int taken = 0;
            Map<ItemKey, Item> items = new LinkedHashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
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
        walkInboxInOrder(c);
        try (PreparedStatement ps = c.prepareStatement(TAKE)) {
            // no job is named "": a job without a feed reads nothing from it
            Jdbc.bind(ps, job, availableBy, limit, feed == null ? "" : feed.upstream(),
                    feed == null ? 0L : feed.readTo(), limit, job);
            int taken = 0;
            Feed after = feed;
            Map<ItemKey, Item> items = new LinkedHashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    taken = rs.getInt(1);
                    long readTo = rs.getLong(2);
                    if (!rs.wasNull() && feed != null) {
                        after = new Feed(feed.upstream(), readTo);
                    }
                    if (rs.getString(3) != null) {
                        items.putIfAbsent(new ItemKey(rs.getString(3), rs.getString(4)), new Item(rs.getString(3),
                                rs.getString(4), rs.getString(5), rs.getInt(6) + 1, Jdbc.instant(rs, 7)));
                    }
                }
            }
            return new Claim(taken, new ArrayList<>(items.values()), after);
        }
    }

    /**
     * The claim walks the inbox index in seq order and stops after a chunk. Without statistics (a new table, a
     * backlog that arrived since the last ANALYZE) the planner guesses a few rows and would rather read and sort all
     * the job's waiting rows, once per chunk.
     */
    private static void walkInboxInOrder(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL enable_sort = off");
        }
    }

    @Override
    public Set<ItemKey> finish(Connection c, String job, long runId, List<Result> finished, List<Long> doneSeqs,
            Instant now) throws SQLException {
        if (finished.isEmpty()) {
            return Set.of();
        }
        try (Statement st = c.createStatement()) {
            // with no statistics to say otherwise the planner guesses that the run holds one claimed row and joins
            // the chunk's arrays to it in a nested loop, chunk size squared comparisons; a hash join is linear
            // whatever the guess (for this transaction only)
            st.execute("SET LOCAL enable_nestloop = off");
        }
        try (PreparedStatement ps = c.prepareStatement(FINISH)) {
            Jdbc.bind(ps, now,
                    column(c, "varchar", finished, r -> r.item().key()),
                    column(c, "varchar", finished, r -> r.item().version()),
                    column(c, "varchar", finished, StoreDialect::status),
                    column(c, "varchar", finished, Result::data),
                    column(c, "varchar", finished, StoreDialect::error),
                    c.createArrayOf("bigint", doneSeqs.toArray()),
                    job, runId);
            return itemKeys(ps);
        }
    }

    @Override
    public Set<ItemKey> writeFinished(Connection c, String job, long runId, List<Result> finished,
            List<Long> doneSeqs, Instant now) throws SQLException {
        if (finished.isEmpty()) {
            return Set.of();
        }
        try (PreparedStatement ps = c.prepareStatement(WRITE_FINISHED)) {
            Jdbc.bind(ps, job, runId, now, now,
                    column(c, "varchar", finished, r -> r.item().key()),
                    column(c, "varchar", finished, r -> r.item().version()),
                    column(c, "varchar", finished, StoreDialect::status),
                    column(c, "varchar", finished, Result::data),
                    column(c, "varchar", finished, StoreDialect::error),
                    column(c, "integer", finished, r -> r.item().attempts()),
                    c.createArrayOf("bigint", doneSeqs.toArray()));
            return itemKeys(ps);
        }
    }

    @Override
    public long allocate(Connection c, String job, int count) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ALLOCATE)) {
            Jdbc.bind(ps, job, count);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
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
