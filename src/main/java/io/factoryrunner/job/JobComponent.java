package io.factoryrunner.job;

import io.factoryrunner.cluster.DatabaseSight;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import org.apache.camel.Endpoint;
import org.apache.camel.spi.Metadata;
import org.apache.camel.spi.annotations.Component;
import org.apache.camel.support.DefaultComponent;

/**
 * The {@code job:} component: {@code from: job:build?upstream=prepare&cron=...} makes a route a factory job.
 * The route holds only the business steps for one item; the component schedules runs, claims items, records
 * results and runs. Written as a component because it is the one place where Camel lets a route's start own
 * both the trigger and a loop over items with a commit per chunk.
 */
@Component("job")
public final class JobComponent extends DefaultComponent {

    /** The Quartz trigger group of the jobs' triggers; a job's trigger is named after the job. */
    public static final String TRIGGER_GROUP = "factory-jobs";

    private final JobStore store;
    private final JobRegistry registry;
    private final String node;
    @Metadata(label = "advanced", description = "Stores the failure of an item that no dead-letter channel"
            + " recorded, and tells which failures are transient; without it a failure is taken as recorded.")
    private FailureRecorder failureRecorder;
    @Metadata(label = "advanced", description = "Told when a run ends and when a job is blocked by a run of a silent"
            + " node.")
    private RunListener runListener;
    /** Whether this node has been seeing the database for a while; null (always) where no heartbeat tells. */
    private DatabaseSight databaseSight;
    @Metadata(label = "advanced", description = "The clock runs and retries are reckoned in; default the bean named"
            + " clock, else the system clock (UTC).")
    private Clock clock;

    public JobComponent(JobStore store, JobRegistry registry, String node) {
        this.store = store;
        this.registry = registry;
        this.node = node;
    }

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        if (remaining == null || remaining.isBlank()) {
            throw new IllegalArgumentException("A job endpoint needs the job's name: job:<name>");
        }
        JobEndpoint endpoint = new JobEndpoint(uri, this, remaining);
        String cron = Objects.toString(parameters.remove("cron"), "").trim();
        JobTriggerScheduler trigger = null;
        if (!cron.isEmpty()) {
            // the job fires on a Quartz trigger of its own name, instead of polling; a scheduler of its own per
            // endpoint, which replaces a trigger stored by a clustered job store when it no longer fits
            trigger = new JobTriggerScheduler();
            parameters.put("scheduler", trigger);
            parameters.put("scheduler.cron", cron);
            parameters.put("scheduler.triggerId", remaining);
            parameters.put("scheduler.triggerGroup", TRIGGER_GROUP);
            endpoint.setCron(cron.replace('+', ' '));
        }
        setProperties(endpoint, parameters);
        endpoint.checkOptions();
        if (trigger != null) {
            trigger.setOverlappingFires(endpoint.getMaxRuns() > 1);
        }
        return endpoint;
    }

    /**
     * The time runs and retries are reckoned in, read once: the {@code clock} bean of the registry, else the system
     * clock (UTC).
     */
    @Override
    protected void doInit() throws Exception {
        super.doInit();
        if (clock == null) {
            Clock bound = getCamelContext().getRegistry().lookupByNameAndType("clock", Clock.class);
            clock = bound != null ? bound : Clock.systemUTC();
        }
    }

    public void setClock(Clock clock) {
        this.clock = clock;
    }

    public Clock getClock() {
        return clock;
    }

    public void setFailureRecorder(FailureRecorder failureRecorder) {
        this.failureRecorder = failureRecorder;
    }

    public void setRunListener(RunListener runListener) {
        this.runListener = runListener;
    }

    public FailureRecorder getFailureRecorder() {
        return failureRecorder;
    }

    public RunListener getRunListener() {
        return runListener;
    }

    public void setDatabaseSight(DatabaseSight databaseSight) {
        this.databaseSight = databaseSight;
    }

    /** Whether this node has seen the database without a break for longer than {@code span}. */
    boolean seenDatabaseFor(Duration span) {
        return databaseSight == null || databaseSight.seenFor(span);
    }

    JobStore store() {
        return store;
    }

    JobRegistry registry() {
        return registry;
    }

    String node() {
        return node;
    }
}
