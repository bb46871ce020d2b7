package io.factoryrunner.job;

import java.util.Locale;

/** What started a run. */
public enum Trigger {
    SCHEDULE, MANUAL, PROGRAM, CATCH_UP;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
