package io.factoryrunner.job;

import io.factoryrunner.db.Dialect;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Result;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * The steps of the job store that each database takes its own way: taking items from the inbox and the feed,
 * writing a chunk's results, numbering them for the feeds and offering an item. {@link JobStore} keeps the flow and the portable statements and
 * picks one of these once, from the {@link Dialect}. Every step runs on the connection of the transaction it is
 * given and never commits.
 */
interface StoreDialect {

    static StoreDialect of(Dialect dialect) {
        return switch (dialect) {
            case POSTGRESQL -> new PostgresStoreDialect();
            case H2 -> new GenericStoreDialect();
        };
    }

    /** An item of a job, by key and version. */
    record ItemKey(String key, String version) {
        static ItemKey of(JobStore.Item item) {
            return new ItemKey(item.key(), item.version());
        }
    }

    /** Whether a chunk can be taken while the previous one commits. */
    boolean takesWhileCommitting();

    /**
     * Takes up to {@code limit} items available at {@code availableBy}, from the job's inbox first and then from its
     * feed (locked, and moved past what it took), and writes them to the state store as claimed by the run, unless
     * the job has acted on them already.
     */
    Claim claim(Connection c, String job, long runId, int limit, Instant availableBy, Instant now)
            throws SQLException;

    /**
     * Takes up to {@code limit} items available at {@code availableBy}, from the job's inbox first and then from its
     * upstream's done items after {@code feed} (null: none), answering those the job has not acted on yet with this
     * attempt counted, and where the feed would stand after them. Nothing is written to the state store or the feed.
     */
    Claim take(Connection c, String job, int limit, Instant availableBy, JobStore.Feed feed) throws SQLException;

    /**
     * A chunk's results to write. {@code claimed}: the items are the run's claimed state rows (the claim path),
     * otherwise they are inserted at their final status (one transaction per chunk), and the job's feed moves from
     * {@code feedFrom} to {@code feedTo} (both null, or equal, when it does not move). {@code putBack} items went
     * back to the inbox (counted as taken), {@code deferred} of them deferred by the route and {@code kept} because
     * their failure could not be recorded.
     */
    record ChunkWrite(String job, long runId, List<Result> finished, boolean claimed, JobStore.Feed feedFrom,
            JobStore.Feed feedTo, int retries, int deferred, int kept, Instant now) {

        boolean movesFeed() {
            return feedFrom != null && feedTo != null && feedTo.readTo() != feedFrom.readTo();
        }

        /** The 1-based position of each done result among the done ones, null for the others. */
        List<Integer> doneOrdinals() {
            List<Integer> ordinals = new ArrayList<>(finished.size());
            int n = 0;
            for (Result r : finished) {
                ordinals.add(r.done() ? ++n : null);
            }
            return ordinals;
        }

        int doneCount() {
            return (int) finished.stream().filter(Result::done).count();
        }
    }

    /**
     * Writes a chunk's finished items at their final status, each done one numbered for the downstream jobs' feeds
     * from the job's head row (which the transaction then holds until it ends, so numbers are committed in order),
     * moves the job's feed, and adds the run's counts: as taken, the items written and those put back; as done and
     * failed, those written. An item another run wrote meanwhile (or, on the claim path, no longer owned by this
     * run) is left as it is. Answers how many items it wrote; throws when another run moved the feed meanwhile, or
     * when the run is no longer running (declared abandoned by another node), and nothing of the chunk is then kept.
     */
    int write(Connection c, ChunkWrite write) throws SQLException;

    /**
     * The failure to count a chunk in a run that is no longer running: another node declared it abandoned (its node
     * had fallen silent) and took its items over.
     */
    static RunTakenOver runTakenOver(ChunkWrite w) {
        return new RunTakenOver(w.job(), w.runId());
    }

    /** The message of the failure to move a feed another run moved meanwhile. */
    static String feedMoved(ChunkWrite w) {
        return "The feed of job " + w.job() + " from " + w.feedFrom().upstream()
                + " was moved by another run while this chunk ran; the chunk is rolled back";
    }

    /** Gives the job its row of {@code job_head} (no done item numbered yet) unless it has one; never fails for it. */
    void ensureHead(Connection c, String job) throws SQLException;

    /** Gives {@code job} a feed from {@code upstream} starting after its latest done item, unless it has one. */
    void ensureFeed(Connection c, String job, String upstream) throws SQLException;

    /**
     * Inserts or refreshes the item's inbox row, unless the job has acted on the item already; answers whether it
     * did.
     */
    boolean offer(Connection c, String job, String key, String version, String data, boolean complete, Instant now)
            throws SQLException;

    /** The status a finished result is written at. */
    static String status(Result r) {
        return (r.done() ? ItemStatus.DONE : ItemStatus.FAILED).db();
    }

    /** The error a result is written with, cut to the column. */
    static String error(Result r) {
        return JobStore.cut(r.error(), 2000);
    }

    /** One column of the results as an SQL array of {@code type}, for statements that take a chunk at once. */
    static Array column(Connection c, String type, List<Result> results, Function<Result, Object> value)
            throws SQLException {
        return c.createArrayOf(type, results.stream().map(value).toArray());
    }

    /** Runs a query whose first two columns are an item's key and version. */
    static Set<ItemKey> itemKeys(PreparedStatement ps) throws SQLException {
        Set<ItemKey> keys = new HashSet<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                keys.add(new ItemKey(rs.getString(1), rs.getString(2)));
            }
        }
        return keys;
    }
}
