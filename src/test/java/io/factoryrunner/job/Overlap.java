package io.factoryrunner.job;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the items in a route at once, and the most there were, for routes of tests: in the test's own JVM, or, in a
 * factory of its own, told by the route's log ({@link #entered}).
 */
public class Overlap {

    static final AtomicInteger IN_ROUTE = new AtomicInteger();
    static final AtomicInteger MOST = new AtomicInteger();

    static void reset() {
        IN_ROUTE.set(0);
        MOST.set(0);
    }

    public void enter() {
        entered();
    }

    /** An item entered the route: how many are in it now, this one included. */
    public int entered() {
        int now = IN_ROUTE.incrementAndGet();
        MOST.accumulateAndGet(now, Math::max);
        return now;
    }

    public void leave() {
        IN_ROUTE.decrementAndGet();
    }
}
