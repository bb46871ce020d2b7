package io.factoryrunner.program;

import java.util.List;
import java.util.Map;

/** A program claimed by this node, as its worker runs it: where it stands and the data its jobs read and write. */
final class Program {

    final long id;
    final String runId;
    final Map<String, Object> programData;
    final List<String> jobs;
    final List<Map<String, Object>> arguments;
    final List<Map<String, Object>> jobData;
    int step;
    int retryCount;
    Object lastResult;
    /** When the program's row was last seen neither cancelled nor errored (System.nanoTime): its claim or last commit. */
    long checkedAt = System.nanoTime();

    Program(long id, String runId, Map<String, Object> programData, List<String> jobs,
            List<Map<String, Object>> arguments, List<Map<String, Object>> jobData, int step, int retryCount,
            Object lastResult) {
        this.id = id;
        this.runId = runId;
        this.programData = programData;
        this.jobs = jobs;
        this.arguments = arguments;
        this.jobData = jobData;
        this.step = step;
        this.retryCount = retryCount;
        this.lastResult = lastResult;
    }

    String job() {
        return jobs.get(step);
    }

    boolean isLastStep() {
        return step + 1 >= jobs.size();
    }
}
