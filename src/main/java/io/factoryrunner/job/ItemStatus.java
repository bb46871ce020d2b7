package io.factoryrunner.job;

import java.util.Locale;

/**
 * The status of an item in a job's state store. {@code CLAIMED}: a run has taken it and not finished it;
 * {@code DONE}: acted on, its data handed to the downstream jobs; {@code FAILED}: not taken again by this job
 * until redriven.
 */
public enum ItemStatus {
    CLAIMED, DONE, FAILED;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
