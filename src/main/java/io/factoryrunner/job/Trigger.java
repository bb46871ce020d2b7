package io.factoryrunner.job;

/** What started a run. */
public enum Trigger {
    SCHEDULE, MANUAL, PROGRAM, CATCH_UP;

    public String db() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
