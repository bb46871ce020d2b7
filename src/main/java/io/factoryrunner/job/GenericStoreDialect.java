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
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * H2 (and a database with standard {@code MERGE}, arrays and data change delta tables): a chunk's results go as one
 * statement, as on PostgreSQL. Taking from the inbox is the one step done row by row: H2 has no {@code SKIP LOCKED},
 * so the waiting rows are read without a lock and each is deleted by its key; a row another transaction took first
 * counts 0 and is passed over.
 */
final class GenericStoreDialect implements StoreDialect {

    /**
     * The oldest waiting rows of a job. The order names the claim index's columns in full: H2 walks an index in order
     * and stops at the limit only when the {@code ORDER BY} is the index's own; ordered by {@code seq} alone it reads
     * every waiting row of the job and sorts them, once per chunk, which made a backlog quadratic.
     */
    static final String NEXT_IN_INBOX = """
            SELECT item_key, item_version, data, attempts, failing_since
              FROM job_inbox
             WHERE job = ? AND complete = TRUE AND (available_at IS NULL OR available_at <= ?)
             ORDER BY job, complete, seq
             LIMIT ?""";

    private static final String FEED_FOR_CLAIM = """
            SELECT upstream, read_seq FROM job_feed WHERE job = ? FOR UPDATE""";

    /**
     * The upstream's done items after a feed position, oldest first: the feed index walked from the position, and
     * stops after the limit (ordered as the index is, see {@link #NEXT_IN_INBOX}).
     */
    static final String FED = """
            SELECT item_key, item_version, data, done_seq
              FROM job_state
             WHERE job = ? AND done_seq > ?
             ORDER BY job, done_seq
             LIMIT ?""";

    private static final String MOVE_FEED = """
            UPDATE job_feed SET read_seq = ? WHERE job = ? AND upstream = ?""";

    /** Moves a feed on from where the chunk found it; a count of 0 means another run moved it meanwhile. */
    private static final String MOVE_FEED_FROM = """
            UPDATE job_feed SET read_seq = ? WHERE job = ? AND upstream = ? AND read_seq = ?""";

    private static final String COUNT_RUN = """
            UPDATE job_run
               SET items_taken = items_taken + ?, items_done = items_done + ?, items_failed = items_failed + ?,
                   retries = retries + ?, items_kept = items_kept + ?, items_deferred = items_deferred + ?
             WHERE run_id = ? AND status = 'running'""";

    private static final String ALLOCATE = """
            SELECT last_seq FROM FINAL TABLE (
                MERGE INTO job_head h
                USING (SELECT CAST(? AS VARCHAR(100)) AS job, CAST(? AS BIGINT) AS n FROM DUAL) AS u
                   ON h.job = u.job
                 WHEN MATCHED THEN UPDATE SET last_seq = h.last_seq + u.n
                 WHEN NOT MATCHED THEN INSERT (job, last_seq) VALUES (u.job, u.n))""";

    private static final String ENSURE_HEAD = """
            INSERT INTO job_head (job, last_seq)
            SELECT CAST(? AS VARCHAR(100)), 0 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM job_head WHERE job = ?)""";

    /** SQLSTATE of a unique constraint violation. */
    private static final String UNIQUE_VIOLATION = "23505";

    private static final String ENSURE_FEED = """
            INSERT INTO job_feed (job, upstream, read_seq)
            SELECT CAST(? AS VARCHAR(100)), CAST(? AS VARCHAR(100)),
                   COALESCE((SELECT last_seq FROM job_head WHERE job = ?), 0)
              FROM DUAL
             WHERE NOT EXISTS (SELECT 1 FROM job_feed WHERE job = ? AND upstream = ?)""";

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

    /** Which of the given items the job has acted on already. */
    private static final String ACTED_ON = """
            SELECT u.item_key, u.item_version
              FROM UNNEST(CAST(? AS VARCHAR ARRAY), CAST(? AS VARCHAR ARRAY)) AS u(item_key, item_version)
              JOIN job_state s ON s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version""";

    /** A chunk's results in one statement; answers the items the run still owned. */
    private static final String FINISH = """
            SELECT item_key, item_version FROM FINAL TABLE (
                MERGE INTO job_state s
                USING (SELECT * FROM UNNEST(CAST(? AS VARCHAR ARRAY), CAST(? AS VARCHAR ARRAY),
                                            CAST(? AS VARCHAR ARRAY), CAST(? AS VARCHAR ARRAY),
                                            CAST(? AS VARCHAR ARRAY), CAST(? AS BIGINT ARRAY)))
                      AS u(item_key, item_version, status, data, error, done_seq)
                   ON s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version AND s.run_id = ?
                      AND s.status = 'claimed'
                 WHEN MATCHED THEN UPDATE
                  SET status = u.status, data = u.data, error_message = u.error, done_seq = u.done_seq,
                      updated_at = ?, row_version = s.row_version + 1)""";

    /** A chunk's finished items at their final status; answers those written (not written by another run). */
    private static final String WRITE_FINISHED = """
            SELECT item_key, item_version FROM FINAL TABLE (
                MERGE INTO job_state s
                USING (SELECT * FROM UNNEST(CAST(? AS VARCHAR ARRAY), CAST(? AS VARCHAR ARRAY),
                                            CAST(? AS VARCHAR ARRAY), CAST(? AS VARCHAR ARRAY),
                                            CAST(? AS VARCHAR ARRAY), CAST(? AS INTEGER ARRAY),
                                            CAST(? AS BIGINT ARRAY)))
                      AS u(item_key, item_version, status, data, error, attempts, done_seq)
                   ON s.job = ? AND s.item_key = u.item_key AND s.item_version = u.item_version
                 WHEN NOT MATCHED THEN INSERT (job, item_key, item_version, status, data, error_message, attempts,
                                              run_id, created_at, updated_at, row_version, done_seq)
                      VALUES (?, u.item_key, u.item_version, u.status, u.data, u.error, u.attempts, ?, ?, ?, 0,
                              u.done_seq))""";

    /** An offer in one statement; the count is 0 when the job has acted on the item already. */
    private static final String OFFER = """
            MERGE INTO job_inbox i
            USING (SELECT CAST(? AS VARCHAR(100)) AS job, CAST(? AS VARCHAR(400)) AS item_key,
                          CAST(? AS VARCHAR(100)) AS item_version, CAST(? AS BOOLEAN) AS complete,
                          CAST(? AS VARCHAR(1000000)) AS data
                     FROM DUAL
                    WHERE NOT EXISTS (SELECT 1 FROM job_state s
                                       WHERE s.job = ? AND s.item_key = ? AND s.item_version = ?)) AS u
               ON i.job = u.job AND i.item_key = u.item_key AND i.item_version = u.item_version
             WHEN MATCHED THEN UPDATE SET complete = u.complete, data = u.data
             WHEN NOT MATCHED THEN INSERT (job, item_key, item_version, complete, data, enqueued_at)
                  VALUES (u.job, u.item_key, u.item_version, u.complete, u.data, ?)""";

    /** H2 applies the limit before it looks at locks and would find the inbox empty while a chunk commits. */
    @Override
    public boolean takesWhileCommitting() {
        return false;
    }

    @Override
    public Claim claim(Connection c, String job, long runId, int limit, Instant availableBy, Instant now)
            throws SQLException {
        List<Item> taken = takeFromInbox(c, job, limit, availableBy);
        if (taken.size() < limit) {
            Feed feed = null;
            try (PreparedStatement ps = c.prepareStatement(FEED_FOR_CLAIM)) {
                Jdbc.bind(ps, job);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        feed = new Feed(rs.getString(1), rs.getLong(2));
                    }
                }
            }
            if (feed != null) {
                long[] readTo = {feed.readTo()};
                taken.addAll(fed(c, feed, limit - taken.size(), readTo));
                if (readTo[0] != feed.readTo()) {
                    try (PreparedStatement ps = c.prepareStatement(MOVE_FEED)) {
                        Jdbc.bind(ps, readTo[0], job, feed.upstream());
                        ps.executeUpdate();
                    }
                }
            }
        }
        if (taken.isEmpty()) {
            return new Claim(0, List.of());
        }
        List<Item> claimed = new ArrayList<>();
        try (PreparedStatement insert = c.prepareStatement(INSERT_CLAIMED)) {
            for (Item item : taken) {
                Jdbc.bind(insert, job, item.key(), item.version(), item.data(), item.attempts() + 1, runId, now, now,
                        job, item.key(), item.version());
                insert.addBatch();
            }
            int[] inserted = insert.executeBatch();
            for (int i = 0; i < taken.size(); i++) {
                if (inserted[i] == 1) {
                    Item item = taken.get(i);
                    claimed.add(new Item(item.key(), item.version(), item.data(), item.attempts() + 1,
                            item.failingSince()));
                }
            }
        }
        return new Claim(taken.size(), claimed);
    }

    @Override
    public Claim take(Connection c, String job, int limit, Instant availableBy, Feed feed) throws SQLException {
        List<Item> taken = takeFromInbox(c, job, limit, availableBy);
        Feed after = feed;
        if (feed != null && taken.size() < limit) {
            long[] readTo = {feed.readTo()};
            taken.addAll(fed(c, feed, limit - taken.size(), readTo));
            after = new Feed(feed.upstream(), readTo[0]);
        }
        if (taken.isEmpty()) {
            return new Claim(0, List.of(), after);
        }
        Set<ItemKey> actedOn;
        try (PreparedStatement ps = c.prepareStatement(ACTED_ON)) {
            // the join starts from the chunk's keys and finds each by the state's primary key; a row-value IN
            // over the state reads every row of the job
            Jdbc.bind(ps, c.createArrayOf("varchar", taken.stream().map(Item::key).toArray()),
                    c.createArrayOf("varchar", taken.stream().map(Item::version).toArray()), job);
            actedOn = itemKeys(ps);
        }
        List<Item> items = new ArrayList<>();
        Set<ItemKey> seen = new HashSet<>();
        for (Item item : taken) {
            // an item both in the inbox and in the feed is taken once
            if (!actedOn.contains(ItemKey.of(item)) && seen.add(ItemKey.of(item))) {
                items.add(new Item(item.key(), item.version(), item.data(), item.attempts() + 1,
                        item.failingSince()));
            }
        }
        return new Claim(taken.size(), items, after);
    }

    /**
     * Up to {@code limit} of the upstream's done items after the feed's position, oldest first, as items not tried
     * yet; {@code readTo[0]} is set to the last one's number.
     */
    private static List<Item> fed(Connection c, Feed feed, int limit, long[] readTo) throws SQLException {
        List<Item> items = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(FED)) {
            Jdbc.bind(ps, feed.upstream(), feed.readTo(), limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    items.add(new Item(rs.getString(1), rs.getString(2), rs.getString(3), 0));
                    readTo[0] = rs.getLong(4);
                }
            }
        }
        return items;
    }

    /**
     * Deletes up to {@code limit} waiting items from the inbox, oldest first; answers those this transaction took.
     * The select does not lock (H2 would read and lock every waiting row of the job): the delete takes each row. Rows
     * another run's claim took meanwhile count 0; the next ones are read then, so that runs sharing the inbox take a
     * chunk each instead of one finding it empty.
     */
    private static List<Item> takeFromInbox(Connection c, String job, int limit, Instant availableBy)
            throws SQLException {
        List<Item> taken = new ArrayList<>();
        while (taken.size() < limit) {
            List<Item> waiting = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(NEXT_IN_INBOX)) {
                Jdbc.bind(ps, job, availableBy, limit - taken.size());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        waiting.add(new Item(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                                Jdbc.instant(rs, 5)));
                    }
                }
            }
            if (waiting.isEmpty()) {
                break;
            }
            int lost = 0;
            try (PreparedStatement take = c.prepareStatement(TAKE_FROM_INBOX)) {
                for (Item item : waiting) {
                    Jdbc.bind(take, job, item.key(), item.version());
                    take.addBatch();
                }
                int[] deleted = take.executeBatch();
                for (int i = 0; i < waiting.size(); i++) {
                    if (deleted[i] == 1) {
                        taken.add(waiting.get(i));
                    } else {
                        lost++;
                    }
                }
            }
            if (lost == 0) {
                break;
            }
        }
        return taken;
    }

    /** In steps: the feed numbers, the results in one statement, the feed moved, the run's counts. */
    @Override
    public int write(Connection c, ChunkWrite w) throws SQLException {
        int done = w.doneCount();
        long base = done == 0 ? 0 : allocate(c, w.job(), done) - done;
        List<Long> doneSeqs = w.doneOrdinals().stream().map(n -> n == null ? null : base + n).toList();
        Set<ItemKey> written = w.claimed() ? finish(c, w.job(), w.runId(), w.finished(), doneSeqs, w.now())
                : writeFinished(c, w.job(), w.runId(), w.finished(), doneSeqs, w.now());
        if (w.movesFeed()) {
            try (PreparedStatement ps = c.prepareStatement(MOVE_FEED_FROM)) {
                Jdbc.bind(ps, w.feedTo().readTo(), w.job(), w.feedFrom().upstream(), w.feedFrom().readTo());
                if (ps.executeUpdate() != 1) {
                    throw new SQLException(StoreDialect.feedMoved(w));
                }
            }
        }
        int doneWritten = (int) w.finished().stream()
                .filter(r -> r.done() && written.contains(ItemKey.of(r.item()))).count();
        try (PreparedStatement ps = c.prepareStatement(COUNT_RUN)) {
            Jdbc.bind(ps, written.size() + w.deferred() + w.kept(), doneWritten, written.size() - doneWritten,
                    w.retries(), w.kept(), w.deferred(), w.runId());
            if (ps.executeUpdate() != 1) {
                throw StoreDialect.runTakenOver(w);
            }
        }
        return written.size();
    }

    private static Set<ItemKey> finish(Connection c, String job, long runId, List<Result> finished,
            List<Long> doneSeqs, Instant now) throws SQLException {
        if (finished.isEmpty()) {
            return Set.of();
        }
        try (PreparedStatement ps = c.prepareStatement(FINISH)) {
            Jdbc.bind(ps,
                    column(c, "varchar", finished, r -> r.item().key()),
                    column(c, "varchar", finished, r -> r.item().version()),
                    column(c, "varchar", finished, StoreDialect::status),
                    column(c, "varchar", finished, Result::data),
                    column(c, "varchar", finished, StoreDialect::error),
                    c.createArrayOf("bigint", doneSeqs.toArray()),
                    job, runId, now);
            return itemKeys(ps);
        }
    }

    private static Set<ItemKey> writeFinished(Connection c, String job, long runId, List<Result> finished,
            List<Long> doneSeqs, Instant now) throws SQLException {
        if (finished.isEmpty()) {
            return Set.of();
        }
        try (PreparedStatement ps = c.prepareStatement(WRITE_FINISHED)) {
            Jdbc.bind(ps,
                    column(c, "varchar", finished, r -> r.item().key()),
                    column(c, "varchar", finished, r -> r.item().version()),
                    column(c, "varchar", finished, StoreDialect::status),
                    column(c, "varchar", finished, Result::data),
                    column(c, "varchar", finished, StoreDialect::error),
                    column(c, "integer", finished, r -> r.item().attempts()),
                    c.createArrayOf("bigint", doneSeqs.toArray()),
                    job, job, runId, now, now);
            return itemKeys(ps);
        }
    }

    /** Adds {@code count} to the job's last feed number and answers the new last one. */
    private static long allocate(Connection c, String job, int count) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ALLOCATE)) {
            Jdbc.bind(ps, job, count);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Override
    public void ensureHead(Connection c, String job) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ENSURE_HEAD)) {
            Jdbc.bind(ps, job, job);
            ps.executeUpdate();
        } catch (SQLException e) {
            // another run of the job inserted it at the same instant: it is there
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw e;
            }
        }
    }

    @Override
    public void ensureFeed(Connection c, String job, String upstream) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ENSURE_FEED)) {
            Jdbc.bind(ps, job, upstream, upstream, job, upstream);
            ps.executeUpdate();
        }
    }

    @Override
    public boolean offer(Connection c, String job, String key, String version, String data, boolean complete,
            Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(OFFER)) {
            Jdbc.bind(ps, job, key, version, complete, data, job, key, version, now);
            return ps.executeUpdate() == 1;
        }
    }
}
