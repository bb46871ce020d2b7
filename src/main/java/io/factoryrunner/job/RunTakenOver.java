package io.factoryrunner.job;

import java.sql.SQLException;

/**
 * A run found that it no longer holds its job: while its node was silent (frozen past
 * {@code factory.cluster.node-timeout}: a long GC pause, SIGSTOP), another node declared it abandoned and took its
 * items over. The run writes nothing more and stops; this is no failure of the job, and its end is already recorded.
 */
public final class RunTakenOver extends SQLException {

    private static final long serialVersionUID = 1L;

    RunTakenOver(String job, long runId) {
        super("Run " + runId + " of job " + job + " is no longer running (another node declared it abandoned and took"
                + " its items over); its chunk is not written and the run stops");
    }
}
