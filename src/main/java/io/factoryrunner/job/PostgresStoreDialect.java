package io.factoryrunner.job;

import static io.factoryrunner.job.StoreDialect.column;
import static io.factoryrunner.job.StoreDialect.itemKeys;

import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Item;
import io.factoryrunner.job.JobStore.Result;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * PostgreSQL: a chunk's claim and its results go as one statement each (arrays, {@code RETURNING},
 * {@code ON CONFLICT}), and a claim skips the inbox rows another transaction holds, so the next chunk can be taken
 * while the previous one commits.
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
     * The whole claim of a chunk; answers how many inbox rows were taken and the items claimed (one row with no item
     * when none was). {@code ON CONFLICT DO NOTHING} skips an item the job has acted on already through the primary
     * key, whatever the planner knows about the table.
     */
    private static final String CLAIM = """
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
                ON TRUE""".formatted(TAKE_FROM_INBOX);

    /** One transaction per chunk: takes a chunk from the inbox, answering the items not acted on yet. */
    private static final String TAKE = """
            WITH taken AS (%s)
            SELECT n.taken, t.item_key, t.item_version, t.data, t.attempts, t.failing_since
              FROM (SELECT COUNT(*) AS taken FROM taken) n
              LEFT JOIN taken t
                ON NOT EXISTS (SELECT 1 FROM job_state s
                                WHERE s.job = ? AND s.item_key = t.item_key AND s.item_version = t.item_version)"""
            .formatted(TAKE_FROM_INBOX);

    /** A chunk's results in one statement; answers the items the run still owned. */
    private static final String FINISH = """
            UPDATE job_state s
               SET status = u.status, data = u.data, error_message = u.error, updated_at = ?,
                   row_version = s.row_version + 1
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[])
                   AS u(item_key, item_version, status, data, error)
             WHERE s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version AND s.run_id = ?
               AND s.status = 'claimed'
            RETURNING s.item_key, s.item_version""";

    /**
     * One transaction per chunk: the chunk's finished items written at their final status; answers those written
     * (an item another run wrote meanwhile is left as it is).
     */
    private static final String WRITE_FINISHED = """
            INSERT INTO job_state (job, item_key, item_version, status, data, error_message, attempts, run_id,
                                   created_at, updated_at, row_version)
            SELECT ?, u.item_key, u.item_version, u.status, u.data, u.error, u.attempts, ?, ?, ?, 0
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[], ?::int[])
                   AS u(item_key, item_version, status, data, error, attempts)
            ON CONFLICT (job, item_key, item_version) DO NOTHING
            RETURNING item_key, item_version""";

    /** Hands a chunk's done items to one downstream job. */
    private static final String HAND_ON = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            SELECT ?, u.item_key, u.item_version, TRUE, u.data, ?
              FROM unnest(?::varchar[], ?::varchar[], ?::varchar[]) AS u(item_key, item_version, data)
            ON CONFLICT (job, item_key, item_version) DO UPDATE SET data = EXCLUDED.data, complete = TRUE""";

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
            Jdbc.bind(ps, job, availableBy, limit, job, runId, now, now);
            return readTaken(ps, 0);
        }
    }

    @Override
    public Claim take(Connection c, String job, int limit, Instant availableBy) throws SQLException {
        walkInboxInOrder(c);
        try (PreparedStatement ps = c.prepareStatement(TAKE)) {
            Jdbc.bind(ps, job, availableBy, limit, job);
            return readTaken(ps, 1);
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

    /** Reads the count of rows taken and the items, their attempts raised by {@code attemptsAdded}. */
    private static Claim readTaken(PreparedStatement ps, int attemptsAdded) throws SQLException {
        int taken = 0;
        List<Item> items = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                taken = rs.getInt(1);
                if (rs.getString(2) != null) {
                    items.add(new Item(rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getInt(5) + attemptsAdded, Jdbc.instant(rs, 6)));
                }
            }
        }
        return new Claim(taken, items);
    }

    @Override
    public Set<ItemKey> finish(Connection c, String job, long runId, List<Result> finished, Instant now)
            throws SQLException {
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
                    job, runId);
            return itemKeys(ps);
        }
    }

    @Override
    public Set<ItemKey> writeFinished(Connection c, String job, long runId, List<Result> finished, Instant now)
            throws SQLException {
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
                    column(c, "integer", finished, r -> r.item().attempts()));
            return itemKeys(ps);
        }
    }

    @Override
    public void handOn(Connection c, List<Result> done, Collection<String> downstream, Instant now)
            throws SQLException {
        if (done.isEmpty() || downstream.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(HAND_ON)) {
            for (String next : downstream) {
                Jdbc.bind(ps, next, now,
                        column(c, "varchar", done, r -> r.item().key()),
                        column(c, "varchar", done, r -> r.item().version()),
                        column(c, "varchar", done, Result::data));
                ps.executeUpdate();
            }
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
