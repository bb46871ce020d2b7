package io.factoryrunner.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.config.ConfigValues;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.ExchangeHelper;
import org.apache.camel.support.ScheduledPollConsumer;
import org.apache.camel.util.TimeUtils;
import org.quartz.CronExpression;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;


/**
 * Runs a job: on each fire it opens a run, takes back the items an earlier run left claimed, then claims chunks of
 * waiting items and sends each through the route as one exchange. The exchange's body after the route is the data
 * handed to the downstream jobs; an exchange that ends with an exception marks the item failed. Each chunk's
 * results are committed together, while the next chunk is claimed on another connection.
 */
public final class JobConsumer extends ScheduledPollConsumer {

    /** Headers each item's exchange carries (see {@link JobConstants}). */
    public static final String JOB = JobConstants.JOB;
    public static final String RUN_ID = JobConstants.RUN_ID;
    public static final String ITEM_KEY = JobConstants.ITEM_KEY;
    public static final String ITEM_VERSION = JobConstants.ITEM_VERSION;
    public static final String ATTEMPT = JobConstants.ATTEMPT;
    public static final String DEFER = JobConstants.DEFER;
    /** When the item's transient failures began, on an item put back for one. */
    public static final String FAILING_SINCE = JobConstants.FAILING_SINCE;

    private static final Logger LOG = LoggerFactory.getLogger(JobConsumer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AtomicBoolean running = new AtomicBoolean();
    /** {@code job.<name>.http.response-timeout}, read at each run's start; null when the job has none. */
    private volatile Duration httpResponseTimeout;
    /** Whether the Quartz trigger was scheduled: a consumer created but never started has none to unschedule. */
    private volatile boolean scheduled;
    private ExecutorService catchUp;
    /** Claims the next chunk while the current one commits. */
    private ExecutorService claims;
    private volatile Future<?> missedFiresChecked =
            CompletableFuture.completedFuture(null);

    /** What {@link #process} answers for an item cut off by a stop: nothing is written for it. */
    private static final JobStore.Result INTERRUPTED = new JobStore.Result(null, JobStore.Outcome.DEFERRED, null,
            null, 0);

    JobConsumer(JobEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
    }

    @Override
    public JobEndpoint getEndpoint() {
        return (JobEndpoint) super.getEndpoint();
    }

    @Override
    protected void doStart() throws Exception {
        getEndpoint().getComponent().registry().declare(job(), getEndpoint().getUpstream());
        getEndpoint().getComponent().registry().register(this);
        claims = getEndpoint().getCamelContext().getExecutorServiceManager()
                .newSingleThreadExecutor(this, "claim-" + job());
        super.doStart();
        scheduled = true;
        // a job that has not fired yet is healthy: Camel's consumer check would report a daily job down ("has not
        // yet polled") until its first fire
        forceConsumerAsReady();
        if (getEndpoint().getCron() != null && getEndpoint().getComponent().registry().firstStartOf(job())) {
            catchUp = getEndpoint().getCamelContext().getExecutorServiceManager()
                    .newSingleThreadExecutor(this, "catch-up-" + job());
            missedFiresChecked = catchUp.submit(this::catchUpMissedFires);
        }
    }

    /**
     * Fires that fell while the factory was down: counted from the job's last run to now on its cron, then either
     * caught up by one run ({@code job.<name>.misfire = run-once}, the default) or recorded as one skipped run
     * ({@code skip}). Quartz cannot tell: its in-memory schedule starts afresh with the process.
     */
    private void catchUpMissedFires() {
        try {
            Instant last = store().lastRunAt(job()).orElse(null);
            if (last == null || isPaused()) {
                return;
            }
            Instant now = clock().instant();
            CronExpression cron = new CronExpression(getEndpoint().getCron());
            int missed = 0;
            Date next = cron.getNextValidTimeAfter(Date.from(last));
            while (next != null && !next.toInstant().isAfter(now) && missed < 100_000) {
                missed++;
                next = cron.getNextValidTimeAfter(next);
            }
            if (missed == 0) {
                return;
            }
            String policy = getEndpoint().getCamelContext().getPropertiesComponent()
                    .resolveProperty("job." + job() + ".misfire").map(String::trim).orElse("run-once");
            String note = missed + (missed == 1 ? " fire" : " fires") + " missed since " + last;
            if (policy.equals("skip")) {
                store().recordSkipped(job(), Trigger.CATCH_UP, getEndpoint().getComponent().node(),
                        note + "; skipped (job." + job() + ".misfire = skip)");
                LOG.warn("Job {}: {}; skipped by policy", job(), note);
            } else {
                LOG.warn("Job {}: {}; running once to catch up", job(), note);
                runOnce(Trigger.CATCH_UP, note + "; caught up by one run");
            }
        } catch (Exception e) {
            LOG.error("Job {}: cannot look for missed fires: {}", job(), Secrets.mask(e.getMessage()), e);
        }
    }

    /** Done once the look for fires missed while the factory was down (and any catch-up run) has ended. */
    public Future<?> missedFiresChecked() {
        return missedFiresChecked;
    }

    private Clock clock() {
        Clock clock = getEndpoint().getCamelContext().getRegistry().lookupByNameAndType("clock",
                Clock.class);
        return clock != null ? clock : Clock.systemUTC();
    }

    @Override
    protected void doStop() throws Exception {
        if (catchUp != null) {
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdownNow(catchUp);
            catchUp = null;
        }
        // camel-quartz's scheduler fails with a NullPointerException when asked to unschedule a trigger it never
        // made (validate creates the routes and starts none; a start that failed stops the routes it did not start)
        if (scheduled) {
            super.doStop();
            scheduled = false;
        }
        if (claims != null) {
            // a claim under way ends; its items stay claimed for the next run
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdown(claims);
            claims = null;
        }
        getEndpoint().getComponent().registry().unregister(this);
    }

    @Override
    protected int poll() throws Exception {
        runOnce(Trigger.SCHEDULE);
        return 0;
    }

    private String job() {
        return getEndpoint().getJob();
    }

    private JobStore store() {
        return getEndpoint().getComponent().store();
    }

    private boolean isPaused() {
        return getEndpoint().getCamelContext().getPropertiesComponent()
                .resolveProperty("job." + job() + ".paused").map(v -> Boolean.parseBoolean(v.trim()))
                .orElse(false);
    }

    /** Whether a run of this job is going in this process. */
    public boolean isRunning() {
        return running.get();
    }

    /** One run; returns its id, or -1 when the fire was skipped (paused, or another run going). */
    public long runOnce(Trigger trigger) {
        return runOnce(trigger, null);
    }

    private long runOnce(Trigger trigger, String note) {
        String node = getEndpoint().getComponent().node();
        try {
            if (isPaused()) {
                // one skipped run counts the fires of the whole pause
                store().recordSkipped(job(), trigger, node, "paused (job." + job() + ".paused = true)");
                LOG.debug("Job {} is paused (job.{}.paused); fire ignored", job(), job());
                return -1;
            }
            if (!running.compareAndSet(false, true)) {
                store().recordSkipped(job(), trigger, node, "a run of " + job() + " was still going");
                LOG.info("Job {}: fire skipped, a run is still going", job());
                return -1;
            }
        } catch (SQLException e) {
            LOG.error("Job {}: cannot record a skipped fire: {}", job(), Secrets.mask(e.getMessage()));
            return -1;
        }
        try {
            Unfinished late = getEndpoint().getComponent().registry().unfinished(job());
            if (late != null) {
                store().finishRun(late.runId(), late.status(), JobStore.cut((late.summary() == null ? ""
                        : late.summary() + "; ") + "its end was recorded late: the database could not be written"
                        + " when the run ended", 2000));
                getEndpoint().getComponent().registry().recorded(job(), late);
                LOG.info("Job {}: run {} recorded as {} now that the database answers", job(), late.runId(),
                        late.status().db());
            }
            httpResponseTimeout = getEndpoint().getCamelContext().getPropertiesComponent()
                    .resolveProperty("job." + job() + ".http.response-timeout").map(String::trim)
                    .filter(v -> !v.isEmpty()).map(v -> Duration.ofMillis(TimeUtils.toMilliSeconds(v))).orElse(null);
            long runId = store().startRun(job(), trigger, node, configSnapshot());
            if (runId < 0) {
                LOG.info("Job {}: fire skipped, a run is going on another node", job());
                lookForSilentNode();
                return -1;
            }
            getEndpoint().getComponent().registry().unblocked(job());
            execute(runId, note);
            return runId;
        } catch (SQLException e) {
            LOG.error("Job {}: run could not be recorded: {}", job(), Secrets.mask(e.getMessage()));
            return -1;
        } finally {
            running.set(false);
        }
    }

    /**
     * A run that holds the job while its node has been silent for {@code factory.node.stale-after} (by the database's
     * clock) blocks the job on every node until someone acts: say so once, and show it in health.
     */
    private void lookForSilentNode() throws SQLException {
        Duration staleAfter = Duration.ofMillis(TimeUtils.toMilliSeconds(getEndpoint().getCamelContext()
                .getPropertiesComponent().resolveProperty("factory.node.stale-after").map(String::trim)
                .filter(v -> !v.isEmpty()).orElse("1m")));
        JobRegistry registry = getEndpoint().getComponent().registry();
        Optional<JobStore.RunningRun> holder = store().runningRun(job());
        if (holder.isEmpty() || holder.get().silentFor().compareTo(staleAfter) <= 0) {
            registry.unblocked(job());
            return;
        }
        JobStore.RunningRun run = holder.get();
        if (registry.blockedBy(job(), run)) {
            LOG.warn("Job {} is blocked: run {} of node {} is still marked running, and that node has not been seen"
                    + " for {}; mark the run abandoned once the node is known to be gone", job(), run.runId(),
                    run.node(), TimeUtils.printDuration(run.silentFor().toMillis()));
            RunListener listener = getEndpoint().getComponent().getRunListener();
            if (listener != null) {
                listener.jobBlocked(job(), run);
            }
        }
    }

    private void execute(long runId, String note) {
        JobStore store = store();
        int chunk = getEndpoint().getChunkSize();
        int done = 0;
        int failed = 0;
        int deferred = 0;
        CompletableFuture<JobStore.Claim> nextClaim = null;
        RunStatus status;
        String summary;
        try {
            int reclaimed = store.reclaim(job(), runId);
            if (reclaimed > 0) {
                LOG.info("Job {} run {}: took back {} items an earlier run left unfinished", job(), runId, reclaimed);
            }
            int kept = 0;
            boolean takenBack = reclaimed > 0;
            Instant runStart = clock().instant();
            while (kept == 0) {
                // the items taken back first, then chunks claimed from the inbox
                List<JobStore.Item> items = takenBack ? store.claimedBy(job(), runId, chunk) : List.of();
                if (items.isEmpty() && getEndpoint().isChunkTransaction()) {
                    ChunkOutcome outcome = runChunks(runId, chunk, runStart);
                    if (outcome == null) {
                        return;
                    }
                    done += outcome.done();
                    failed += outcome.failed();
                    deferred += outcome.deferred();
                    kept += outcome.kept();
                    break;
                }
                if (items.isEmpty()) {
                    takenBack = false;
                    // items put back during this run wait for the next one
                    JobStore.Claim claim = nextClaim != null ? join(nextClaim)
                            : store.claim(job(), runId, chunk, runStart);
                    nextClaim = null;
                    if (claim.taken() == 0) {
                        break;
                    }
                    items = claim.items();
                    if (items.isEmpty()) {
                        // every item taken had been acted on by this job already
                        continue;
                    }
                }
                List<JobStore.Result> results = new ArrayList<>(items.size());
                for (JobStore.Item item : items) {
                    if (!isRunAllowed()) {
                        // stopping: nothing of this chunk is committed; its items stay claimed for the next run
                        close(runId, RunStatus.ABANDONED, "stopped during the run; " + items.size()
                                + " claimed items left for the next run");
                        return;
                    }
                    JobStore.Result result = process(runId, item);
                    if (result == INTERRUPTED) {
                        close(runId, RunStatus.ABANDONED, "stopped during an item's retry wait; " + items.size()
                                + " claimed items left for the next run");
                        return;
                    }
                    if (result != null) {
                        results.add(result);
                    } else {
                        // the failure could not be recorded: the item stays claimed, for the next run
                        kept++;
                    }
                }
                if (!takenBack && kept == 0) {
                    // the next chunk is claimed on another connection while this one commits: the two
                    // transactions touch different rows, and the database works on both at once
                    nextClaim = claimAhead(runId, chunk, runStart);
                }
                store.complete(job(), runId, results, getEndpoint().getComponent().registry().downstreamOf(job()),
                        kept);
                for (JobStore.Result r : results) {
                    switch (r.outcome()) {
                        case DONE -> done++;
                        case FAILED -> failed++;
                        case DEFERRED -> deferred++;
                    }
                }
            }
            if (kept > 0) {
                // the error table cannot be written (the database is likely failing): stop taking items
                status = RunStatus.FAILED;
                summary = kept + " failures could not be recorded; those items stay claimed for the next run";
            } else {
                status = RunStatus.SUCCEEDED;
                summary = failed == 0 ? note : (note == null ? "" : note + "; ") + failed + " items failed";
            }
            if (!close(runId, status, summary)) {
                return;
            }
            if (done + failed + deferred > 0) {
                LOG.info("Job {} run {}: {} items done, {} failed, {} left for the next run", job(), runId, done,
                        failed, deferred);
            }
        } catch (SQLException | RuntimeException e) {
            if (nextClaim != null) {
                // let a claim under way end before the run does: its items stay claimed for the next run
                nextClaim.exceptionally(ignored -> null).join();
            }
            LOG.error("Job {} run {} failed: {}", job(), runId, Secrets.mask(e.getMessage()), e);
            status = RunStatus.FAILED;
            summary = Secrets.mask(String.valueOf(e.getMessage()));
            if (!close(runId, status, summary)) {
                return;
            }
        }
        RunListener listener = getEndpoint().getComponent().getRunListener();
        if (listener != null) {
            try {
                listener.runEnded(job(), runId, status, done, failed, summary);
            } catch (RuntimeException e) {
                LOG.error("Job {} run {}: the run's notifications failed: {}", job(), runId,
                        Secrets.mask(e.getMessage()), e);
            }
        }
    }

    /** What chunks in their own transactions came to. */
    private record ChunkOutcome(int taken, int done, int failed, int deferred, int kept) {

        static ChunkOutcome of(List<JobStore.Result> results, int kept) {
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
            return new ChunkOutcome(results.size() + kept, done, failed, deferred, kept);
        }

        ChunkOutcome plus(ChunkOutcome other) {
            return new ChunkOutcome(taken + other.taken, done + other.done, failed + other.failed,
                    deferred + other.deferred, kept + other.kept);
        }
    }

    /**
     * The inbox's chunks, each in one transaction: taken, run, and its results written and committed together. A
     * chunk's commit goes on the claim thread while the next chunk is taken and run, so the database writes one
     * chunk while the route runs the next. Stops at the first chunk whose failures could not be recorded. Returns
     * null when the run stopped midway: the chunk being run is rolled back and its items are waiting again.
     */
    private ChunkOutcome runChunks(long runId, int limit, Instant runStart) throws SQLException {
        ChunkOutcome total = new ChunkOutcome(0, 0, 0, 0, 0);
        CompletableFuture<ChunkOutcome> committing = null;
        try {
            while (true) {
                if (committing != null && !store().takesWhileCommitting()) {
                    total = total.plus(join(committing));
                    committing = null;
                }
                JobStore.OpenChunk open = store().openChunk(job(), limit, runStart);
                boolean handedOver = false;
                try {
                    if (open.taken() == 0) {
                        break;
                    }
                    List<JobStore.Result> results = new ArrayList<>(open.items().size());
                    List<JobStore.Item> kept = new ArrayList<>();
                    for (JobStore.Item item : open.items()) {
                        if (committing != null && committing.isCompletedExceptionally()) {
                            // the chunk before failed to commit: run no more items on top of it; this throws its
                            // failure, and this chunk is rolled back
                            join(committing);
                        }
                        JobStore.Result result = isRunAllowed() ? process(runId, item) : INTERRUPTED;
                        if (result == INTERRUPTED) {
                            if (committing != null) {
                                join(committing);
                                committing = null;
                            }
                            close(runId, RunStatus.ABANDONED, "stopped during the run; the chunk's "
                                    + open.items().size() + " items are waiting again");
                            return null;
                        }
                        if (result == null) {
                            // the failure could not be recorded: the item goes back to the inbox
                            kept.add(item);
                        } else {
                            results.add(result);
                        }
                    }
                    if (committing != null) {
                        total = total.plus(join(committing));
                        committing = null;
                    }
                    committing = commitAhead(open, runId, results, kept);
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
            }
            if (committing != null) {
                total = total.plus(join(committing));
                committing = null;
            }
            return total;
        } finally {
            if (committing != null) {
                // the run failed while a chunk was committing: let that commit end before the run does
                committing.exceptionally(ignored -> null).join();
            }
        }
    }

    /** Commits a chunk on the claim thread, or on this one when the route is stopping; closes it either way. */
    private CompletableFuture<ChunkOutcome> commitAhead(JobStore.OpenChunk open, long runId,
            List<JobStore.Result> results, List<JobStore.Item> kept) {
        Supplier<ChunkOutcome> commit = () -> {
            try (open) {
                store().commitChunk(open, job(), runId, results,
                        getEndpoint().getComponent().registry().downstreamOf(job()), kept);
                return ChunkOutcome.of(results, kept.size());
            } catch (SQLException e) {
                throw new CompletionException(e);
            }
        };
        ExecutorService executor = claims;
        if (executor != null) {
            try {
                return CompletableFuture.supplyAsync(commit, executor);
            } catch (RejectedExecutionException stopping) {
                // the executor is gone: commit here
            }
        }
        try {
            return CompletableFuture.completedFuture(commit.get());
        } catch (CompletionException e) {
            return CompletableFuture.failedFuture(e.getCause());
        }
    }

    /** The next chunk's claim on the claim thread; null when the executor is gone (the route is stopping). */
    private CompletableFuture<JobStore.Claim> claimAhead(long runId, int chunk,
            Instant runStart) {
        ExecutorService executor = claims;
        if (executor == null || !isRunAllowed()) {
            return null;
        }
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return store().claim(job(), runId, chunk, runStart);
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

    /** A run whose end could not be written (the database failed); written at the job's next fire. */
    record Unfinished(long runId, RunStatus status, String summary) {
    }

    /**
     * Ends the run in {@code job_run}. When the database cannot be written, the run is ended at the job's next
     * fire instead, so that it does not stay running and block the job until the factory restarts.
     */
    private boolean close(long runId, RunStatus status, String summary) {
        try {
            store().finishRun(runId, status, summary);
            return true;
        } catch (SQLException e) {
            getEndpoint().getComponent().registry().leaveUnfinished(job(), new Unfinished(runId, status, summary));
            LOG.error("Job {} run {}: cannot record its end ({}); it is recorded at the job's next fire", job(), runId,
                    Secrets.mask(e.getMessage()));
            return false;
        }
    }

    private JobStore.Result process(long runId, JobStore.Item item) {
        Exchange exchange = createExchange(false);
        exchange.getMessage().setBody(item.data());
        exchange.getMessage().setHeader(JOB, job());
        exchange.getMessage().setHeader(RUN_ID, runId);
        exchange.getMessage().setHeader(ITEM_KEY, item.key());
        exchange.getMessage().setHeader(ITEM_VERSION, item.version());
        exchange.getMessage().setHeader(ATTEMPT, item.attempts());
        if (item.failingSince() != null) {
            exchange.getMessage().setHeader(FAILING_SINCE, item.failingSince());
        }
        CurrentItem.start(httpResponseTimeout);
        try {
            getProcessor().process(exchange);
        } catch (Exception e) {
            exchange.setException(e);
        } finally {
            CurrentItem.end();
        }
        if (Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.INTERRUPTED, Boolean.class))) {
            releaseExchange(exchange, false);
            return INTERRUPTED;
        }
        Throwable error = exchange.getException();
        if (error == null && (Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.RECORDED, Boolean.class))
                || ExchangeHelper.isFailureHandled(exchange))) {
            // a dead-letter channel took the failure; a caught exception without that is from an attempt that a
            // later redelivery made good
            error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        int retries = Math.max(0, exchange.getProperty(FailureRecorder.ATTEMPTS, 1, Integer.class) - 1);
        try {
            if (error != null) {
                FailureRecorder recorder = getEndpoint().getComponent().getFailureRecorder();
                boolean recorded = Boolean.TRUE.equals(exchange.getProperty(FailureRecorder.RECORDED, Boolean.class))
                        || recorder == null || recorder.recordFailure(exchange, error);
                if (!recorded) {
                    return null;
                }
                String message = Secrets.mask(error.getClass().getSimpleName() + ": " + error.getMessage());
                boolean later = recorder != null && recorder.isTransient(error);
                return later ? putBack(item, message, retries)
                        : new JobStore.Result(item, JobStore.Outcome.FAILED, item.data(), message, retries);
            }
            if (Boolean.TRUE.equals(exchange.getProperty(DEFER, Boolean.class))
                    || Boolean.TRUE.equals(exchange.getMessage().getHeader(DEFER, Boolean.class))) {
                return new JobStore.Result(item, JobStore.Outcome.DEFERRED, item.data(), null, retries);
            }
            return new JobStore.Result(item, JobStore.Outcome.DONE, bodyAsData(exchange), null, retries);
        } finally {
            releaseExchange(exchange, false);
        }
    }

    /**
     * An item whose transient failure outlasted the run's retries waits for a later run, as {@link RetryAcrossRuns}
     * says: longer after each attempt, and once its failures have lasted {@code retry.give-up-after} it is failed, for
     * a redrive, instead of being tried for ever.
     */
    private JobStore.Result putBack(JobStore.Item item, String message, int retries) {
        Instant now = clock().instant();
        Instant since = item.failingSince() != null ? item.failingSince() : now;
        RetryAcrossRuns retry = new RetryAcrossRuns(getEndpoint().getCamelContext().getPropertiesComponent());
        Optional<Instant> next = retry.nextAttempt(job(), item.attempts(), since, now);
        if (next.isEmpty()) {
            return new JobStore.Result(item, JobStore.Outcome.FAILED, item.data(), "given up after "
                    + TimeUtils.printDuration(retry.giveUpAfter(job()).toMillis()) + " of transient failures since "
                    + since + ": " + message, retries);
        }
        JobStore.Item waiting = new JobStore.Item(item.key(), item.version(), item.data(), item.attempts(), since);
        return new JobStore.Result(waiting, JobStore.Outcome.DEFERRED, item.data(), message, retries, next.get());
    }

    private static String bodyAsData(Exchange exchange) {
        Object body = exchange.getMessage().getBody();
        if (body == null || body instanceof String) {
            return (String) body;
        }
        if (body instanceof Map || body instanceof List) {
            try {
                return JSON.writeValueAsString(body);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("The body of job item " + exchange.getMessage().getHeader(ITEM_KEY)
                        + " cannot be written as JSON: " + e.getMessage(), e);
            }
        }
        return exchange.getMessage().getBody(String.class);
    }

    /** The configuration the run goes with: the job's own keys, secrets masked, as JSON. */
    private String configSnapshot() {
        var properties = getEndpoint().getCamelContext().getPropertiesComponent();
        Map<String, String> values = new TreeMap<>();
        String prefix = "job." + job() + ".";
        properties.loadProperties(k -> k.startsWith(prefix)).stringPropertyNames().forEach(k -> values.put(k,
                ConfigValues.display(k, properties.resolveProperty(k).orElse(""), false)));
        try {
            return JSON.writeValueAsString(values);
        } catch (JsonProcessingException e) {
            return null;
        }
    }
}
