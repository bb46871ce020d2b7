package io.factoryrunner.job;

import java.util.concurrent.atomic.AtomicInteger;

/** Counts the items in a route at once, and the most there were, for routes of tests. */
public class Overlap {

    static final AtomicInteger IN_ROUTE = new AtomicInteger();
    static final AtomicInteger MOST = new AtomicInteger();

    static void reset() {
        IN_ROUTE.set(0);
        MOST.set(0);
    }

    public void enter() {
        int now = IN_ROUTE.incrementAndGet();
        MOST.accumulateAndGet(now, Math::max);
    }

    public void leave() {
        IN_ROUTE.decrementAndGet();
    }
}
