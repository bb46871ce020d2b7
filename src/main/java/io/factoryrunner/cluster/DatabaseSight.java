package io.factoryrunner.cluster;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether this node has been seeing the database, by its heartbeat, without a break for a while. A node judges
 * another silent (and takes its runs, programs and tasks over) only over a span it could see the database itself:
 * while the database is down no node can write its heartbeat, so once it is back every node's last heartbeat is as
 * old as the outage, and the first node to reconnect would take the others, alive and reconnecting, for lost. Kept
 * in memory, by {@link System#nanoTime}: a break is this node's own experience, not a fact of the database.
 */
public final class DatabaseSight {

    private static final Logger LOG = LoggerFactory.getLogger(DatabaseSight.class);

    private final List<Runnable> whenBack = new CopyOnWriteArrayList<>();
    private volatile boolean seeing = true;
    private volatile boolean everLost;
    /** When the database was seen again after the last break ({@link System#nanoTime}); unused before a break. */
    private volatile long backSince;

    /** What to do, on the heartbeat's thread, each time the database answers again after a break. */
    public void whenBack(Runnable action) {
        whenBack.add(action);
    }

    /** The heartbeat was written. */
    public void seen() {
        if (seeing) {
            return;
        }
        backSince = System.nanoTime();
        seeing = true;
        for (Runnable action : whenBack) {
            try {
                action.run();
            } catch (RuntimeException e) {
                LOG.warn("Back from a database outage, a follow-up failed: {}", e.getMessage(), e);
            }
        }
    }

    /** The heartbeat could not be written: the database does not answer. */
    public void lost() {
        seeing = false;
        everLost = true;
    }

    /**
     * True when the database answers this node's heartbeat and has, without a break, for longer than {@code span}
     * (since the start when it never broke: a node starting finds the database answering).
     */
    public boolean seenFor(Duration span) {
        return seeing && (!everLost || System.nanoTime() - backSince > span.toNanos());
    }
}
