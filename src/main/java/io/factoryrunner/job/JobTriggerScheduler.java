package io.factoryrunner.job;

import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.pollconsumer.quartz.QuartzScheduledPollConsumerScheduler;
import org.quartz.CronTrigger;
import org.quartz.Scheduler;
import org.quartz.Trigger;
import org.quartz.TriggerKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * camel-quartz's scheduler of a job's trigger, which lets the fires of a job with {@code maxRuns} above 1 overlap on
 * one node, and on a clustered (JDBC) job store first removes a stored trigger that no longer fits. In memory a
 * trigger lives as long as its route; in the database it outlives the route and every node, and camel-quartz would
 * keep it: a changed cron rescheduled from the stored trigger's old start fires at once as a misfire, and a trigger
 * that no node has advanced (the whole cluster was down) fires its missed slot on top of the factory's own catch-up
 * ({@code job.<name>.misfire}). Such a trigger is made afresh instead.
 *
 * <p>camel-quartz's job holds a fire while the job's previous fire runs (Quartz's
 * {@code DisallowConcurrentExecution}). On one node a job with {@code maxRuns} above 1 is given a job class without
 * it, so that a fire during a long run starts another run. A cluster keeps the hold: Quartz gives a trigger's fires to
 * the node that fired it last, so overlapping fires would all run on one node; the other nodes join the fire's run
 * instead (see {@link JobConsumer}).
 */
public final class JobTriggerScheduler extends QuartzScheduledPollConsumerScheduler {

    private static final Logger LOG = LoggerFactory.getLogger(JobTriggerScheduler.class);

    /** Beyond Quartz's misfire threshold (60 s), a stored trigger's due fire is one no node took. */
    private static final long OVERDUE_MS = 60_000;

    /** Whether the last start found the cluster keeping this job's schedule, and kept its trigger. */
    private volatile boolean keptClusterSchedule;

    /** Whether a fire may start while the job's previous fire still runs (on one node). */
    private boolean overlappingFires;

    /** Lets a fire start while the job's previous fire still runs, on a job store that is not clustered. */
    public void setOverlappingFires(boolean overlappingFires) {
        this.overlappingFires = overlappingFires;
    }

    @Override
    protected void doStart() throws Exception {
        if (getQuartzScheduler() == null) {
            setQuartzScheduler(getCamelContext().getComponent("quartz", QuartzComponent.class).getScheduler());
        }
        Scheduler quartz = getQuartzScheduler();
        keptClusterSchedule = false;
        if (!quartz.getMetaData().isJobStoreClustered() || getTriggerId() == null) {
            if (overlappingFires) {
                // camel-quartz binds these to the job it builds
                Map<String, Object> job = getJobParameters() == null ? new HashMap<>()
                        : new HashMap<>(getJobParameters());
                job.put("jobClass", OverlappingFiresJob.class);
                setJobParameters(job);
            }
            super.doStart();
            return;
        }
        TriggerKey key = new TriggerKey(getTriggerId(), getTriggerGroup());
        if (!removedIfStale(quartz, key)) {
            keptClusterSchedule = quartz.getTrigger(key) != null;
            super.doStart();
            return;
        }
        // the new trigger starts after the slot under way, which the trigger it replaces may have fired already
        Map<String, Object> given = getTriggerParameters();
        Map<String, Object> parameters = given == null ? new HashMap<>() : new HashMap<>(given);
        parameters.put("startTime", new Date(System.currentTimeMillis() + 1000));
        setTriggerParameters(parameters);
        try {
            super.doStart();
        } finally {
            setTriggerParameters(given);
        }
    }

    /**
     * True when this job's trigger was stored by the cluster, due within Quartz's misfire threshold, and kept: the
     * other nodes are running the job's schedule, so a node that joins them has no missed fires to catch up.
     */
    public boolean keptClusterSchedule() {
        return keptClusterSchedule;
    }

    private boolean removedIfStale(Scheduler quartz, TriggerKey key) throws Exception {
        Trigger stored = quartz.getTrigger(key);
        if (stored == null) {
            return false;
        }
        String cron = getCron().replace('+', ' ');
        String reason = null;
        if (!(stored instanceof CronTrigger stick) || !stick.getCronExpression().equals(cron)
                || !stick.getTimeZone().getID().equals(getTimeZone().getID())) {
            reason = "its cron changed to '" + cron + "'";
        } else if (stored.getNextFireTime() != null
                && stored.getNextFireTime().before(new Date(System.currentTimeMillis() - OVERDUE_MS))
                && quartz.getTriggerState(key) == Trigger.TriggerState.NORMAL) {
            // a trigger blocked by a long run on another node is left alone: its held fire comes after the run
            reason = "no node has fired it since " + stored.getNextFireTime().toInstant()
                    + " (missed fires are the job's catch-up to run)";
        }
        if (reason == null) {
            return false;
        }
        LOG.info("Job {}: its stored trigger is replaced: {}", getTriggerId(), reason);
        quartz.unscheduleJob(key);
        return true;
    }
}
