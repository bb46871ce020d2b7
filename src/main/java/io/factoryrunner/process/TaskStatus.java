package io.factoryrunner.process;

import java.util.Locale;

/**
 * Where a process's task is: {@code scheduled} (waiting for a worker) -> {@code running} (its activity is being
 * called) -> {@code done} or {@code error}. A task left running by a node that stopped or died is scheduled again.
 */
public enum TaskStatus {
    SCHEDULED, RUNNING, DONE, ERROR;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
