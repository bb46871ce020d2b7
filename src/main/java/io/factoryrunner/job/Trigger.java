package io.factoryrunner.job;

import java.util.Locale;

/**
 * What started a run: its cron, an operator, a program, the catch-up of fires missed while the factory was down, or
 * (in a cluster) a node joining the runs of the job another node's fire started, to share their items.
 */
public enum Trigger {
    SCHEDULE, MANUAL, PROGRAM, CATCH_UP, JOIN;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
