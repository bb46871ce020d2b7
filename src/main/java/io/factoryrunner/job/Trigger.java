package io.factoryrunner.job;

import java.util.Locale;

/**
 * What started a run: its cron, an operator, a program, the catch-up of fires missed while the factory was down,
 * (in a cluster) a node joining the runs of the job another node's fire started, to share their items, or a run of
 * the job's upstream starting while the job follows it ({@code follow: true}).
 */
public enum Trigger {
    SCHEDULE, MANUAL, PROGRAM, CATCH_UP, JOIN, FOLLOW;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
