package io.factoryrunner.program;

import java.sql.SQLException;
import java.util.Map;

/** The step a worker runs: what the job sees, and the durable write of its job data. */
final class StepContext {

    private final Program program;
    private final ProgramStore store;
    private final String node;

    StepContext(Program program, ProgramStore store, String node) {
        this.program = program;
        this.store = store;
        this.node = node;
    }

    String runId() {
        return program.runId;
    }

    String job() {
        return program.job();
    }

    int step() {
        return program.step;
    }

    int attempt() {
        return program.retryCount + 1;
    }

    Object input() {
        return program.lastResult;
    }

    Map<String, Object> programData() {
        return program.programData;
    }

    /** The step's job data: the map the jobData bean changes, and that every write stores. */
    Map<String, Object> jobData() {
        return program.jobData.get(program.step);
    }

    Map<String, Object> arguments() {
        return program.arguments.get(program.step);
    }

    /** Commits the program's job data as it is now, while this node still holds the program. */
    void saveJobData() throws SQLException {
        if (!store.writeJobData(program.id, node, ProgramJson.write(program.jobData))) {
            throw new IllegalStateException("Program " + program.runId + " is no longer held by node " + node
                    + " (taken over by another node); its job data was not written");
        }
    }
}
