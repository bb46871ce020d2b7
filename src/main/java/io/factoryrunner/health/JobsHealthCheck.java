package io.factoryrunner.health;

import io.factoryrunner.job.JobRegistry;
import io.factoryrunner.job.JobStore;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;
import org.apache.camel.util.TimeUtils;

/** Down while a job is held by a run whose node has gone silent: that job does nothing on any node. */
public final class JobsHealthCheck extends AbstractHealthCheck {

    private final JobRegistry jobs;
    private final JobStore store;

    public JobsHealthCheck(JobRegistry jobs, JobStore store) {
        super("factory", "jobs");
        this.jobs = jobs;
        this.store = store;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        Map<String, JobStore.RunningRun> blocked = jobs.stillBlocked(store);
        if (blocked.isEmpty()) {
            builder.up();
            return;
        }
        blocked.forEach((job, run) -> builder.detail("blocked." + job, "run " + run.runId() + " of node "
                + run.node()));
        builder.message(blocked.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(e -> "job " + e.getKey() + " is blocked by run " + e.getValue().runId() + " of node "
                        + e.getValue().node() + ", not seen for "
                        + TimeUtils.printDuration(e.getValue().silentFor().toMillis()))
                .collect(Collectors.joining("; "))).down();
    }
}
