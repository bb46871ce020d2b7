package io.factoryrunner.program;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Commits the steps the workers finish, several in one transaction. A worker hands its step in and goes on with
 * another program; the committer takes every step handed in meanwhile into its next commit, then tells each step's
 * program what comes next. With cheap steps the commit is most of a step's cost (PITFALLS: one commit per item caps a
 * design near the raw commit rate); this way the workers do not wait for it, and steps of several programs share it.
 */
final class StepCommits {

    /** The most steps in one commit. */
    private static final int MOST = 500;

    private record Pending(ProgramStore.Done done, Consumer<ProgramStore.Next> committed,
            Consumer<Exception> failed) {
    }

    private final ProgramStore store;
    private final String node;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private volatile boolean running = true;

    StepCommits(ProgramStore store, String node) {
        this.store = store;
        this.node = node;
    }

    /** Hands the step in: {@code committed} hears what comes next once it is committed, {@code failed} why not. */
    void handIn(ProgramStore.Done done, Consumer<ProgramStore.Next> committed, Consumer<Exception> failed) {
        queue.add(new Pending(done, committed, failed));
    }

    /** The committer's loop, until {@link #stop}; the steps handed in before the stop are committed. */
    void run() {
        while (running || !queue.isEmpty()) {
            Pending first;
            try {
                first = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                for (Pending p = queue.poll(); p != null; p = queue.poll()) {
                    p.failed().accept(new IllegalStateException("The factory stopped before the step was committed"));
                }
                return;
            }
            if (first == null) {
                continue;
            }
            List<Pending> batch = new ArrayList<>();
            batch.add(first);
            queue.drainTo(batch, MOST - 1);
            List<ProgramStore.Next> answers;
            try {
                answers = store.stepsDone(batch.stream().map(Pending::done).toList(), node);
            } catch (SQLException | RuntimeException e) {
                batch.forEach(p -> p.failed().accept(e));
                continue;
            }
            for (int i = 0; i < batch.size(); i++) {
                batch.get(i).committed().accept(answers.get(i));
            }
        }
    }

    /** Ends the loop once the steps handed in are committed. */
    void stop() {
        running = false;
    }
}
