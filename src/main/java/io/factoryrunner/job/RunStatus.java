package io.factoryrunner.job;

import java.util.Locale;

/**
 * The status of a run. {@code RUNNING} is the only one a run leaves: to {@code SUCCEEDED} (every item taken was
 * done or failed, none lost), {@code FAILED} (the run itself broke, e.g. the database went away), or
 * {@code ABANDONED} (the run stopped midway, or its node died; its claimed items go to the next run).
 * {@code SKIPPED} is written once, for a fire that came while another run of the job was going.
 */
public enum RunStatus {
    RUNNING, SUCCEEDED, FAILED, SKIPPED, ABANDONED;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
