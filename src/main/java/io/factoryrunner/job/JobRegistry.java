package io.factoryrunner.job;

import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The jobs of this factory by name: who feeds whom, and a handle to run each by hand. */
public final class JobRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(JobRegistry.class);

    private final Map<String, JobConsumer> jobs = new ConcurrentHashMap<>();
    /**
     * Job name to upstream, for every job endpoint created, running or not: a downstream job that is stopped,
     * paused or being recreated still gets its inbox rows, so no item is lost while it is away.
     */
    private final Map<String, String> upstreams = new ConcurrentHashMap<>();

    private final Set<String> misfireChecked = ConcurrentHashMap.newKeySet();

    /** How many times each job's runs in this process committed a chunk or ended, for the runs that follow it. */
    private final Map<String, long[]> moves = new ConcurrentHashMap<>();

    /** The runs in this process going through their chunks one transaction per chunk ({@code transaction: chunk}). */
    private final AtomicInteger chunkRuns = new AtomicInteger();

    /** The cores the chunk runs of this process share (the JVM's available processors). */
    private volatile int cores = Runtime.getRuntime().availableProcessors();

    /**
     * Runs whose end could not be written (the database failed), by job: written as soon as the node's heartbeat
     * finds the database back, or at the job's next fire, also when the job's route was recreated in between.
     */
    private final Map<String, JobConsumer.Unfinished> unfinished = new ConcurrentHashMap<>();

    /** Jobs whose fires are skipped because a run of a node not seen for a while holds them, by job. */
    private final Map<String, JobStore.RunningRun> blocked = new ConcurrentHashMap<>();

    /** True the first time this process sees the job blocked by that run. */
    boolean blockedBy(String job, JobStore.RunningRun run) {
        JobStore.RunningRun before = blocked.put(job, run);
        return before == null || before.runId() != run.runId();
    }

    void unblocked(String job) {
        blocked.remove(job);
    }

    /** The jobs held by a run of a node that has gone silent, with that run, as the job's last fire found them. */
    public Map<String, JobStore.RunningRun> blocked() {
        return Map.copyOf(blocked);
    }

    /**
     * The jobs still held: a run closed since the job's last fire (an operator marked it abandoned, its node came
     * back and closed it) no longer blocks, without waiting for the job's next fire, which may be a day away.
     */
    public Map<String, JobStore.RunningRun> stillBlocked(JobStore store) {
        for (Map.Entry<String, JobStore.RunningRun> e : Map.copyOf(blocked).entrySet()) {
            try {
                if (store.runningRuns(e.getKey()).stream().noneMatch(r -> r.runId() == e.getValue().runId())) {
                    blocked.remove(e.getKey(), e.getValue());
                }
            } catch (SQLException unknown) {
                // the database does not answer: its own check says so; the job stays reported as it was
            }
        }
        return Map.copyOf(blocked);
    }

    void leaveUnfinished(String job, JobConsumer.Unfinished run) {
        unfinished.put(job, run);
    }

    /**
     * Writes the end of the job's run that could not be written when it ended, if there is one; it stays for the next
     * try when the database still refuses.
     */
    void recordLate(String job, JobStore store) throws SQLException {
        JobConsumer.Unfinished late = unfinished.remove(job);
        if (late == null) {
            return;
        }
        try {
            store.finishRun(late.runId(), late.status(), JobStore.cut((late.summary() == null ? ""
                    : late.summary() + "; ") + "its end was recorded late: the database could not be written when"
                    + " the run ended", 2000));
        } catch (SQLException | RuntimeException e) {
            unfinished.putIfAbsent(job, late);
            throw e;
        }
        LOG.info("Job {}: run {} recorded as {} now that the database answers", job, late.runId(),
                late.status().db());
    }

    /**
     * Writes the ends of every run whose end could not be written, now that the database answers again: such a run
     * is closed at once, not at its job's next fire on this node (in a cluster the other nodes skip their fires of
     * the job while it is marked running, and the next fire may go to any of them).
     */
    public void recordLateEnds(JobStore store) {
        for (String job : Set.copyOf(unfinished.keySet())) {
            try {
                recordLate(job, store);
            } catch (SQLException e) {
                LOG.warn("Job {}: the end of its last run still cannot be written ({}); tried again at its next fire",
                        job, Secrets.mask(e.getMessage()));
            }
        }
    }

    /**
     * A run of {@code job} in this process committed a chunk: the runs that follow it take again, and each downstream
     * job that follows it and has no run going here starts one ({@link #startFollowers}).
     */
    void handedOn(String job) {
        moved(job);
        startFollowers(job);
    }

    /** A run of {@code job} in this process committed a chunk or ended: the runs that follow it take again. */
    void moved(String job) {
        long[] count = moves.computeIfAbsent(job, j -> new long[1]);
        synchronized (count) {
            count[0]++;
            count.notifyAll();
        }
    }

    /** A run of this process begins going through its chunks, one transaction each; {@link #chunkRunEnded} ends it. */
    void chunkRunStarted() {
        chunkRuns.incrementAndGet();
    }

    void chunkRunEnded() {
        chunkRuns.decrementAndGet();
    }

    /**
     * Whether a chunk run may work ahead: take its next chunk and commit the one before on another thread (and
     * connection) while its items run. Working ahead keeps about two cores busy for one run (the run's thread and its
     * helper's, each with the database's work for it); it pays while the chunk runs going in this process leave that
     * much room. With every core busy with other runs (jobs that follow each other run at once) the hand-offs between
     * threads cost more than the overlap gains: on two cores, six jobs following each other moved 7% to 14% more
     * items a second taking, running, writing and committing each chunk in turn on the run's own thread.
     */
    boolean roomToWorkAhead() {
        return chunkRuns.get() * 2 <= cores;
    }

    /** For tests: the cores the chunk runs share, whatever this machine has. */
    void sharedCores(int cores) {
        this.cores = cores;
    }

    /** How many times {@code job} has moved in this process, for {@link #awaitMove}. */
    long moves(String job) {
        long[] count = moves.computeIfAbsent(job, j -> new long[1]);
        synchronized (count) {
            return count[0];
        }
    }

    /**
     * Waits until {@code job} has moved past {@code seen} (see {@link #moves}) or {@code max} has gone by; a run on
     * another node tells nothing here, so a follower takes again after {@code max} in any case.
     */
    void awaitMove(String job, long seen, Duration max) throws InterruptedException {
        long[] count = moves.computeIfAbsent(job, j -> new long[1]);
        long deadline = System.nanoTime() + max.toNanos();
        synchronized (count) {
            for (long left = max.toNanos(); count[0] == seen && left > 0; left = deadline - System.nanoTime()) {
                TimeUnit.NANOSECONDS.timedWait(count, left);
            }
        }
    }

    /**
     * A run of {@code job} in this process handed items on: each downstream job that follows it, running here and
     * not paused, starts a run of its own beside it unless it has one going here (see {@link JobConsumer#follow}).
     */
    void startFollowers(String job) {
        // at every chunk committed: the declared jobs as they stand, unsorted
        for (Map.Entry<String, String> declared : upstreams.entrySet()) {
            JobConsumer consumer = job.equals(declared.getValue()) ? jobs.get(declared.getKey()) : null;
            if (consumer != null && consumer.getEndpoint().isFollow()) {
                consumer.follow();
            }
        }
    }

    /** True the first time it is asked for a job: missed fires are looked for once, when the factory starts. */
    boolean firstStartOf(String job) {
        return misfireChecked.add(job);
    }

    void declare(String job, String upstream) {
        upstreams.put(job, upstream == null ? "" : upstream);
    }

    void register(JobConsumer consumer) {
        jobs.put(consumer.getEndpoint().getJob(), consumer);
    }

    void unregister(JobConsumer consumer) {
        jobs.remove(consumer.getEndpoint().getJob(), consumer);
    }

    /** The jobs that take what {@code job} leaves: those that name it as their upstream. */
    public List<String> downstreamOf(String job) {
        return upstreams.entrySet().stream().filter(e -> job.equals(e.getValue())).map(Map.Entry::getKey)
                .sorted().toList();
    }

    public List<String> names() {
        return jobs.keySet().stream().sorted().toList();
    }

    /** Every job declared by a route, running or not, in name order. */
    public List<String> declared() {
        return upstreams.keySet().stream().sorted().toList();
    }

    /**
     * Every job declared by a route in the order of its chain: a job comes after the job that feeds it, a chain's
     * first job (one without a declared upstream) starts it, chains and siblings in name order.
     */
    public List<String> inChainOrder() {
        List<String> declared = declared();
        List<String> ordered = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Deque<String> next = new ArrayDeque<>();
        for (String job : declared) {
            if (upstreamOf(job).filter(declared::contains).isEmpty()) {
                next.push(job);
                while (!next.isEmpty()) {
                    String current = next.pop();
                    if (seen.add(current)) {
                        ordered.add(current);
                        List<String> downstream = downstreamOf(current);
                        for (int i = downstream.size() - 1; i >= 0; i--) {
                            next.push(downstream.get(i));
                        }
                    }
                }
            }
        }
        // jobs that feed each other in a ring have no first job: they come last, in name order
        declared.stream().filter(job -> !seen.contains(job)).forEach(ordered::add);
        return ordered;
    }

    /** The job that feeds {@code job}, if it has one. */
    public Optional<String> upstreamOf(String job) {
        return Optional.ofNullable(upstreams.get(job)).filter(u -> !u.isEmpty());
    }

    /** The endpoint of a job whose route runs. */
    public Optional<JobEndpoint> endpoint(String job) {
        return Optional.ofNullable(jobs.get(job)).map(JobConsumer::getEndpoint);
    }

    /**
     * Starts a run of a job on {@code executor}, under the same rules as a scheduled fire; the answer completes with
     * the run's id once it has begun, or -1 when the fire was skipped (paused, or a run going).
     */
    public CompletableFuture<Long> start(String name, Trigger trigger, Executor executor) {
        JobConsumer consumer = consumer(name);
        CompletableFuture<Long> started = new CompletableFuture<>();
        executor.execute(() -> {
            try {
                started.complete(consumer.runOnce(trigger, started::complete));
            } catch (RuntimeException | Error e) {
                started.completeExceptionally(e);
            }
        });
        return started;
    }

    private JobConsumer consumer(String name) {
        JobConsumer consumer = jobs.get(name);
        if (consumer == null) {
            throw new IllegalArgumentException(upstreams.containsKey(name) ? "Job '" + name + "' is not running"
                    : "No job named '" + name + "'; jobs: " + names());
        }
        return consumer;
    }

    /** Runs a job now, on the caller's thread, under the same rules as a scheduled fire. Returns the run id. */
    public long trigger(String name, Trigger trigger) {
        return consumer(name).runOnce(trigger);
    }
}
