package io.factoryrunner.program;

import io.factoryrunner.cluster.DatabaseSight;
import io.factoryrunner.error.RetryableException;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelExecutionException;
import org.apache.camel.Exchange;
import org.apache.camel.RuntimeCamelException;
import org.apache.camel.support.DefaultExchange;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the programs of the database queue: a dispatcher claims due programs ahead of the workers
 * ({@code program.workers} threads), each worker runs one step of a ready program at a time and hands its success to
 * the {@link StepCommits committer}, which commits the step's completion with the program's advance to its next step
 * and only then makes the program ready again. A program whose step failed with a retryable error goes back to the
 * queue, due after a backoff; any other failure ends it with an error row and its alert. Programs a stop or a crash
 * left running are due again at the next start, at the step they were on.
 */
public final class ProgramExecutor extends ServiceSupport {

    private static final Logger LOG = LoggerFactory.getLogger(ProgramExecutor.class);

    /** Writes the error row (and its alert) of a program that ended with an error. */
    @FunctionalInterface
    public interface Failures {
        void record(Exchange exchange, Throwable error, String job, String next) throws SQLException;
    }

    /** Told of each step's end: the job and the outcome (succeeded, retrying, failed). */
    @FunctionalInterface
    public interface StepListener {
        void stepEnded(String job, String outcome);
    }

    /**
     * A program that waited longer than this in the workers' queue since its claim or its last commit (which both see
     * a cancel, a hand-set errored_at and that the node holds it) is read again before its step: none of its steps
     * starts long after either, nor on a node that was frozen while another took the program over.
     */
    private static final Duration RECHECK_AFTER = Duration.ofMillis(50);

    private final CamelContext context;
    private final ProgramStore store;
    private final ProgramJobs jobs;
    private final ProgramSettings settings;
    private final String node;
    private final Clock clock;
    private final boolean exclusive;
    private final DatabaseSight sight;
    private final Failures failures;
    private final StepListener listener;
    /** Programs whose outcome could not be written (the database failed): given back as soon as it answers. */
    private final Set<Long> orphans = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition woken = lock.newCondition();
    private boolean wakeUp;
    private volatile boolean stopping;
    private ExecutorService dispatcher;
    private ExecutorService workers;
    private ExecutorService committer;
    private StepCommits commits;
    /** Programs claimed for this node's workers, in the order they were due. */
    private final BlockingDeque<Program> ready = new LinkedBlockingDeque<>();
    /** Programs claimed and not yet ended here: queued, or being run by a worker. */
    private final AtomicInteger held = new AtomicInteger();
    private int most;
    private int low;
    private Duration pollInterval;
    private Instant nextSweep = Instant.EPOCH;

    public ProgramExecutor(CamelContext context, ProgramStore store, ProgramJobs jobs, String node, Clock clock,
            boolean exclusive, DatabaseSight sight, Failures failures, StepListener listener) {
        this.context = context;
        this.store = store;
        this.jobs = jobs;
        this.settings = new ProgramSettings(context.getPropertiesComponent());
        this.node = node;
        this.clock = clock;
        this.exclusive = exclusive;
        this.sight = sight;
        this.failures = failures;
        this.listener = listener;
    }

    /** Has the dispatcher look for due programs now (a program was submitted or started). */
    public void wake() {
        lock.lock();
        try {
            wakeUp = true;
            woken.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    protected void doStart() throws Exception {
        int released = exclusive ? store.releaseAllRunning() : store.releaseRunningOf(node);
        if (released > 0) {
            LOG.warn("{} programs were left running by the factory's last stop; each goes on at the step it was on",
                    released);
        }
        int size = settings.workers();
        pollInterval = settings.pollInterval();
        // up to sixteen programs a worker held (ready, being run, or being committed), claimed again when the ready
        // ones are as few as the workers: a worker whose program's step is being committed runs another program's
        most = size * 16;
        low = size;
        stopping = false;
        commits = new StepCommits(store, node);
        committer = context.getExecutorServiceManager().newSingleThreadExecutor(this, "program-commits");
        committer.execute(commits::run);
        workers = context.getExecutorServiceManager().newFixedThreadPool(this, "program-worker", size);
        for (int i = 0; i < size; i++) {
            workers.execute(this::work);
        }
        dispatcher = context.getExecutorServiceManager().newSingleThreadExecutor(this, "program-dispatcher");
        dispatcher.execute(this::dispatch);
        LOG.info("Programs: {} workers on node {}", size, node);
    }

    @Override
    protected void doStop() throws Exception {
        stopping = true;
        wake();
        if (dispatcher != null) {
            context.getExecutorServiceManager().shutdownNow(dispatcher);
            dispatcher = null;
        }
        if (workers != null) {
            // a step under way ends, and its program is given back at its next step
            context.getExecutorServiceManager().shutdownGraceful(workers);
            workers = null;
        }
        if (committer != null) {
            // the steps the workers handed in are committed first
            commits.stop();
            context.getExecutorServiceManager().shutdownGraceful(committer);
            committer = null;
        }
        // claimed, not begun: due again at once, here or on another node
        for (Program p = ready.poll(); p != null; p = ready.poll()) {
            try {
                store.release(p.id, node, clock.instant());
            } catch (SQLException | RuntimeException e) {
                LOG.warn("Program {}: cannot give it back at the stop ({}); the next start does",
                        p.runId, Secrets.mask(e.getMessage()));
            }
            held.decrementAndGet();
        }
    }

    /** Claims due programs while the workers' queue runs low, as many as fill it. */
    private void dispatch() {
        while (!stopping()) {
            int room = most - held.get();
            if (room > 0 && ready.size() <= low) {
                try {
                    giveBackOrphans();
                    sweepSilentNodes();
                    if (!stopping()) {
                        List<Program> due = store.claim(node, room);
                        held.addAndGet(due.size());
                        ready.addAll(due);
                    }
                } catch (SQLException | RuntimeException e) {
                    LOG.warn("Programs: cannot claim due programs: {}", Secrets.mask(e.getMessage()));
                }
            }
            // a full batch: the workers wake the dispatcher when the queue runs low; none or a part: nothing more is
            // due now, and a submit wakes it, or the poll interval
            if (!awaitWake()) {
                return;
            }
        }
    }

    /**
     * A worker: runs one step of the next ready program, hands its success to the committer and goes on with another
     * program while it is committed; the program is ready again for its next step once the commit is made, so no
     * program's step begins before the one before it is committed.
     */
    private void work() {
        while (!stopping()) {
            Program p;
            try {
                p = ready.pollFirst(pollInterval.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (p != null && !step(p)) {
                let(p);
            }
        }
    }

    /** The program is no longer held by this node's workers (it ended, waits for a retry, or was given back). */
    private void let(Program p) {
        held.decrementAndGet();
        if (ready.size() <= low) {
            wake();
        }
    }

    /** The executor, or the factory, is stopping: no step starts. */
    private boolean stopping() {
        return stopping || context.isStopping();
    }

    /** Waits for a wake-up or the poll interval; false when interrupted (the executor stops). */
    private boolean awaitWake() {
        lock.lock();
        try {
            long left = pollInterval.toNanos();
            while (!wakeUp && !stopping && left > 0) {
                left = woken.awaitNanos(left);
            }
            wakeUp = false;
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    private void giveBackOrphans() throws SQLException {
        for (Long id : Set.copyOf(orphans)) {
            store.release(id, node, clock.instant());
            orphans.remove(id);
            LOG.info("Program {}: given back to the queue now that the database answers", id);
        }
    }

    /** On a database shared by nodes, the programs of a node that has gone silent are taken over. */
    private void sweepSilentNodes() throws SQLException {
        if (exclusive || clock.instant().isBefore(nextSweep)) {
            return;
        }
        Duration staleAfter = settings.staleAfter();
        nextSweep = clock.instant().plus(staleAfter.dividedBy(2));
        if (!sight.seenFor(staleAfter)) {
            // back from a database outage: every node's heartbeat is old, and the others are reconnecting too
            return;
        }
        int released = store.releaseOfSilentNodes(staleAfter, node);
        if (released > 0) {
            LOG.warn("{} programs held by nodes not seen for {} are due again at the step they were on", released,
                    staleAfter);
        }
    }

    /** Runs the program's step; true when its success went to the committer, which holds the program from then on. */
    private boolean step(Program p) {
        try {
            if (stopping()) {
                store.release(p.id, node, clock.instant());
                return false;
            }
            ProgramStore.Hold hold = System.nanoTime() - p.checkedAt > RECHECK_AFTER.toNanos()
                    ? store.holdOf(p.id, node) : ProgramStore.Hold.HELD;
            if (hold == ProgramStore.Hold.STOPPED) {
                LOG.info("Program {} stopped before step {} ({}): cancelled, or errored_at set", p.runId, p.step,
                        p.job());
                return false;
            }
            if (hold == ProgramStore.Hold.LOST) {
                // this node was silent (frozen) past factory.node.stale-after: another node runs the program now
                LOG.warn("Program {} is no longer this node's (another node took it over while this one was silent);"
                        + " its step {} ({}) does not run here", p.runId, p.step, p.job());
                return false;
            }
            Optional<ProgramConsumer> consumer = jobs.consumer(p.job());
            if (consumer.isEmpty()) {
                if (jobs.isDeclared(p.job())) {
                    // its route is stopped or being created again: the step waits, no attempt counted
                    store.release(p.id, node, clock.instant().plus(pollInterval));
                    return false;
                }
                noRoute(p);
                return false;
            }
            return runStep(consumer.get(), p);
        } catch (SQLException | RuntimeException e) {
            lost(p, e);
            return false;
        }
    }

    private void lost(Program p, Exception e) {
        LOG.error("Program {} step {}: its outcome could not be recorded ({}); it is given back to the queue once"
                + " the database answers, and the step runs again", p.runId, p.step, Secrets.mask(e.getMessage()), e);
        orphans.add(p.id);
    }

    private boolean runStep(ProgramConsumer consumer, Program p) throws SQLException {
        StepContext step = new StepContext(p, store, node);
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        return consumer.run(step, run -> {
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Throwable error = run.error();
            String result = null;
            if (error == null) {
                try {
                    result = resultOf(run.exchange());
                } catch (RuntimeException e) {
                    error = new IllegalStateException("The result of job " + p.job() + " cannot be written as JSON: "
                            + e.getMessage(), e);
                }
            }
            if (error == null) {
                String done = result;
                commits.handIn(new ProgramStore.Done(p, event(p, step, "succeeded", started, ms, null), result),
                        next -> committed(p, next, done), e -> {
                            lost(p, e);
                            let(p);
                        });
                return true;
            }
            failed(p, step, run.exchange(), error, started, ms);
            return false;
        });
    }

    /** On the committer's thread: the step is committed; the program is ready for its next step, or let go. */
    private void committed(Program p, ProgramStore.Next next, String result) {
        listener.stepEnded(p.job(), "succeeded");
        if (next == ProgramStore.Next.CONTINUE) {
            p.step++;
            p.retryCount = 0;
            p.lastResult = ProgramJson.read(result);
            p.checkedAt = System.nanoTime();
            // ahead of the programs not begun: a program under way ends sooner
            ready.offerFirst(p);
            return;
        }
        if (next == ProgramStore.Next.STOPPED) {
            LOG.info("Program {} stopped after step {} ({}): cancelled, or errored_at set", p.runId, p.step, p.job());
        }
        let(p);
    }

    private void failed(Program p, StepContext step, Exchange exchange, Throwable failure, Instant started, long ms)
            throws SQLException {
        Throwable error = unwrap(failure);
        String message = cut(Secrets.mask(error.getClass().getSimpleName() + ": " + error.getMessage()));
        int attempt = step.attempt();
        int max = settings.maxAttempts();
        boolean retryable = isRetryable(error);
        if (retryable && attempt < max) {
            Instant next = clock.instant().plus(settings.backoff(attempt));
            ProgramStore.StepRecord event = event(p, step, "retrying", started, ms, error, message);
            if (store.stepRetry(p, event, next, node)) {
                listener.stepEnded(p.job(), "retrying");
                LOG.warn("Program {} step {} ({}) attempt {} of {} failed, tried again at {}: {}", p.runId, p.step,
                        p.job(), attempt, max, next, message);
            }
            return;
        }
        String ended = retryable ? cut("given up after " + attempt + " attempts: " + message) : message;
        ProgramStore.StepRecord event = event(p, step, "failed", started, ms, error, ended);
        if (!store.stepFailed(p, event, node)) {
            return;
        }
        listener.stepEnded(p.job(), "failed");
        LOG.warn("Program {} ended with an error at step {} ({}); its remaining steps are skipped: {}", p.runId,
                p.step, p.job(), ended);
        try {
            failures.record(exchange, retryable ? new IllegalStateException(ended, error) : error, p.job(),
                    nextSteps(p));
        } catch (SQLException | RuntimeException e) {
            // the recorder has logged everything the row would hold; the program's own row says what happened
            LOG.error("Program {}: its error row could not be written: {}", p.runId, Secrets.mask(e.getMessage()));
        }
    }

    /** A step whose job no route declares any more (its route file was removed since the program was submitted). */
    private void noRoute(Program p) throws SQLException {
        String message = "No route takes program job '" + p.job() + "' (from: program:" + p.job() + "); the"
                + " factory's program jobs are " + jobs.names();
        StepContext step = new StepContext(p, store, node);
        if (!store.stepFailed(p, event(p, step, "failed", clock.instant(), 0, new IllegalStateException(message),
                message), node)) {
            return;
        }
        listener.stepEnded(p.job(), "failed");
        LOG.warn("Program {} ended with an error at step {}: {}", p.runId, p.step, message);
        try {
            failures.record(new DefaultExchange(context), new IllegalStateException(message), p.job(), nextSteps(p));
        } catch (SQLException | RuntimeException e) {
            LOG.error("Program {}: its error row could not be written: {}", p.runId, Secrets.mask(e.getMessage()));
        }
    }

    private String nextSteps(Program p) {
        return "Program " + p.runId + " ended with an error at step " + p.step + " (job " + p.job() + ") after "
                + (p.retryCount + 1) + (p.retryCount == 0 ? " attempt" : " attempts") + "; its remaining "
                + (p.jobs.size() - p.step - 1) + " steps were skipped. See it: GET /api/programs/" + p.runId
                + "; once the cause is fixed, resume it at that step (POST /api/programs/" + p.runId + "/resume, or"
                + " java -jar factory-runner.jar program-resume " + p.runId + ").";
    }

    private ProgramStore.StepRecord event(Program p, StepContext step, String outcome, Instant started, long ms,
            Throwable error) {
        return event(p, step, outcome, started, ms, error, null);
    }

    private ProgramStore.StepRecord event(Program p, StepContext step, String outcome, Instant started, long ms,
            Throwable error, String message) {
        return new ProgramStore.StepRecord(p.step, p.job(), step.attempt(), outcome,
                ProgramJson.write(step.arguments()), ProgramJson.write(step.jobData()), node, started, ms,
                error == null ? null : error.getClass().getName(), message);
    }

    /** RetryableException, or a class (or superclass) named in program.retry.exceptions, anywhere in the causes. */
    boolean isRetryable(Throwable error) {
        Set<String> listed = settings.retryableExceptions();
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof RetryableException) {
                return true;
            }
            for (Class<?> c = t.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                if (listed.contains(c.getName())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The body the job left, as the JSON the next job reads back: a Map, a List, text, a number, true or false. */
    private static String resultOf(Exchange exchange) {
        Object body = exchange.getMessage().getBody();
        if (body == null || body instanceof Map || body instanceof List || body instanceof String
                || body instanceof Number || body instanceof Boolean) {
            return ProgramJson.write(body);
        }
        return ProgramJson.write(exchange.getMessage().getBody(String.class));
    }

    private static Throwable unwrap(Throwable error) {
        Throwable t = error;
        while ((t instanceof CamelExecutionException || t instanceof RuntimeCamelException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static String cut(String text) {
        return text.length() <= 4000 ? text : text.substring(0, 3999) + "…";
    }
}
