package io.factoryrunner.process;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.factoryrunner.cluster.DatabaseSight;
import io.factoryrunner.error.ErrorRecorder;
import io.factoryrunner.error.ErrorRecorder.RecordedTaskFailure;
import io.factoryrunner.error.ErrorRecorder.TaskFailure;
import io.factoryrunner.error.SentHttpRequests;
import io.factoryrunner.logging.Secrets;
import io.factoryrunner.metrics.FactoryMetrics;
import io.factoryrunner.process.ProcessStore.Claimed;
import io.factoryrunner.process.ProcessStore.Outcome;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.StartupListener;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the processes' tasks: a dispatcher claims scheduled tasks (oldest first, {@code FOR UPDATE SKIP LOCKED}, so
 * nodes sharing the database take different ones) as long as one of its {@code process.workers} is free, and each
 * worker POSTs its task to the activity through camel-http, with the process's answer timeout. The answer's next
 * activities are scheduled in the same transaction that ends the task, and the dispatcher is woken at once.
 *
 * <p>At least once: a task is running from its claim to the commit of its end. One left running by a stop or a crash
 * is scheduled again when its node starts (every running task on the embedded database, which one node opens), or
 * by another node once its node has been silent for {@code factory.node.stale-after}, and its activity is called
 * again. Only the claim that is still the node's ends a task.
 */
public final class ProcessEngine extends ServiceSupport implements StartupListener {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessEngine.class);

    /** Every call goes to this endpoint, with the activity's URL in {@code CamelHttpUri}: one client for all. */
    static final String ENDPOINT = "http://process-activity";

    private static final Duration MAX_WRITE_WAIT = Duration.ofSeconds(30);

    /** What the engine is given to run with. */
    public record Settings(String node, boolean onlyNode, int workers, Duration pollInterval, Duration staleAfter,
            int maxTasks, String publicUrl) {
    }

    private final CamelContext context;
    private final ProcessStore store;
    private final ProcessDefinitions definitions;
    private final ErrorRecorder errors;
    private final FactoryMetrics metrics;
    private final Clock clock;
    private final Settings settings;
    private final DatabaseSight sight;
    private final Semaphore wake = new Semaphore(0);
    private final AtomicInteger busy = new AtomicInteger();
    private final AtomicBoolean dispatching = new AtomicBoolean();
    private volatile boolean stopping;
    private ProducerTemplate template;
    private ExecutorService dispatcher;
    private ExecutorService pool;
    private Instant nextSilentCheck = Instant.MIN;

    public ProcessEngine(CamelContext context, ProcessStore store, ProcessDefinitions definitions,
            ErrorRecorder errors, FactoryMetrics metrics, Clock clock, Settings settings, DatabaseSight sight) {
        this.context = context;
        this.store = store;
        this.definitions = definitions;
        this.errors = errors;
        this.metrics = metrics;
        this.clock = clock;
        this.settings = settings;
        this.sight = sight;
    }

    /** Opens a run of the process with its start task, which a worker takes at once; returns the run's id. */
    public long start(ProcessDefinitions.Process process, String key, String data, String requestor,
            String startedBy) throws SQLException {
        long runId = store.start(process.name(), process.startUrl(), key, data, requestor, startedBy, clock.instant());
        LOG.info("Process {} run {} started by {} (key {})", process.name(), runId, startedBy, key);
        wake.release();
        return runId;
    }

    /**
     * Schedules again the tasks of a run that ended in error, which workers take at once; their ids, none when the
     * run has none.
     */
    public List<Long> retryFailed(long runId, String by) throws SQLException {
        List<Long> retried = store.retryFailed(runId, clock.instant());
        if (!retried.isEmpty()) {
            LOG.info("Process run {}: {} failed tasks scheduled again by {} ({})", runId, retried.size(), by, retried);
            wake.release();
        }
        return retried;
    }

    @Override
    protected void doStart() throws Exception {
        stopping = false;
        int rescheduled = settings.onlyNode() ? store.rescheduleAllRunning()
                : store.rescheduleRunningOf(settings.node());
        if (rescheduled > 0) {
            LOG.warn("{} process tasks were left running by the last stop; scheduled again, their activities are"
                    + " called again", rescheduled);
        }
        template = context.createProducerTemplate();
        pool = context.getExecutorServiceManager().newFixedThreadPool(this, "process-task", settings.workers());
        dispatcher = context.getExecutorServiceManager().newSingleThreadExecutor(this, "process-dispatcher");
        dispatching.set(false);
        if (context.isStarted()) {
            startDispatching();
        }
    }

    private void startDispatching() {
        if (dispatching.compareAndSet(false, true)) {
            dispatcher.execute(this::dispatch);
        }
    }

    @Override
    public void onCamelContextStarted(CamelContext started, boolean alreadyStarted) {
        // not yet: the routes are about to start
    }

    /** The activities may be served by this factory's own routes: tasks are taken once they run. */
    @Override
    public void onCamelContextFullyStarted(CamelContext started, boolean alreadyStarted) {
        if (dispatcher != null) {
            startDispatching();
        }
    }

    @Override
    protected void doStop() throws Exception {
        stopping = true;
        wake.release();
        if (dispatcher != null) {
            context.getExecutorServiceManager().shutdownNow(dispatcher);
        }
        if (pool != null) {
            // calls that end within the grace time are written; the others stay running, for the next start
            context.getExecutorServiceManager().shutdownGraceful(pool, 5000);
        }
        if (template != null) {
            template.stop();
        }
    }

    private void dispatch() {
        while (!stopping) {
            boolean more = false;
            try {
                rescheduleTasksOfSilentNodes();
                int free = settings.workers() - busy.get();
                // a factory that is stopping claims no new task: the routes and the HTTP client are going away
                if (free > 0 && !context.isStopping()) {
                    List<Claimed> claimed = store.claim(free, settings.node(), clock.instant());
                    for (Claimed task : claimed) {
                        busy.incrementAndGet();
                        pool.execute(() -> {
                            try {
                                run(task);
                            } finally {
                                busy.decrementAndGet();
                                wake.release();
                            }
                        });
                    }
                    more = claimed.size() == free;
                }
            } catch (SQLException e) {
                LOG.warn("Cannot claim process tasks: {}", Secrets.mask(e.getMessage()));
            } catch (RejectedExecutionException e) {
                // stopping: the task claimed is running for this node and is scheduled again at its next start
                return;
            }
            if (!more && !await(settings.pollInterval())) {
                return;
            }
        }
    }

    /** Waits for a wake-up or the poll interval; false when interrupted (the engine stops). */
    private boolean await(Duration wait) {
        try {
            wake.tryAcquire(wait.toMillis(), TimeUnit.MILLISECONDS);
            wake.drainPermits();
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void rescheduleTasksOfSilentNodes() throws SQLException {
        if (settings.onlyNode() || clock.instant().isBefore(nextSilentCheck)) {
            return;
        }
        nextSilentCheck = clock.instant().plus(settings.staleAfter().dividedBy(2));
        if (!sight.seenFor(settings.staleAfter())) {
            // back from a database outage: every node's heartbeat is old, and the others are reconnecting too
            return;
        }
        Instant silentSince = store.databaseNow().minus(settings.staleAfter());
        int rescheduled = store.rescheduleRunningOfSilentNodes(silentSince, settings.node());
        if (rescheduled > 0) {
            LOG.warn("{} process tasks were running on nodes silent for {} s (factory.node.stale-after); scheduled"
                    + " again, their activities are called again", rescheduled, settings.staleAfter().toSeconds());
        }
    }

    /** Calls the task's activity and writes how it ended. */
    void run(Claimed task) {
        String payload;
        try {
            payload = payload(task);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("The input of task " + task.taskId() + " was written as JSON", e);
        }
        try {
            store.called(task, settings.node(), clock.instant());
        } catch (SQLException e) {
            // the claim's time stays as the start; the call goes on
            LOG.debug("Cannot record the start of task {}'s call: {}", task.taskId(), Secrets.mask(e.getMessage()));
        }
        Exchange exchange;
        try {
            exchange = SentHttpRequests.withResponseTimeout(definitions.timeout(task.process()),
                    () -> template.send(ENDPOINT, e -> {
                        e.getMessage().setHeader(Exchange.HTTP_URI, task.url());
                        e.getMessage().setHeader(Exchange.HTTP_METHOD, "POST");
                        e.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
                        e.getMessage().setBody(payload);
                    }));
        } catch (Exception e) {
            throw new IllegalStateException("The call of task " + task.taskId() + " could not be made", e);
        }
        Throwable failure = exchange.getException();
        if (failure != null && (stopping || context.isStopping())) {
            LOG.info("Process {} run {}: the call of task {} ({}) was cut off by the stop; it is called again at"
                    + " this node's next start, or by another node once this one has been silent for"
                    + " factory.node.stale-after", task.process(), task.runId(), task.taskId(), task.name());
            return;
        }
        Integer status = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        String answer = failure == null ? exchange.getMessage().getBody(String.class) : null;
        Outcome outcome;
        if (failure == null) {
            try {
                outcome = done(task, status, answer);
            } catch (ActivityAnswerException bad) {
                failure = bad;
                exchange.getMessage().setBody(payload);
                outcome = null;
            }
        } else {
            outcome = null;
        }
        exchange.setProperty(Exchange.FAILURE_ENDPOINT, ENDPOINT);
        write(task, exchange, failure, status, answer, outcome);
    }

    private Outcome done(Claimed task, Integer status, String answer) {
        ActivityAnswer parsed = ActivityAnswer.parse(answer);
        if (!parsed.next().isEmpty()) {
            int tasks;
            try {
                tasks = store.taskCount(task.runId());
            } catch (SQLException e) {
                tasks = 0;
            }
            if (tasks + parsed.next().size() > settings.maxTasks()) {
                throw new ActivityAnswerException("The answer names " + parsed.next().size() + " next activities;"
                        + " the run has " + tasks + " tasks and may have at most " + settings.maxTasks()
                        + " (process.max-tasks)");
            }
        }
        String output = answer == null || answer.isBlank() ? null : cut(answer, ActivityAnswer.MAX_DATA);
        return new Outcome(TaskStatus.DONE, status, output, null, null, parsed.next(),
                parsed.data().orElse(task.input()));
    }

    /**
     * Records the failure (its error row and, the first time in the run, its alert) and ends the task, trying again
     * while the database does not answer: the task's end is never dropped while the factory runs.
     */
    private void write(Claimed task, Exchange exchange, Throwable failure, Integer status, String answer,
            Outcome done) {
        Outcome outcome = done;
        Duration wait = Duration.ofSeconds(1);
        while (true) {
            try {
                if (outcome == null) {
                    RecordedTaskFailure recorded = errors.recordTaskFailure(exchange, failure, new TaskFailure(
                            task.process(), task.runId(), task.taskId(), task.name(), task.url(), status, answer,
                            next(task)));
                    outcome = new Outcome(TaskStatus.ERROR, status, answer == null ? null
                            : cut(answer, ActivityAnswer.MAX_DATA), cut(recorded.message(), 4000),
                            recorded.errorId(), List.of(), null);
                }
                Optional<ProcessStatus> run = store.end(task, settings.node(), outcome, clock.instant());
                if (run.isEmpty()) {
                    LOG.warn("Process {} run {}: task {} ({}) was taken back from this node while it ran; its"
                            + " outcome ({}) is dropped", task.process(), task.runId(), task.taskId(), task.name(),
                            outcome.status().db());
                    return;
                }
                metrics.processTaskEnded(task.process(), outcome.status().db());
                if (!outcome.next().isEmpty()) {
                    wake.release();
                }
                if (run.get() != ProcessStatus.RUNNING) {
                    LOG.info("Process {} run {} ended: {}", task.process(), task.runId(), run.get().db());
                }
                return;
            } catch (SQLException e) {
                if (stopping) {
                    LOG.warn("Process {} run {}: the end of task {} cannot be written ({}); it is called again at"
                            + " the next start", task.process(), task.runId(), task.taskId(),
                            Secrets.mask(e.getMessage()));
                    return;
                }
                LOG.warn("Process {} run {}: the end of task {} cannot be written ({}); trying again in {}",
                        task.process(), task.runId(), task.taskId(), Secrets.mask(e.getMessage()), wait);
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return;
                }
                wait = wait.multipliedBy(2).compareTo(MAX_WRITE_WAIT) > 0 ? MAX_WRITE_WAIT : wait.multipliedBy(2);
            }
        }
    }

    /** What the failure's mail says happens next. */
    private String next(Claimed task) {
        String url = settings.publicUrl().replaceAll("/+$", "") + "/api/processes/" + task.process() + "/runs/"
                + task.runId();
        return "The run goes on with its other branches; this task is not called again and its next activities are"
                + " not called. The run and its tasks: GET " + url;
    }

    /** The JSON an activity is sent: the run's key and requestor, the data for this task, and where it stands. */
    private static String payload(Claimed task) throws JsonProcessingException {
        ObjectNode body = ActivityAnswer.JSON.createObjectNode();
        body.put("key", task.key());
        JsonNode data = task.input() == null ? NullNode.getInstance() : ActivityAnswer.JSON.readTree(task.input());
        body.set("data", data);
        body.put("requestor", task.requestor());
        body.put("process", task.process());
        body.put("process_run_id", task.runId());
        body.put("task_id", task.taskId());
        body.put("task", task.name());
        return ActivityAnswer.JSON.writeValueAsString(body);
    }

    private static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }
}
