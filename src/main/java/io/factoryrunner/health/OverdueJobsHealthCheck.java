package io.factoryrunner.health;

import java.util.Map;
import java.util.stream.Collectors;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/** Down while a job has not succeeded within its {@code job.<name>.overdue-after}, as {@link OverdueJobs} last saw. */
public final class OverdueJobsHealthCheck extends AbstractHealthCheck {

    private final OverdueJobs overdueJobs;

    public OverdueJobsHealthCheck(OverdueJobs overdueJobs) {
        super("factory", "overdue-jobs");
        this.overdueJobs = overdueJobs;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        Map<String, OverdueJobs.Overdue> overdue = overdueJobs.overdue();
        if (overdue.isEmpty()) {
            builder.up();
            return;
        }
        overdue.forEach((job, late) -> builder.detail("overdue." + job, late.describe()));
        builder.message(overdue.values().stream().map(OverdueJobs.Overdue::describe)
                .collect(Collectors.joining("; "))).down();
    }
}
