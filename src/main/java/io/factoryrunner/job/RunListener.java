package io.factoryrunner.job;

/** Told about every run that ended, after its status is written, and about a job held by a silent node. */
public interface RunListener {

    void runEnded(String job, long runId, RunStatus status, int itemsDone, int itemsFailed, String summary);

    /**
     * The job's fires are skipped because a run of a node that has not been seen for longer than
     * {@code factory.node.stale-after} holds it; told once per such run in this process.
     */
    default void jobBlocked(String job, JobStore.RunningRun run) {
    }

    /**
     * In a cluster, this node declared the run of a node silent for longer than {@code factory.cluster.node-timeout}
     * abandoned, so that the job runs again here or elsewhere.
     */
    default void runTakenOver(String job, JobStore.RunningRun run) {
    }
}
