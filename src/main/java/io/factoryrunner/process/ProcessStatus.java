package io.factoryrunner.process;

import java.util.Locale;

/** A process run is {@code running} while a task of it is scheduled or running, then {@code done} or
 * {@code done_with_errors} (a task ended in error; the other branches went on). */
public enum ProcessStatus {
    RUNNING, DONE, DONE_WITH_ERRORS;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
