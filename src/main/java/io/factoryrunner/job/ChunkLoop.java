package io.factoryrunner.job;

import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run's loop over its items: first the items an earlier run left claimed, then chunks claimed from the inbox, each
 * item sent through the route and each chunk's results committed together, while the next chunk is claimed on
 * another connection (or, with {@code transaction=chunk}, taken, run and committed in one transaction per chunk).
 * With items in parallel and the claim committed first, the next chunk is claimed while the current chunk's last
 * items are still under way, so the pool stays full (see {@link #runWindow}).
 */
final class ChunkLoop {

    private static final Logger LOG = LoggerFactory.getLogger(ChunkLoop.class);

    /** Why a run ended that a stop cut short between chunks: every chunk it took was written. */
    static final String NOT_TAKEN = "stopped during the run; the items not taken yet wait for the next run";

    /** How many chunks may be claimed and not yet written at once when a chunk's items run in parallel. */
    static final int WINDOW = 2;

    /** Sends one item through the route: its result, {@link ItemOutcomes#INTERRUPTED}, or null (failure unrecorded). */
    @FunctionalInterface
    interface ItemRunner {
        JobStore.Result run(long runId, JobStore.Item item);
    }

    /**
     * What a run's items came to. {@code stopped} says why the run stopped midway (the route is stopping), null when
     * it went to its end; {@code kept} counts the items whose failure could not be recorded, left claimed.
     */
    record Tally(int done, int failed, int deferred, int kept, String stopped) {

        static final Tally NONE = new Tally(0, 0, 0, 0, null);

        static Tally of(List<JobStore.Result> results, int kept) {
            int done = 0;
            int failed = 0;
            int deferred = 0;
            for (JobStore.Result r : results) {
                switch (r.outcome()) {
                    case DONE -> done++;
                    case FAILED -> failed++;
                    case DEFERRED -> deferred++;
                }
            }
            return new Tally(done, failed, deferred, kept, null);
        }

        static Tally stopped(String why) {
            return new Tally(0, 0, 0, 0, why);
        }

        Tally plus(Tally other) {
            return new Tally(done + other.done, failed + other.failed, deferred + other.deferred,
                    kept + other.kept, null);
        }
    }

    private final JobStore store;
    private final String job;
    private final int chunk;
    private final int concurrency;
    private final boolean chunkTransaction;
    private final Clock clock;
    private final Supplier<List<String>> downstream;
    /** The claim thread; null once the route is stopping. */
    private final Supplier<ExecutorService> claims;
    private final BooleanSupplier runAllowed;
    /**
     * Whether the run may take another chunk: not once a stop has begun. A graceful stop first suspends the route's
     * consumer and waits for the exchanges under way: the chunks already taken go on (their items still run, and a
     * chunk whose items all end in time is written), but none is taken after them.
     */
    private final BooleanSupplier takeAllowed;
    private final ItemRunner items;
    /** The pool a chunk's items run on at once; null when they run one after the other on the run's thread. */
    private final Supplier<ExecutorService> itemPool;
    /** The items of this loop's run written so far. */
    private Tally counted = Tally.NONE;
    /**
     * How long the run may go without being seen running before an item asks the database whether it still is (in a
     * cluster, half the node timeout); null outside a cluster, where no other node takes a run over.
     */
    private final Duration holdCheck;
    /** When the run was last seen running ({@link System#nanoTime}): its start, a chunk written, a look. */
    private volatile long seenRunning;
    /** Set once the database said another node took the run over. */
    private volatile boolean takenOver;
    /** The job this job's runs follow ({@code follow: true}); null when they do not. */
    private final String upstream;
    private final Supplier<JobRegistry> registry;
    private final BooleanSupplier paused;
    /** Set once a run that follows its upstream found none of its runs going, and took one last time. */
    private boolean lastLook;

    /**
     * How long a run that follows its upstream waits before it takes again when nothing has moved in this process:
     * a run of the upstream on another node tells this one nothing.
     */
    static final Duration FOLLOW_LOOK = Duration.ofMillis(200);

    ChunkLoop(JobStore store, JobEndpoint endpoint, Clock clock, Supplier<ExecutorService> claims,
            Supplier<ExecutorService> itemPool, BooleanSupplier runAllowed, BooleanSupplier takeAllowed,
            BooleanSupplier paused, Duration holdCheck, ItemRunner items) {
        this.store = store;
        this.job = endpoint.getJob();
        this.chunk = endpoint.getChunkSize();
        this.concurrency = endpoint.getConcurrency();
        this.chunkTransaction = endpoint.isChunkTransaction();
        this.clock = clock;
        this.downstream = () -> endpoint.getComponent().registry().downstreamOf(job);
        this.claims = claims;
        this.runAllowed = runAllowed;
        this.takeAllowed = takeAllowed;
        this.items = items;
        this.itemPool = itemPool;
        this.holdCheck = holdCheck;
        this.upstream = endpoint.isFollow() ? endpoint.getUpstream() : null;
        this.registry = () -> endpoint.getComponent().registry();
        this.paused = paused;
    }

    /**
     * Runs the items of run {@code runId}, once; a failure to read or write the store ends the loop by its exception,
     * and {@link #counted()} then tells what was written before it.
     */
    Tally run(long runId) throws SQLException {
        seenRunning = System.nanoTime();
        // a downstream job declared since the last run reads what this run finishes
        store.ensureFeeds(job, downstream.get());
        int reclaimed = store.reclaim(job, runId);
        if (reclaimed > 0) {
            LOG.info("Job {} run {}: took back {} items an earlier run left unfinished", job, runId, reclaimed);
        }
        Instant runStart = clock.instant();
        Tally tally = takeAll(runId, reclaimed > 0, runStart);
        while (tally.stopped() == null && counted.kept() == 0 && follows()) {
            tally = takeAll(runId, false, runStart);
        }
        if (upstream != null && tally.stopped() == null && !takeAllowed.getAsBoolean()) {
            // a stop while the run waited for its upstream ends it as a stop between two chunks does
            return cutShort(tally, runStart);
        }
        return tally;
    }

    /**
     * Whether a run that found nothing more to take takes again, following its upstream ({@code follow: true}): while
     * a run of the upstream is going (on any node), once the upstream has moved here (a chunk committed, a run
     * ended) or {@link #FOLLOW_LOOK} has gone by; once none is going, one last time, for what the upstream's last
     * chunks left. Not once a stop has begun, nor while the job is paused.
     */
    private boolean follows() throws SQLException {
        if (upstream == null || !takeAllowed.getAsBoolean() || !runAllowed.getAsBoolean() || paused.getAsBoolean()) {
            return false;
        }
        JobRegistry registry = this.registry.get();
        // what the upstream does from here on wakes the wait below
        long seen = registry.moves(upstream);
        if (!store.isGoing(upstream)) {
            boolean again = !lastLook;
            lastLook = true;
            return again;
        }
        lastLook = false;
        try {
            registry.awaitMove(upstream, seen, FOLLOW_LOOK);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        // the wait is not a sight of the run: after a long one, the next item asks whether the run still holds
        return true;
    }

    /**
     * Takes and runs chunks until none is left (or the run stops), after the items taken back first; answers
     * {@link #counted} when it found nothing more to take, or why the run stopped.
     */
    private Tally takeAll(long runId, boolean takenBack, Instant runStart) throws SQLException {
        CompletableFuture<JobStore.Claim> nextClaim = null;
        try {
            while (counted.kept() == 0) {
                // the items taken back first, then chunks claimed from the inbox
                List<JobStore.Item> taken = takenBack ? store.claimedBy(job, runId, chunk) : List.of();
                if (taken.isEmpty() && chunkTransaction) {
                    JobRegistry jobs = registry.get();
                    jobs.chunkRunStarted();
                    Tally chunks;
                    try {
                        chunks = runChunks(runId, runStart, jobs);
                    } finally {
                        jobs.chunkRunEnded();
                    }
                    if (chunks.stopped() != null) {
                        return chunks;
                    }
                    counted = counted.plus(chunks);
                    break;
                }
                if (taken.isEmpty()) {
                    takenBack = false;
                    ExecutorService pool = itemPool.get();
                    if (pool != null) {
                        return runWindow(runId, runStart, pool);
                    }
                    if (nextClaim == null && !takeAllowed.getAsBoolean()) {
                        return cutShort(counted, runStart);
                    }
                    // items put back during this run wait for the next one
                    JobStore.Claim claim = nextClaim != null ? join(nextClaim)
                            : store.claim(job, runId, chunk, runStart);
                    nextClaim = null;
                    if (claim.taken() == 0) {
                        break;
                    }
                    taken = claim.items();
                    if (taken.isEmpty()) {
                        // every item taken had been acted on by this job already
                        continue;
                    }
                }
                List<JobStore.Result> ran = runItems(runId, taken);
                if (ran == null && takenOver) {
                    throw new RunTakenOver(job, runId);
                }
                if (ran == null) {
                    // stopping: nothing of this chunk is committed; its items stay claimed for the next run
                    return Tally.stopped("stopped during the run; " + taken.size()
                            + " claimed items left for the next run");
                }
                Written written = Written.of(ran);
                if (!takenBack && written.kept() == 0) {
                    // the next chunk is claimed on another connection while this one commits: the two
                    // transactions touch different rows, and the database works on both at once
                    nextClaim = claimAhead(runId, runStart);
                }
                write(runId, written);
            }
            return counted;
        } catch (SQLException | RuntimeException e) {
            if (nextClaim != null) {
                // let a claim under way end before the run does: its items stay claimed for the next run
                nextClaim.exceptionally(ignored -> null).join();
            }
            throw e;
        }
    }

    Tally counted() {
        return counted;
    }

    /**
     * How a run that a stop cut short between chunks ends, once every chunk it took is written: as a run that went to
     * its end ({@code written}) when nothing it would take waits for the job any more (the stop came after its last
     * chunk), otherwise stopped, the items not taken waiting for the next run. When the database cannot say, stopped.
     */
    private Tally cutShort(Tally written, Instant runStart) {
        try {
            if (!store.hasWaiting(job, runStart)) {
                return written;
            }
        } catch (SQLException e) {
            LOG.warn("Job {}: cannot tell whether items wait after a stop: {}", job, Secrets.mask(e.getMessage()));
        }
        return Tally.stopped(NOT_TAKEN);
    }

    /**
     * Whether the run still holds its job. A node frozen past {@code factory.cluster.node-timeout} (a long GC pause,
     * SIGSTOP) may have had its run taken over by another node meanwhile, which now runs the same items: once the run
     * has not been seen running for {@link #holdCheck}, the next item asks the database before it goes through the
     * route (one look for all the chunk's items), so a node that comes back runs none of them again. The item under
     * way when the node froze ends; the chunk's write is refused in any case.
     */
    private boolean holds(long runId) {
        if (holdCheck == null || !takenOver && System.nanoTime() - seenRunning <= holdCheck.toNanos()) {
            return true;
        }
        synchronized (this) {
            if (takenOver || System.nanoTime() - seenRunning <= holdCheck.toNanos()) {
                return !takenOver;
            }
            try {
                if (store.isRunning(runId)) {
                    seenRunning = System.nanoTime();
                    return true;
                }
            } catch (SQLException e) {
                // the database does not answer: the item goes on, and the chunk's write tells whether the run holds
                return true;
            }
            takenOver = true;
            LOG.warn("Job {} run {}: this node was silent for {} ms and another node declared the run abandoned;"
                    + " no more of its items go through the route", job, runId,
                    (System.nanoTime() - seenRunning) / 1_000_000);
            return false;
        }
    }

    /** A chunk's results to write, and how many of its items stay claimed as their failure could not be recorded. */
    private record Written(List<JobStore.Result> results, int kept) {

        /** From the chunk's results in the items' order, null for an item whose failure was not recorded. */
        static Written of(List<JobStore.Result> ran) {
            List<JobStore.Result> results = new ArrayList<>(ran.size());
            int kept = 0;
            for (JobStore.Result result : ran) {
                if (result != null) {
                    results.add(result);
                } else {
                    // the failure could not be recorded: the item stays claimed, for the next run
                    kept++;
                }
            }
            return new Written(results, kept);
        }
    }

    /** Writes a chunk's results in one transaction and counts them. */
    private void write(long runId, Written written) throws SQLException {
        store.complete(job, runId, written.results(), written.kept());
        seenRunning = System.nanoTime();
        registry.get().handedOn(job);
        counted = counted.plus(Tally.of(written.results(), written.kept()));
    }

    private List<JobStore.Result> runItems(long runId, List<JobStore.Item> chunkItems) {
        return runItems(runId, chunkItems, () -> true);
    }

    /**
     * Sends a chunk's items through the route, {@code concurrency} at a time, each while the run is allowed and
     * {@code goOn} holds: their results in the items' order (null for an item whose failure could not be
     * recorded), or null when the run is stopping (or {@code goOn} failed) and the chunk must not be committed.
     */
    private List<JobStore.Result> runItems(long runId, List<JobStore.Item> chunkItems, BooleanSupplier goOn) {
        ExecutorService pool = itemPool.get();
        if (pool == null || chunkItems.size() < 2) {
            List<JobStore.Result> results = new ArrayList<>(chunkItems.size());
            for (JobStore.Item item : chunkItems) {
                if (!goOn.getAsBoolean() || !runAllowed.getAsBoolean() || !holds(runId)) {
                    return null;
                }
                JobStore.Result result = items.run(runId, item);
                if (result == ItemOutcomes.INTERRUPTED) {
                    return null;
                }
                results.add(result);
            }
            return results;
        }
        List<CompletableFuture<JobStore.Result>> running = new ArrayList<>(chunkItems.size());
        try {
            for (JobStore.Item item : chunkItems) {
                running.add(CompletableFuture.supplyAsync(() -> goOn.getAsBoolean() && runAllowed.getAsBoolean()
                        && holds(runId) ? items.run(runId, item) : ItemOutcomes.INTERRUPTED, pool));
            }
        } catch (RejectedExecutionException stopping) {
            // the pool is gone: the route is stopping
            running.forEach(f -> f.cancel(false));
            CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).exceptionally(ignored -> null).join();
            return null;
        }
        // every item of the chunk ends before the chunk is written or dropped
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).exceptionally(ignored -> null).join();
        List<JobStore.Result> results = new ArrayList<>(chunkItems.size());
        for (CompletableFuture<JobStore.Result> f : running) {
            JobStore.Result result = f.join();
            if (result == ItemOutcomes.INTERRUPTED) {
                return null;
            }
            results.add(result);
        }
        return results;
    }

    /**
     * The chunks claimed from the inbox when their items run in parallel: the next chunk is claimed as soon as fewer
     * of the current chunk's items wait for a thread than the pool has threads, and its items queue behind them, so
     * the pool does not wait for a chunk's slowest items nor for its commit. Each chunk is written (its results
     * committed together) once all of its items have ended, whichever chunk that is first; at most {@link #WINDOW}
     * chunks are claimed and not yet written. A stop claims nothing more: a chunk whose items all went through is
     * written, one cut off stays claimed for the next run. A failure to write waits for the items under way to end
     * before it ends the run; their chunks stay claimed.
     */
    private Tally runWindow(long runId, Instant runStart, ExecutorService pool) throws SQLException {
        List<InFlight> window = new ArrayList<>(WINDOW);
        AtomicBoolean failing = new AtomicBoolean();
        boolean claiming = true;
        boolean stopped = false;
        int leftClaimed = 0;
        try {
            while (true) {
                if (claiming && window.size() < WINDOW && window.stream().allMatch(f -> f.low.isDone())) {
                    if (!takeAllowed.getAsBoolean()) {
                        claiming = false;
                        stopped = true;
                        continue;
                    }
                    // items put back during this run wait for the next one
                    JobStore.Claim claim = store.claim(job, runId, chunk, runStart);
                    if (claim.taken() == 0) {
                        claiming = false;
                    } else if (!claim.items().isEmpty()) {
                        window.add(launch(runId, claim.items(), pool, () -> !failing.get()));
                    }
                    continue;
                }
                if (window.isEmpty()) {
                    break;
                }
                // wait for a chunk to end, or for the one under way to run low while the window has room
                List<CompletableFuture<?>> events = new ArrayList<>();
                for (InFlight f : window) {
                    events.add(f.ended);
                    if (claiming && window.size() < WINDOW && !f.low.isDone()) {
                        events.add(f.low);
                    }
                }
                CompletableFuture.anyOf(events.toArray(CompletableFuture[]::new)).join();
                for (Iterator<InFlight> it = window.iterator(); it.hasNext();) {
                    InFlight f = it.next();
                    if (!f.ended.isDone()) {
                        continue;
                    }
                    it.remove();
                    List<JobStore.Result> ran = f.results();
                    if (ran == null) {
                        // stopping: nothing of this chunk is committed; its items stay claimed for the next run
                        claiming = false;
                        stopped = true;
                        leftClaimed += f.items.size();
                        continue;
                    }
                    Written written = Written.of(ran);
                    write(runId, written);
                    if (written.kept() > 0) {
                        // the error table cannot be written (the database is likely failing): stop taking items
                        claiming = false;
                    }
                }
            }
            if (stopped) {
                return leftClaimed > 0
                        ? Tally.stopped("stopped during the run; " + leftClaimed + " claimed items left for the next run")
                        : cutShort(counted, runStart);
            }
            return counted;
        } catch (SQLException | RuntimeException e) {
            failing.set(true);
            // the items under way end before the run does; their chunks stay claimed for the next run
            window.forEach(f -> f.ended.join());
            throw e;
        }
    }

    /** A chunk in the window: its items on the pool, and whether they have run low or all ended. */
    private static final class InFlight {
        final List<JobStore.Item> items;
        final List<CompletableFuture<JobStore.Result>> running;
        /** Done once fewer of the chunk's items wait for a thread than the pool has threads. */
        final CompletableFuture<Void> low;
        /** Done once every item of the chunk has ended, however. */
        final CompletableFuture<Void> ended;

        InFlight(List<JobStore.Item> items, List<CompletableFuture<JobStore.Result>> running,
                CompletableFuture<Void> low) {
            this.items = items;
            this.running = running;
            this.low = low;
            this.ended = CompletableFuture.allOf(running.toArray(CompletableFuture[]::new))
                    .exceptionally(ignored -> null);
        }

        /** The items' results in their order, or null when one was cut off by a stop. */
        List<JobStore.Result> results() {
            List<JobStore.Result> results = new ArrayList<>(running.size());
            for (CompletableFuture<JobStore.Result> f : running) {
                JobStore.Result result = f.join();
                if (result == ItemOutcomes.INTERRUPTED) {
                    return null;
                }
                results.add(result);
            }
            return results;
        }
    }

    /** Hands a chunk's items to the pool, each to run while the run is allowed and {@code goOn} holds. */
    private InFlight launch(long runId, List<JobStore.Item> chunkItems, ExecutorService pool, BooleanSupplier goOn) {
        AtomicInteger waiting = new AtomicInteger(chunkItems.size());
        CompletableFuture<Void> low = new CompletableFuture<>();
        if (chunkItems.size() < concurrency) {
            low.complete(null);
        }
        List<CompletableFuture<JobStore.Result>> running = new ArrayList<>(chunkItems.size());
        try {
            for (JobStore.Item item : chunkItems) {
                running.add(CompletableFuture.supplyAsync(() -> {
                    if (waiting.decrementAndGet() < concurrency) {
                        low.complete(null);
                    }
                    return goOn.getAsBoolean() && runAllowed.getAsBoolean() && holds(runId)
                            ? items.run(runId, item) : ItemOutcomes.INTERRUPTED;
                }, pool));
            }
        } catch (RejectedExecutionException stopping) {
            // the pool is gone: the route is stopping, and the items not handed to it are cut off
            while (running.size() < chunkItems.size()) {
                running.add(CompletableFuture.completedFuture(ItemOutcomes.INTERRUPTED));
            }
            low.complete(null);
        }
        return new InFlight(chunkItems, running, low);
    }

    /**
     * The inbox's chunks, each in one transaction: taken, run, and its results written and committed together. On
     * PostgreSQL up to four chunks are under way at once, each on its own connection: one commits on a claim thread,
     * the next one is written on another (its write waits in the database for the commit before it, and goes on as
     * soon as that one lands, without a round trip to this node), the next one's items run, and the one after is
     * taken on a claim thread meanwhile, so that the database takes and writes while the route runs. A chunk commits
     * only once the chunk before it has: should that one fail, the chunks after it are rolled back. That is while the
     * chunk runs of this process leave room for it ({@link JobRegistry#roomToWorkAhead}); otherwise each chunk is
     * taken, run, written and committed in turn on this thread. Stops at the first chunk whose failures could not be
     * recorded. When the run stops midway, the chunk being run (and the one taken ahead) is rolled back and its items
     * are waiting again.
     */
    private Tally runChunks(long runId, Instant runStart, JobRegistry jobs) throws SQLException {
        Tally total = Tally.NONE;
        // the chunks handed on whose commit has not been counted yet, oldest first
        Deque<Handed> handed = new ArrayDeque<>();
        CompletableFuture<JobStore.OpenChunk> takingAhead = null;
        // the items of the last three chunks handed on (as many as may not have committed when a chunk is taken): a
        // chunk taken before they committed does not see them in the database
        Deque<Set<StoreDialect.ItemKey>> handedItems = new ArrayDeque<>();
        if (!takeAllowed.getAsBoolean()) {
            return cutShort(total, runStart);
        }
        JobStore.OpenChunk open = store.openChunk(job, chunk, runStart, null);
        boolean stopped = false;
        try {
            while (true) {
                // whether this chunk is committed on the claim thread, and the next one taken there meanwhile (where
                // the store can take while a chunk commits), or both done in turn on this thread: chosen at each
                // chunk, as other runs of this process begin and end
                boolean roomAhead = jobs.roomToWorkAhead();
                boolean ahead = roomAhead && store.takesWhileCommitting();
                boolean handedOver = false;
                try {
                    if (open.taken() == 0) {
                        break;
                    }
                    List<JobStore.Item> toRun = open.items();
                    if (!handedItems.isEmpty()) {
                        // an item a chunk before acted on, taken again here (offered by hand to the job and fed to
                        // it by its upstream too), is dropped as an item the job acted on: should that chunk fail to
                        // commit, this one is rolled back with it
                        List<Set<StoreDialect.ItemKey>> before = List.copyOf(handedItems);
                        toRun = toRun.stream().filter(i -> {
                            StoreDialect.ItemKey key = StoreDialect.ItemKey.of(i);
                            for (Set<StoreDialect.ItemKey> keys : before) {
                                if (keys.contains(key)) {
                                    return false;
                                }
                            }
                            return true;
                        }).toList();
                    }
                    if (ahead) {
                        takingAhead = takeAhead(open.feed(), runStart);
                    }
                    List<JobStore.Result> results = new ArrayList<>(toRun.size());
                    List<JobStore.Item> kept = new ArrayList<>();
                    CompletableFuture<Tally> before = handed.isEmpty() ? null : handed.peekLast().committed;
                    // the chunk before failed to commit: run no more items on top of it (its failure is thrown
                    // below, and this chunk is rolled back)
                    List<JobStore.Result> ran = runItems(runId, toRun,
                            () -> before == null || !before.isCompletedExceptionally());
                    if (ran == null && before != null && before.isCompletedExceptionally()) {
                        join(before);
                    }
                    if (ran == null) {
                        while (!handed.isEmpty()) {
                            join(handed.pollFirst().committed);
                        }
                        if (takenOver) {
                            throw new RunTakenOver(job, runId);
                        }
                        return Tally.stopped("stopped during the run; the chunk's " + open.items().size()
                                + " items are waiting again");
                    }
                    for (int i = 0; i < ran.size(); i++) {
                        if (ran.get(i) == null) {
                            // the failure could not be recorded: the item goes back to the inbox
                            kept.add(toRun.get(i));
                        } else {
                            results.add(ran.get(i));
                        }
                    }
                    if (!handed.isEmpty()) {
                        // the chunk before holds the job's head row from its write to its commit: this chunk's write
                        // goes once that one's has been made, and waits in the database for its commit
                        join(handed.peekLast().written);
                    }
                    while (handed.size() > (ahead ? 1 : 0)) {
                        total = total.plus(join(handed.pollFirst().committed));
                    }
                    handed.addLast(commitAhead(open, runId, results, kept, before, roomAhead));
                    handedItems.addLast(toRun.stream().map(StoreDialect.ItemKey::of)
                            .collect(Collectors.toUnmodifiableSet()));
                    if (handedItems.size() > 3) {
                        handedItems.pollFirst();
                    }
                    handedOver = true;
                    if (!kept.isEmpty()) {
                        // the error table cannot be written (the database is likely failing): stop taking items
                        break;
                    }
                } finally {
                    if (!handedOver) {
                        open.close();
                    }
                }
                if (!takeAllowed.getAsBoolean()) {
                    // a stop has begun: the chunks handed on commit, the one taken ahead is rolled back
                    if (takingAhead != null) {
                        CompletableFuture<JobStore.OpenChunk> taken = takingAhead;
                        takingAhead = null;
                        taken.thenAccept(ChunkLoop::rollBack).exceptionally(ignored -> null).join();
                    }
                    stopped = true;
                    break;
                }
                if (takingAhead != null) {
                    CompletableFuture<JobStore.OpenChunk> taken = takingAhead;
                    takingAhead = null;
                    open = join(taken);
                } else {
                    if (!ahead) {
                        while (!handed.isEmpty()) {
                            total = total.plus(join(handed.pollFirst().committed));
                        }
                    }
                    open = store.openChunk(job, chunk, runStart, open.feed());
                }
            }
            while (!handed.isEmpty()) {
                total = total.plus(join(handed.pollFirst().committed));
            }
            return stopped ? cutShort(total, runStart) : total;
        } finally {
            if (takingAhead != null) {
                // the chunk taken ahead is not run: rolled back, its items are waiting again
                takingAhead.thenAccept(ChunkLoop::rollBack).exceptionally(ignored -> null).join();
            }
            // the run failed while chunks were committing: let those commits end before the run does
            handed.forEach(h -> h.committed.exceptionally(ignored -> null).join());
        }
    }

    /** A chunk handed on: done once its write has been made (its transaction still open), and once committed. */
    private record Handed(CompletableFuture<Void> written, CompletableFuture<Tally> committed) {
    }

    /**
     * Takes the chunk after the one whose items are about to run, from where that one leaves the feed, on the claim
     * thread; null when the route is stopping, or when the pool has no connection to spare (the next chunk is then
     * taken once this one is handed on to be committed).
     */
    private CompletableFuture<JobStore.OpenChunk> takeAhead(JobStore.Feed feed, Instant runStart) {
        ExecutorService executor = claims.get();
        if (executor == null || !takeAllowed.getAsBoolean() || !store.canTakeAhead()) {
            return null;
        }
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return store.openChunk(job, chunk, runStart, feed);
                } catch (SQLException e) {
                    throw new CompletionException(e);
                }
            }, executor);
        } catch (RejectedExecutionException stopping) {
            return null;
        }
    }

    private static void rollBack(JobStore.OpenChunk open) {
        try {
            open.close();
        } catch (SQLException e) {
            LOG.warn("Could not roll back a chunk taken ahead: {}", e.getMessage());
        }
    }

    /**
     * Writes and commits a chunk on the claim thread when {@code elsewhere}, otherwise (or when the route is stopping)
     * on this one; closes it either way. Once written, the chunk commits only after the chunk before it ({@code
     * before}) has: should that one fail, this one is rolled back.
     */
    private Handed commitAhead(JobStore.OpenChunk open, long runId, List<JobStore.Result> results,
            List<JobStore.Item> kept, CompletableFuture<Tally> before, boolean elsewhere) {
        CompletableFuture<Void> written = new CompletableFuture<>();
        Supplier<Tally> commit = () -> {
            try (open) {
                store.writeChunk(open, job, runId, results, kept);
                written.complete(null);
                if (before != null) {
                    join(before);
                }
                store.commitChunk(open);
                seenRunning = System.nanoTime();
                registry.get().handedOn(job);
                return Tally.of(results, kept.size());
            } catch (SQLException | RuntimeException e) {
                written.completeExceptionally(e);
                throw e instanceof SQLException ? new CompletionException(e) : (RuntimeException) e;
            }
        };
        ExecutorService executor = elsewhere ? claims.get() : null;
        if (executor != null) {
            try {
                return new Handed(written, CompletableFuture.supplyAsync(commit, executor));
            } catch (RejectedExecutionException stopping) {
                // the executor is gone: commit here
            }
        }
        try {
            return new Handed(written, CompletableFuture.completedFuture(commit.get()));
        } catch (CompletionException e) {
            return new Handed(written, CompletableFuture.failedFuture(e.getCause()));
        }
    }

    /** The next chunk's claim on the claim thread; null when the executor is gone (the route is stopping). */
    private CompletableFuture<JobStore.Claim> claimAhead(long runId, Instant runStart) {
        ExecutorService executor = claims.get();
        if (executor == null || !takeAllowed.getAsBoolean()) {
            return null;
        }
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return store.claim(job, runId, chunk, runStart);
                } catch (SQLException e) {
                    throw new CompletionException(e);
                }
            }, executor);
        } catch (RejectedExecutionException stopping) {
            return null;
        }
    }

    /** The result of work done on the claim thread, with its SQL failure thrown as it was. */
    private static <T> T join(CompletableFuture<T> work) throws SQLException {
        try {
            return work.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }
}
