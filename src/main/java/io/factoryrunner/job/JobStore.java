package io.factoryrunner.job;

import io.factoryrunner.db.Dialect;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.db.LostConnections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import javax.sql.DataSource;

/**
 * The job tables: runs ({@code job_run}), the state store ({@code job_state}), the items offered to each job
 * ({@code job_inbox}) and how far each job has read its upstream's done items ({@code job_feed}). A hand-on writes
 * nothing of its own: the upstream's done state rows, numbered in the order they were committed ({@code done_seq}),
 * are the downstream job's input, read after its feed's position. Every write of a state row names the run that owns
 * it and checks the row count, so a run that lost its items (its node was declared dead) cannot overwrite what
 * another run did.
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
     * What a claim took: how many items it took (inbox rows and upstream done items), and the items it claimed for
     * the run. It claims fewer items than it took when the job has acted on an item already (handed on again after a
     * redrive upstream). {@code feed} is where the job's feed stands after the take (null when it has none).
     */
    public record Claim(int taken, List<Item> items, Feed feed) {
        public Claim(int taken, List<Item> items) {
            this(taken, items, null);
        }
    }

    /** How far a job has read its upstream's done items: those numbered above {@code readTo} wait for it. */
    public record Feed(String upstream, long readTo) {
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

    /** The job's running runs, every node's, oldest first, with when each one's node was last seen and the time now. */
    private static final String RUNNING_RUNS = """
            SELECT r.run_id, r.node, r.started_at, n.last_seen_at, CURRENT_TIMESTAMP
              FROM job_run r LEFT JOIN factory_node n ON n.node = r.node
             WHERE r.job = ? AND r.status = 'running'
             ORDER BY r.run_id""";

    /**
     * Holds the job's row of {@code job_head} until the transaction ends: runs of the job start one after the other,
     * each counting those that have started.
     */
    private static final String LOCK_HEAD = """
            SELECT last_seq FROM job_head WHERE job = ? FOR UPDATE""";

    /** The nodes of the job's running runs, one row per run. */
    private static final String RUNNING_NODES = """
            SELECT node FROM job_run WHERE job = ? AND status = 'running'""";

    /** Whether items wait for the job: in its inbox, or done by its upstream after its feed's position. */
    private static final String WAITING = """
            SELECT CASE WHEN EXISTS (
                       SELECT 1 FROM job_inbox
                        WHERE job = ? AND complete = TRUE AND (available_at IS NULL OR available_at <= ?))
                     OR EXISTS (
                       SELECT 1 FROM job_feed f JOIN job_state s ON s.job = f.upstream AND s.done_seq > f.read_seq
                        WHERE f.job = ?)
                   THEN 1 ELSE 0 END""";

    /** Whether a run of the job is going, on any node. */
    private static final String GOING = """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM job_run WHERE status = 'running' AND job = ?) THEN 1 ELSE 0 END""";

    /** A run's status now. */
    private static final String RUN_STATUS = """
            SELECT status FROM job_run WHERE run_id = ?""";

    private static final String FINISH_RUN = """
            UPDATE job_run
               SET status = ?, ended_at = ?, error_summary = ?
             WHERE run_id = ? AND status = 'running'""";

    private static final String ABANDON_NODE_RUNS = """
            UPDATE job_run
               SET status = 'abandoned', ended_at = ?, error_summary = ?
             WHERE status = 'running' AND node = ?""";

    /** A run of a lost node, unless it ended meanwhile. */
    private static final String ABANDON_LOST_RUN = """
            UPDATE job_run
               SET status = 'abandoned', ended_at = ?, error_summary = ?
             WHERE run_id = ? AND status = 'running'""";

    private static final String ABANDON_ALL_RUNS = """
            UPDATE job_run
               SET status = 'abandoned', ended_at = ?, error_summary = ?
             WHERE status = 'running'""";

    /**
     * The claimed items of the job's runs that are no longer running (ended, abandoned, declared lost), given to a
     * run; the items of the job's other running runs stay theirs. The run taking them is running itself.
     */
    private static final String RECLAIM = """
            UPDATE job_state
               SET run_id = ?, attempts = attempts + 1, updated_at = ?, row_version = row_version + 1
             WHERE job = ? AND status = 'claimed'
               AND (run_id IS NULL
                    OR run_id NOT IN (SELECT r.run_id FROM job_run r WHERE r.job = ? AND r.status = 'running'))""";

    private static final String CLAIMED_BY_RUN = """
            SELECT item_key, item_version, data, attempts
              FROM job_state
             WHERE job = ? AND status = 'claimed' AND run_id = ?
             ORDER BY created_at, item_key, item_version
             LIMIT ?""";

    private static final String FEED_OF = """
            SELECT upstream, read_seq FROM job_feed WHERE job = ? ORDER BY upstream""";

    private static final String OTHER_FEEDS = """
            DELETE FROM job_feed WHERE job = ? AND (CAST(? AS VARCHAR(100)) IS NULL OR upstream <> ?)""";

    private static final Jdbc.RowMapper<Feed> FEED = rs -> new Feed(rs.getString(1), rs.getLong(2));

    private static final String ENQUEUE = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
            VALUES (?, ?, ?, TRUE, ?, ?)""";

    private static final String DEFER = """
            INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at, available_at, attempts,
                                   failing_since)
            VALUES (?, ?, ?, TRUE, ?, ?, ?, ?, ?)""";

    private static final String DELETE_CLAIMED = """
            DELETE FROM job_state
             WHERE job = ? AND item_key = ? AND item_version = ? AND run_id = ? AND status = 'claimed'""";

    private static final String FAILED_ITEM = """
            SELECT data FROM job_state WHERE job = ? AND item_key = ? AND item_version = ? AND status = 'failed'""";

    private static final String DELETE_ITEM = """
            DELETE FROM job_state WHERE job = ? AND item_key = ? AND item_version = ? AND status = 'failed'""";

    /** A counted skipped run was last fired at its end: the fires it counts were not missed. */
    private static final String LAST_RUN = """
            SELECT MAX(CASE WHEN status = 'skipped' AND ended_at IS NOT NULL THEN ended_at ELSE started_at END)
              FROM job_run WHERE job = ?""";

    private static final Jdbc.RowMapper<Integer> COUNT = rs -> rs.getInt(1);

    private static final Jdbc.RowMapper<Instant> FIRST_INSTANT = rs -> Jdbc.instant(rs, 1);

    private static final Jdbc.RowMapper<String> DATA = rs -> rs.getString(1);

    private static final Jdbc.RowMapper<Item> CLAIMED_ITEM = rs -> new Item(rs.getString(1), rs.getString(2),
            rs.getString(3), rs.getInt(4));

    private static final Jdbc.RowMapper<RunningRun> RUNNING = rs -> {
        Instant started = Jdbc.instant(rs, 3);
        Instant seen = Jdbc.instant(rs, 4);
        Instant dbNow = Jdbc.instant(rs, 5);
        return new RunningRun(rs.getLong(1), rs.getString(2), started, seen,
                Duration.between(seen != null ? seen : started, dbNow));
    };

    private final DataSource dataSource;
    private final Jdbc jdbc;
    private final Clock clock;
    private final StoreDialect dialect;

    /** A store on H2. */
    public JobStore(DataSource dataSource, Clock clock) {
        this(dataSource, clock, Dialect.H2);
    }

    /** @param postgres whether the database is PostgreSQL (H2 otherwise) */
    public JobStore(DataSource dataSource, Clock clock, boolean postgres) {
        this(dataSource, clock, postgres ? Dialect.POSTGRESQL : Dialect.H2);
    }

    public JobStore(DataSource dataSource, Clock clock, Dialect dialect) {
        this.dataSource = dataSource;
        this.jdbc = Jdbc.of(dataSource);
        this.clock = clock;
        this.dialect = StoreDialect.of(dialect);
    }

    private Instant now() {
        return clock.instant();
    }

    /** Starts a run unless one of the job is going; returns the run id, or -1 after recording a skipped run. */
    public long startRun(String job, Trigger trigger, String node, String config) throws SQLException {
        return startRun(job, trigger, node, config, 1);
    }

    /**
     * Starts a run unless {@code maxRuns} runs of the job are going, on any node; returns the run id, or -1 after
     * recording a skipped run whose reason names maxRuns. The runs are counted under the job's row of
     * {@code job_head}, which the starting transaction holds, so runs that start at the same instant on several
     * nodes count each other.
     */
    public long startRun(String job, Trigger trigger, String node, String config, int maxRuns) throws SQLException {
        long runId = openRun(job, trigger, node, config, going -> going.size() < maxRuns);
        if (runId < 0) {
            insertSkipped(job, trigger, node, runsGoing(job, maxRuns));
        }
        return runId;
    }

    /**
     * Starts a run that joins the job's runs going on other nodes, sharing their waiting items: only while at least
     * one is going, fewer than {@code maxRuns} are, and none of them is this node's. Returns the run id, or -1
     * (recording nothing) when the job has no run to join or no room for another.
     */
    public long joinRun(String job, String node, String config, int maxRuns) throws SQLException {
        return openRun(job, Trigger.JOIN, node, config,
                going -> !going.isEmpty() && going.size() < maxRuns && !going.contains(node));
    }

    /**
     * The reason of a fire skipped because {@code maxRuns} runs of the job were going: {@code a run of build was
     * still going (maxRuns = 1)}, {@code 2 runs of build were still going (maxRuns = 2)}.
     */
    public static String runsGoing(String job, int maxRuns) {
        return (maxRuns == 1 ? "a run of " + job + " was" : maxRuns + " runs of " + job + " were")
                + " still going (maxRuns = " + maxRuns + ")";
    }

    /**
     * Inserts a running run when {@code room} allows it, given the nodes of the job's running runs (one per run),
     * counted under the lock of the job's head row; -1 when it does not.
     */
    /**
     * Starts a run that follows a run of the job's upstream, unless {@code maxRuns} runs of the job are going already
     * (one of them follows it then): -1, and nothing recorded.
     */
    public long followRun(String job, String node, String config, int maxRuns) throws SQLException {
        return openRun(job, Trigger.FOLLOW, node, config, going -> going.size() < maxRuns);
    }

    private long openRun(String job, Trigger trigger, String node, String config, Predicate<List<String>> room)
            throws SQLException {
        // only the head row's insert is tried again on a lost connection: a run whose commit's answer was lost may
        // have been committed, and trying it again would count it and leave it running for ever
        LostConnections.retryOnce(dataSource, () -> jdbc.withConnection(c -> {
            dialect.ensureHead(c, job);
            return null;
        }));
        return jdbc.inTransaction(tx -> {
            tx.query(LOCK_HEAD, rs -> rs.getLong(1), job);
            if (!room.test(tx.query(RUNNING_NODES, DATA, job))) {
                return -1L;
            }
            return tx.insertReturningKey(INSERT_RUN, job, trigger.db(), node, now(), config);
        });
    }

    /** Whether items available at {@code availableBy} wait for the job, in its inbox or from its upstream. */
    public boolean hasWaiting(String job, Instant availableBy) throws SQLException {
        return jdbc.queryFirst(WAITING, COUNT, job, availableBy, job).orElse(0) == 1;
    }

    /** Records a fire that was skipped before it reached the database guard (a run is going in this process). */
    public void recordSkipped(String job, Trigger trigger, String node, String reason) throws SQLException {
        insertSkipped(job, trigger, node, reason);
    }

    private void insertSkipped(String job, Trigger trigger, String node, String reason) throws SQLException {
        Instant now = now();
        if (jdbc.update(COUNT_SKIPPED, now, job, cut(reason, 2000)) == 1) {
            return;
        }
        jdbc.update(INSERT_SKIPPED, job, trigger.db(), node, now, now, cut(reason, 2000));
    }

    /** Ends a running run; false when it was no longer running (another node declared it abandoned). */
    public boolean finishRun(long runId, RunStatus status, String summary) throws SQLException {
        return LostConnections.retryOnce(dataSource,
                () -> jdbc.update(FINISH_RUN, status.db(), now(), cut(summary, 2000), runId) == 1);
    }

    /** A run of a job that is going, and whether its node still shows signs of life. */
    public record RunningRun(long runId, String node, Instant startedAt, Instant nodeLastSeen, Duration silentFor) {
    }

    /**
     * The job's running runs on every node, oldest first, each with how long its node has been silent by the
     * database's clock (since its last heartbeat, or since the run started when the node never wrote one).
     */
    public List<RunningRun> runningRuns(String job) throws SQLException {
        return jdbc.query(RUNNING_RUNS, RUNNING, job);
    }

    /** Whether a run of the job is going, on any node. */
    public boolean isGoing(String job) throws SQLException {
        return jdbc.queryFirst(GOING, COUNT, job).orElse(0) == 1;
    }

    /** Whether the run is still marked running: false once another node declared it abandoned. */
    public boolean isRunning(long runId) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> jdbc.queryFirst(RUN_STATUS, DATA, runId)
                .map(RunStatus.RUNNING.db()::equals).orElse(false));
    }

    /** When the job last started a run (or skipped one), if ever. */
    public Optional<Instant> lastRunAt(String job) throws SQLException {
        return jdbc.queryFirst(LAST_RUN, FIRST_INSTANT, job);
    }

    /**
     * At start, on a database no other process can have open: every run left running was this process's last
     * life, whatever node name it had then (a container gets a new host name each time). Returns how many.
     */
    public int abandonAllRuns() throws SQLException {
        return jdbc.update(ABANDON_ALL_RUNS, now(),
                "the factory stopped while the run was going; its claimed items went to the next run");
    }

    /** At start: the runs this node left running when it stopped or died are abandoned. Returns how many. */
    public int abandonRunsOf(String node) throws SQLException {
        return jdbc.update(ABANDON_NODE_RUNS, now(),
                "the node stopped while the run was going; its claimed items went to the next run", node);
    }

    /**
     * Declares the run of a node that has fallen silent abandoned, so that the job runs again (its next run takes back
     * the items the lost run claimed); false when the run ended meanwhile.
     */
    public boolean abandonLostRun(RunningRun run, String byNode) throws SQLException {
        return jdbc.update(ABANDON_LOST_RUN, now(), cut("node " + run.node() + " was lost (not seen for "
                + run.silentFor().toSeconds() + " s); node " + byNode + " took its run over", 2000),
                run.runId()) == 1;
    }

    /**
     * Gives the run the items that runs of the job no longer running claimed and never finished; those of its other
     * running runs stay theirs. Returns how many.
     */
    public int reclaim(String job, long runId) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> jdbc.update(RECLAIM, runId, now(), job, job));
    }

    /**
     * Records who feeds a job: its feed from {@code upstream} starts at the upstream's latest done item (what it
     * finishes from now on waits for the job), and a feed from another job, an earlier upstream, is dropped. A job
     * with no upstream has no feed.
     */
    public void declareFeed(String job, String upstream) throws SQLException {
        jdbc.inTransaction(tx -> tx.withConnection(c -> {
            try (PreparedStatement ps = c.prepareStatement(OTHER_FEEDS)) {
                Jdbc.bind(ps, job, upstream, upstream);
                ps.executeUpdate();
            }
            if (upstream != null) {
                dialect.ensureFeed(c, job, upstream);
            }
            return null;
        }));
    }

    /**
     * Makes sure each downstream job has a feed from {@code job} before the job writes done items, so none of them
     * is written before a downstream job started reading (a downstream route declared after the job last ran).
     */
    public void ensureFeeds(String job, Collection<String> downstream) throws SQLException {
        if (downstream.isEmpty()) {
            return;
        }
        LostConnections.retryOnce(dataSource, () -> jdbc.withConnection(c -> {
            for (String next : downstream) {
                dialect.ensureFeed(c, next, job);
            }
            return null;
        }));
    }

    /**
     * Claims up to {@code limit} waiting items for the run, in one transaction: inbox rows first, each deleted from
     * the inbox (a row another claim already deleted is skipped), then the upstream's done items after the job's
     * feed, which moves past them; each is written to the state store as claimed, unless the job has acted on that
     * key and version already (once per job; a new version is a new item).
     */
    public Claim claim(String job, long runId, int limit) throws SQLException {
        return claim(job, runId, limit, clock.instant());
    }

    /** As {@link #claim(String, long, int)}, taking only items available at {@code availableBy}. */
    public Claim claim(String job, long runId, int limit, Instant availableBy) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> jdbc.inTransaction(tx -> tx.withConnection(
                c -> dialect.claim(c, job, runId, limit, availableBy, now()))));
    }

    /**
     * A chunk taken from the inbox in a transaction that stays open while its items go through the route, and that
     * {@link #commitChunk} ends by writing their results: one transaction per chunk. A run that stops or dies before
     * the commit rolls it back, and the items are simply waiting again. Closing it without a commit rolls it back.
     *
     * <p>It holds its connection itself, not through {@link Jdbc#inTransaction}: the transaction outlives the call
     * that opened it, and the commit may come from another thread while the next chunk is taken.
     */
    public static final class OpenChunk implements AutoCloseable {
        private final Connection connection;
        private final int taken;
        private final List<Item> items;
        /** Where the job's feed stood when the chunk was taken, and where the chunk's commit moves it. */
        private final Feed feedFrom;
        private final Feed feedTo;
        private boolean ended;

        OpenChunk(Connection connection, Claim taken, Feed feedFrom) {
            this.connection = connection;
            this.taken = taken.taken();
            this.items = taken.items();
            this.feedFrom = feedFrom;
            this.feedTo = taken.feed();
        }

        /**
         * Where the job's feed stands once this chunk is committed: the next chunk is taken from there, before this
         * one's commit lands.
         */
        public Feed feed() {
            return feedTo;
        }

        /** Items taken, including those the job had acted on already (they are dropped). */
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
        return dialect.takesWhileCommitting();
    }

    /**
     * Whether the pool has a connection to spare for a chunk taken ahead while another stays free for what the items
     * under way write on their own (their failures, the error table): a chunk taken ahead holds its connection until
     * its items run.
     */
    public boolean canTakeAhead() {
        return LostConnections.spare(dataSource, 2);
    }

    /**
     * Opens a chunk's transaction and takes up to {@code limit} items available at {@code availableBy}: inbox rows
     * first, then the upstream's done items after {@code feed} (read from the database when null: the run's first
     * chunk), which the chunk's commit moves on.
     */
    public OpenChunk openChunk(String job, int limit, Instant availableBy, Feed feed) throws SQLException {
        return LostConnections.retryOnce(dataSource, () -> openChunkOnce(job, limit, availableBy, feed));
    }

    /** As {@link #openChunk(String, int, Instant, Feed)}, from where the job's feed stands in the database. */
    public OpenChunk openChunk(String job, int limit, Instant availableBy) throws SQLException {
        return openChunk(job, limit, availableBy, null);
    }

    private OpenChunk openChunkOnce(String job, int limit, Instant availableBy, Feed known) throws SQLException {
        Connection c = dataSource.getConnection();
        try {
            c.setAutoCommit(false);
            Feed feed = known;
            if (feed == null) {
                try (PreparedStatement ps = c.prepareStatement(FEED_OF)) {
                    Jdbc.bind(ps, job);
                    try (ResultSet rs = ps.executeQuery()) {
                        feed = rs.next() ? FEED.map(rs) : null;
                    }
                }
            }
            Claim taken = dialect.take(c, job, limit, availableBy, feed);
            return new OpenChunk(c, taken, feed);
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
     * once; a done one numbered for the downstream jobs' feeds, which is its hand-on), the job's feed moved past the
     * chunk, the deferred items and those {@code kept} (their failure could not be recorded) put back in the inbox,
     * the run's counts added, and all of it committed. Returns how many results were written.
     */
    public int commitChunk(OpenChunk chunk, String job, long runId, List<Result> results, List<Item> kept)
            throws SQLException {
        int written = writeChunk(chunk, job, runId, results, kept);
        commitChunk(chunk);
        return written;
    }

    /**
     * As {@link #commitChunk(OpenChunk, String, long, List, List)}, without the commit, which {@link
     * #commitChunk(OpenChunk)} makes. On PostgreSQL the write waits for the job's chunk written before it to end (its
     * transaction holds the job's head row until then), and then runs as of that chunk's commit: a chunk can be
     * written while the one before commits.
     */
    public int writeChunk(OpenChunk chunk, String job, long runId, List<Result> results, List<Item> kept)
            throws SQLException {
        Connection c = chunk.connection;
        Instant now = now();
        List<Result> finished = results.stream().filter(r -> r.outcome() != Outcome.DEFERRED).toList();
        List<Result> putBack = new ArrayList<>(results.stream().filter(r -> r.outcome() == Outcome.DEFERRED)
                .toList());
        int deferred = putBack.size();
        kept.forEach(item -> putBack.add(new Result(item, Outcome.DEFERRED, item.data(), null, 0)));
        if (!putBack.isEmpty()) {
            try (PreparedStatement defer = c.prepareStatement(DEFER)) {
                for (Result r : putBack) {
                    Jdbc.bind(defer, deferral(job, r, now));
                    defer.addBatch();
                }
                defer.executeBatch();
            }
        }
        // an item another run wrote meanwhile is left as it is, and not counted: as a claim counts, the items this
        // run acted on
        int written = dialect.write(c, new StoreDialect.ChunkWrite(job, runId, finished, false,
                chunk.feedFrom, chunk.feedTo, retries(results), deferred, kept.size(), now));
        return written + deferred;
    }

    /** Commits a chunk written by {@link #writeChunk}. */
    public void commitChunk(OpenChunk chunk) throws SQLException {
        chunk.connection.commit();
        chunk.ended = true;
    }

    private static int retries(List<Result> results) {
        return results.stream().mapToInt(Result::retries).sum();
    }

    /** The parameters of {@link #DEFER} for an item put back: due at once unless it says when. */
    private static Object[] deferral(String job, Result r, Instant now) {
        return new Object[] {job, r.item().key(), r.item().version(), r.item().data(), now,
            r.availableAt() != null ? r.availableAt() : now, r.item().attempts(), r.item().failingSince()};
    }

    /** The run's claimed, unfinished items, oldest first. */
    public List<Item> claimedBy(String job, long runId, int limit) throws SQLException {
        return jdbc.query(CLAIMED_BY_RUN, CLAIMED_ITEM, job, runId, limit);
    }

    /**
     * Writes a chunk's results in one transaction: each item's state (a done one numbered for the downstream jobs'
     * feeds, which is its hand-on) and the run's counts (with the chunk's redeliveries and the items kept claimed
     * because their failure could not be recorded). Returns how many results were written; an item the run no
     * longer owns is left as it is.
     */
    public int complete(String job, long runId, List<Result> results, int kept) throws SQLException {
        return jdbc.inTransaction(tx -> tx.withConnection(c -> {
            Instant now = now();
            int deferred = 0;
            for (Result r : results) {
                // an item the run no longer owns (it was declared abandoned) is left as it is
                if (r.outcome() != Outcome.DEFERRED
                        || tx.update(DELETE_CLAIMED, job, r.item().key(), r.item().version(), runId) != 1) {
                    continue;
                }
                tx.update(DEFER, deferral(job, r, now));
                deferred++;
            }
            List<Result> finished = results.stream().filter(r -> r.outcome() != Outcome.DEFERRED).toList();
            int owned = dialect.write(c, new StoreDialect.ChunkWrite(job, runId, finished, true, null, null,
                    retries(results), deferred, kept, now));
            return owned + deferred;
        }));
    }

    /**
     * Offers an item to a job that has no upstream job (or to any job, by hand). An incomplete item waits until
     * it is offered again as complete. A new version of a key is a new item.
     */
    public boolean offer(String job, String key, String version, String data, boolean complete)
            throws SQLException {
        return jdbc.withConnection(c -> dialect.offer(c, job, key, version, data, complete, now()));
    }

    /** Puts an item that failed in a job back in that job's inbox, with the data it was given. */
    public boolean redrive(String job, String key, String version) throws SQLException {
        return jdbc.inTransaction(tx -> {
            List<String> failed = tx.query(FAILED_ITEM, DATA, job, key, version);
            if (failed.isEmpty()) {
                return false;
            }
            tx.update(DELETE_ITEM, job, key, version);
            tx.update(ENQUEUE, job, key, version, failed.get(0), now());
            return true;
        });
    }

    static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
