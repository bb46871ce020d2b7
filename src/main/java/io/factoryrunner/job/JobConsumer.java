package io.factoryrunner.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.config.ConfigValues;
import io.factoryrunner.logging.Secrets;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.ScheduledPollConsumer;
import org.apache.camel.util.TimeUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Runs a job: on each fire it opens a run, has {@link ChunkLoop} take the run's items in chunks, sends each item
 * through the route as one exchange, and ends the run. What an exchange comes to (done, failed, deferred, put back
 * for a later run) is {@link ItemOutcomes}'s to say; fires missed while the factory was down are counted by
 * {@link MissedFires}. Up to the endpoint's {@code maxRuns} runs of the job go at once, on all nodes together; in a
 * cluster, where Quartz hands a job's fires to one node, a node with no run of the job joins the runs going elsewhere
 * while items wait for them.
 */
public final class JobConsumer extends ScheduledPollConsumer {

    /** Headers each item's exchange carries; the names are {@link JobConstants}'s, kept here for older callers. */
    public static final String JOB = JobConstants.JOB;
    public static final String RUN_ID = JobConstants.RUN_ID;
    public static final String ITEM_KEY = JobConstants.ITEM_KEY;
    public static final String ITEM_VERSION = JobConstants.ITEM_VERSION;
    public static final String ATTEMPT = JobConstants.ATTEMPT;
    public static final String DEFER = JobConstants.DEFER;
    public static final String FAILING_SINCE = JobConstants.FAILING_SINCE;

    private static final Logger LOG = LoggerFactory.getLogger(JobConsumer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The runs of this job going in this process. */
    private final AtomicInteger running = new AtomicInteger();
    private Clock clock;
    private ItemOutcomes outcomes;
    /** {@code job.<name>.http.response-timeout}, read at each run's start; null when the job has none. */
    private volatile Duration httpResponseTimeout;
    /** Whether the Quartz trigger was scheduled: a consumer created but never started has none to unschedule. */
    private volatile boolean scheduled;
    private ExecutorService catchUp;
    /** Claims each run's next chunk while its current one commits. */
    private ExecutorService claims;
    /** In a cluster, looks for runs of the job on other nodes to join, and runs the joined run; null otherwise. */
    private ScheduledExecutorService joining;
    /** The thread a run that follows the job's upstream starts on ({@code follow: true}); null otherwise. */
    private ExecutorService following;
    /** Set from a start of a run that follows the upstream until that run has ended (or did not start). */
    private final AtomicBoolean followStarting = new AtomicBoolean();
    /** The pool a chunk's items go through the route on, with concurrency above 1; null otherwise. */
    private ExecutorService items;
    private volatile Future<?> missedFiresChecked = CompletableFuture.completedFuture(null);

    JobConsumer(JobEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
    }

    @Override
    public JobEndpoint getEndpoint() {
        return (JobEndpoint) super.getEndpoint();
    }

    @Override
    protected void doStart() throws Exception {
        clock = getEndpoint().getComponent().getClock();
        outcomes = new ItemOutcomes(job(), getEndpoint().getComponent().getFailureRecorder(),
                new RetryAcrossRuns(getEndpoint().getCamelContext().getPropertiesComponent()), clock);
        getEndpoint().getComponent().registry().declare(job(), getEndpoint().getUpstream());
        declareFeed();
        getEndpoint().getComponent().registry().register(this);
        int maxRuns = getEndpoint().getMaxRuns();
        // a run claims or commits one chunk at a time on the claim thread; with transaction=chunk it also takes the
        // next chunk there and writes a chunk while the one before commits (maxRuns is then 1)
        int claimThreads = getEndpoint().isChunkTransaction() ? 3 : maxRuns;
        claims = claimThreads == 1 ? getEndpoint().getCamelContext().getExecutorServiceManager()
                .newSingleThreadExecutor(this, "claim-" + job())
                : getEndpoint().getCamelContext().getExecutorServiceManager()
                        .newFixedThreadPool(this, "claim-" + job(), claimThreads);
        if (getEndpoint().getConcurrency() > 1) {
            // each run of the job on this node has concurrency items in the route at once
            items = getEndpoint().getCamelContext().getExecutorServiceManager()
                    .newFixedThreadPool(this, "items-" + job(), getEndpoint().getConcurrency() * maxRuns);
        }
        if (getEndpoint().isFollow()) {
            following = getEndpoint().getCamelContext().getExecutorServiceManager()
                    .newSingleThreadExecutor(this, "follow-" + job());
            followStarting.set(false);
        }
        Optional<Duration> joinEvery = joinInterval();
        if (joinEvery.isPresent()) {
            joining = getEndpoint().getCamelContext().getExecutorServiceManager()
                    .newSingleThreadScheduledExecutor(this, "join-" + job());
            long every = joinEvery.get().toMillis();
            joining.scheduleWithFixedDelay(this::joinRunsGoing, every, every, TimeUnit.MILLISECONDS);
        }
        super.doStart();
        scheduled = true;
        // a job that has not fired yet is healthy: Camel's consumer check would report a daily job down ("has not
        // yet polled") until its first fire
        forceConsumerAsReady();
        // a node joining a cluster that runs the job's schedule has missed nothing: the other nodes took the fires
        boolean clusterKeptSchedule = getScheduler() instanceof JobTriggerScheduler trigger
                && trigger.keptClusterSchedule();
        if (getEndpoint().getCron() != null && getEndpoint().getComponent().registry().firstStartOf(job())
                && !clusterKeptSchedule) {
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
            int missed = MissedFires.between(getEndpoint().getCron(), last, clock.instant());
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

    @Override
    protected void doStop() throws Exception {
        if (catchUp != null) {
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdownNow(catchUp);
            catchUp = null;
        }
        if (following != null) {
            // a run under way that follows the upstream ends as the route stops, like a fired one
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdown(following);
            following = null;
        }
        if (joining != null) {
            // no more looks; a joined run under way ends as the route stops, like a fired one
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdown(joining);
            joining = null;
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
        if (items != null) {
            // items under way end; the chunk is not committed and its items wait for the next run
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdown(items);
            items = null;
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

    /**
     * Starts the job's feed from its upstream (or drops a feed from an earlier upstream). When the database does not
     * answer, the upstream's next run gives the job its feed before it writes anything.
     */
    private void declareFeed() {
        try {
            store().declareFeed(job(), getEndpoint().getUpstream());
        } catch (SQLException e) {
            LOG.warn("Job {}: could not record its feed from {} now ({}); the upstream's next run records it", job(),
                    getEndpoint().getUpstream(), e.getMessage());
        }
    }

    private JobStore store() {
        return getEndpoint().getComponent().store();
    }

    private boolean isPaused() {
        return getEndpoint().getCamelContext().getPropertiesComponent()
                .resolveProperty("job." + job() + ".paused").map(v -> Boolean.parseBoolean(v.trim()))
                .orElse(false);
    }

    /**
     * A run of the upstream in this process committed a chunk ({@code follow: true}): starts a run of this job beside
     * it, on the job's follow thread, unless one is going here already. Nothing is recorded when it cannot start: the
     * job is paused, or runs of it hold every place ({@code maxRuns}).
     */
    void follow() {
        ExecutorService executor = following;
        // one start at a time: the upstream's next chunks, committed before it has begun, would queue more, each to
        // run once the one before has ended, finding nothing
        if (executor == null || running.get() > 0 || !isRunAllowed() || !followStarting.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(() -> {
                try {
                    // a start that waited while the route stopped starts nothing
                    if (isRunAllowed()) {
                        runOnce(Trigger.FOLLOW);
                    }
                } finally {
                    followStarting.set(false);
                }
            });
        } catch (RejectedExecutionException stopping) {
            // the route is stopping: no run starts
            followStarting.set(false);
        }
    }

    /** Whether a run of this job is going in this process. */
    public boolean isRunning() {
        return running.get() > 0;
    }

    /** One run; returns its id, or -1 when the fire was skipped (paused, or another run going). */
    public long runOnce(Trigger trigger) {
        return runOnce(trigger, (String) null);
    }

    /** One run; {@code started} hears its id as soon as it has begun. Returns its id, or -1 when skipped. */
    public long runOnce(Trigger trigger, LongConsumer started) {
        return runOnce(trigger, null, started);
    }

    private long runOnce(Trigger trigger, String note) {
        return runOnce(trigger, note, id -> { });
    }

    private long runOnce(Trigger trigger, String note, LongConsumer started) {
        String node = getEndpoint().getComponent().node();
        int maxRuns = getEndpoint().getMaxRuns();
        boolean join = trigger == Trigger.JOIN;
        // a run that follows the upstream's is started by that run, not asked for: where none can start, none is
        boolean follow = trigger == Trigger.FOLLOW;
        try {
            if (isPaused()) {
                if (join || follow) {
                    return -1;
                }
                // one skipped run counts the fires of the whole pause
                store().recordSkipped(job(), trigger, node, "paused (job." + job() + ".paused = true)");
                LOG.debug("Job {} is paused (job.{}.paused); fire ignored", job(), job());
                return -1;
            }
            // a node joins, or follows the upstream, only while it has no run of the job going
            if ((join || follow) && !running.compareAndSet(0, 1)) {
                return -1;
            }
            if (!join && !follow && running.incrementAndGet() > maxRuns) {
                running.decrementAndGet();
                store().recordSkipped(job(), trigger, node, JobStore.runsGoing(job(), maxRuns));
                LOG.info("Job {}: fire skipped, {}", job(), JobStore.runsGoing(job(), maxRuns));
                return -1;
            }
        } catch (SQLException e) {
            LOG.error("Job {}: cannot record a skipped fire: {}", job(), Secrets.mask(e.getMessage()));
            return -1;
        }
        try {
            getEndpoint().getComponent().registry().recordLate(job(), store());
            httpResponseTimeout = getEndpoint().getCamelContext().getPropertiesComponent()
                    .resolveProperty("job." + job() + ".http.response-timeout").map(String::trim)
                    .filter(v -> !v.isEmpty()).map(v -> Duration.ofMillis(TimeUtils.toMilliSeconds(v))).orElse(null);
            long runId = join ? store().joinRun(job(), node, configSnapshot(), maxRuns)
                    : follow ? store().followRun(job(), node, configSnapshot(), maxRuns)
                    : store().startRun(job(), trigger, node, configSnapshot(), maxRuns);
            if (runId < 0) {
                if (!join && !follow) {
                    LOG.info("Job {}: fire skipped, {}", job(), JobStore.runsGoing(job(), maxRuns));
                    lookForSilentNode();
                }
                return -1;
            }
            getEndpoint().getComponent().registry().unblocked(job());
            if (join) {
                LOG.info("Job {}: run {} joins the runs of the job going on other nodes, to share their items", job(),
                        runId);
            }
            if (maxRuns > 1) {
                takeOverLostRuns(runId);
            }
            started.accept(runId);
            try {
                execute(runId, note);
            } finally {
                // the runs that follow this job look whether it is still going
                getEndpoint().getComponent().registry().moved(job());
            }
            return runId;
        } catch (SQLException e) {
            LOG.error("Job {}: run could not be recorded: {}", job(), Secrets.mask(e.getMessage()));
            return -1;
        } finally {
            running.decrementAndGet();
        }
    }

    /**
     * In a cluster, every {@code factory.cluster.join-interval}: while items wait for the job and another node's runs
     * of it are going, fewer than {@code maxRuns}, a node with none of its own starts one beside them (trigger
     * {@code join}), on this thread. Quartz hands a job's fires to one node, mostly the one that fired it last; this
     * is what spreads a job's runs over the nodes.
     */
    private void joinRunsGoing() {
        try {
            if (running.get() > 0 || !isRunAllowed() || isPaused()) {
                return;
            }
            String node = getEndpoint().getComponent().node();
            List<JobStore.RunningRun> going = store().runningRuns(job());
            if (going.isEmpty() || going.size() >= getEndpoint().getMaxRuns()
                    || going.stream().anyMatch(r -> r.node().equals(node))
                    || !store().hasWaiting(job(), clock.instant())) {
                return;
            }
            runOnce(Trigger.JOIN);
        } catch (SQLException | RuntimeException e) {
            // a throw would end the looks for good
            LOG.warn("Job {}: cannot look for runs to join: {}", job(), Secrets.mask(e.getMessage()));
        }
    }

    /** How often a node looks for runs of this job to join: in a cluster, when the job allows several runs. */
    private Optional<Duration> joinInterval() {
        if (getEndpoint().getMaxRuns() == 1 || clusterNodeTimeout().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofMillis(TimeUtils.toMilliSeconds(getEndpoint().getCamelContext()
                .getPropertiesComponent().resolveProperty("factory.cluster.join-interval").map(String::trim)
                .filter(v -> !v.isEmpty()).orElse("5s"))));
    }

    /**
     * A fire skipped because runs hold every place of the job: a run whose node has been silent for longer than
     * {@code factory.cluster.node-timeout} is declared lost (in a cluster); otherwise one whose node has been silent
     * for {@code factory.node.stale-after} (by the database's clock) blocks the job on every node until someone acts:
     * say so once, and show it in health. Silence counts only while this node could see the database itself: right
     * after an outage every node's heartbeat is old.
     */
    private void lookForSilentNode() throws SQLException {
        Duration staleAfter = Duration.ofMillis(TimeUtils.toMilliSeconds(getEndpoint().getCamelContext()
                .getPropertiesComponent().resolveProperty("factory.node.stale-after").map(String::trim)
                .filter(v -> !v.isEmpty()).orElse("1m")));
        JobRegistry registry = getEndpoint().getComponent().registry();
        List<JobStore.RunningRun> going = store().runningRuns(job());
        if (takeOverLostRuns(going, -1)) {
            registry.unblocked(job());
            return;
        }
        Optional<JobStore.RunningRun> silent = going.stream()
                .filter(r -> r.silentFor().compareTo(staleAfter) > 0).findFirst();
        if (silent.isEmpty() || !getEndpoint().getComponent().seenDatabaseFor(staleAfter)) {
            registry.unblocked(job());
            return;
        }
        JobStore.RunningRun run = silent.get();
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

    /**
     * A run just started beside others of the job: those of nodes lost in a cluster are declared abandoned first, so
     * that its take-back of unfinished items gets theirs (it never gets the items of a run still going).
     */
    private void takeOverLostRuns(long runId) {
        if (clusterNodeTimeout().isEmpty()) {
            return;
        }
        try {
            takeOverLostRuns(store().runningRuns(job()), runId);
        } catch (SQLException e) {
            // the run goes on without their items; a later run or a skipped fire looks again
            LOG.warn("Job {} run {}: cannot look for runs of lost nodes beside it: {}", job(), runId,
                    Secrets.mask(e.getMessage()));
        }
    }

    /** In a cluster, declares lost each of {@code going} but {@code except} whose node is silent past node-timeout. */
    private boolean takeOverLostRuns(List<JobStore.RunningRun> going, long except) throws SQLException {
        Optional<Duration> nodeTimeout = clusterNodeTimeout();
        boolean tookOver = false;
        for (JobStore.RunningRun run : going) {
            if (nodeTimeout.isPresent() && run.runId() != except
                    && run.silentFor().compareTo(nodeTimeout.get()) > 0
                    && getEndpoint().getComponent().seenDatabaseFor(nodeTimeout.get()) && takeOver(run)) {
                tookOver = true;
            }
        }
        return tookOver;
    }

    /** In a cluster, how long a node may be silent before another declares it lost; empty outside a cluster. */
    private Optional<Duration> clusterNodeTimeout() {
        var properties = getEndpoint().getCamelContext().getPropertiesComponent();
        if (!properties.resolveProperty("factory.cluster.enabled").map(v -> Boolean.parseBoolean(v.trim()))
                .orElse(false)) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofMillis(TimeUtils.toMilliSeconds(properties
                .resolveProperty("factory.cluster.node-timeout").map(String::trim).filter(v -> !v.isEmpty())
                .orElse("30s"))));
    }

    /**
     * Declares the lost node's run abandoned: the job's next fire (on any node) starts a run that takes the lost
     * run's claimed items back. Told once to the listeners.
     */
    private boolean takeOver(JobStore.RunningRun run) throws SQLException {
        String node = getEndpoint().getComponent().node();
        if (!store().abandonLostRun(run, node)) {
            return false;
        }
        LOG.warn("Job {}: node {} has not been seen for {}, longer than factory.cluster.node-timeout; run {} it held"
                + " is declared abandoned and the job's next run takes its items back", job(), run.node(),
                TimeUtils.printDuration(run.silentFor().toMillis()), run.runId());
        RunListener listener = getEndpoint().getComponent().getRunListener();
        if (listener != null) {
            listener.runTakenOver(job(), run);
        }
        return true;
    }

    /**
     * Whether a run may take another chunk. A graceful stop suspends the consumer while the exchanges under way end,
     * and a suspended service still counts as allowed to run: the chunks taken go on, none is taken after them.
     */
    private boolean takesChunks() {
        return isRunAllowed() && !isSuspendingOrSuspended();
    }

    private void execute(long runId, String note) {
        RunStatus status;
        String summary;
        ChunkLoop loop = new ChunkLoop(store(), getEndpoint(), clock, () -> claims, () -> items,
                this::isRunAllowed, this::takesChunks, this::isPaused,
                clusterNodeTimeout().map(t -> t.dividedBy(2)).orElse(null), this::process);
        try {
            ChunkLoop.Tally tally = loop.run(runId);
            if (tally.stopped() != null) {
                close(runId, RunStatus.ABANDONED, tally.stopped());
                return;
            }
            if (tally.kept() > 0) {
                // the error table cannot be written (the database is likely failing): stop taking items
                status = RunStatus.FAILED;
                summary = tally.kept() + " failures could not be recorded; those items stay claimed for the next run";
            } else {
                status = RunStatus.SUCCEEDED;
                summary = tally.failed() == 0 ? note
                        : (note == null ? "" : note + "; ") + tally.failed() + " items failed";
            }
            if (!close(runId, status, summary)) {
                return;
            }
            if (tally.done() + tally.failed() + tally.deferred() > 0) {
                LOG.info("Job {} run {}: {} items done, {} failed, {} left for the next run", job(), runId,
                        tally.done(), tally.failed(), tally.deferred());
            }
        } catch (RunTakenOver e) {
            // no failure of the job: the run's end is recorded already, by the node that took it over
            LOG.warn("{}", e.getMessage());
            return;
        } catch (SQLException | RuntimeException e) {
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
                listener.runEnded(job(), runId, status, loop.counted().done(), loop.counted().failed(), summary);
            } catch (RuntimeException e) {
                LOG.error("Job {} run {}: the run's notifications failed: {}", job(), runId,
                        Secrets.mask(e.getMessage()), e);
            }
        }
    }

    /**
     * A run whose end could not be written (the database failed); written once the heartbeat finds the database
     * back, or at the job's next fire.
     */
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

    /**
     * Sends one item through the route as one exchange; what it comes to is {@link ItemOutcomes}'s to say. Data that
     * the job's {@code dataFormat} cannot read fails the item without running the route.
     */
    private JobStore.Result process(long runId, JobStore.Item item) {
        Exchange exchange = createExchange(false);
        exchange.getMessage().setBody(item.data());
        exchange.getMessage().setHeader(JobConstants.JOB, job());
        exchange.getMessage().setHeader(JobConstants.RUN_ID, runId);
        exchange.getMessage().setHeader(JobConstants.ITEM_KEY, item.key());
        exchange.getMessage().setHeader(JobConstants.ITEM_VERSION, item.version());
        exchange.getMessage().setHeader(JobConstants.ATTEMPT, item.attempts());
        if (item.failingSince() != null) {
            exchange.getMessage().setHeader(JobConstants.FAILING_SINCE, item.failingSince());
        }
        CurrentItem.start(httpResponseTimeout);
        // what is logged while the item goes (factory.log.format = json writes them as fields)
        MDC.put("job", job());
        MDC.put("run", String.valueOf(runId));
        MDC.put("item", item.key());
        MDC.put("item_version", item.version());
        try {
            if (getEndpoint().isJsonData()) {
                // parsed twice: the property keeps the data as it came while the route changes the body's map
                exchange.getMessage().setBody(ItemData.json(job(), item));
                exchange.setProperty(JobConstants.ITEM_DATA, ItemData.json(job(), item));
            } else {
                exchange.setProperty(JobConstants.ITEM_DATA, item.data());
            }
            getProcessor().process(exchange);
        } catch (Exception e) {
            exchange.setException(e);
        } finally {
            CurrentItem.end();
        }
        try {
            return outcomes.of(item, exchange);
        } finally {
            releaseExchange(exchange, false);
            MDC.remove("job");
            MDC.remove("run");
            MDC.remove("item");
            MDC.remove("item_version");
        }
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
