package io.factoryrunner.job;

/** Told about every run that ended, after its status is written. */
public interface RunListener {

    void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed, String summary);
}
