package io.factoryrunner.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.camel.Exchange;

/**
 * A step the concurrency benchmark puts around the call in its job's route: when each call started and ended
 * ({@link System#nanoTime()}), to tell how full the job's pool was.
 */
public class CallClock {

    private static final String STARTED = "BenchCallStarted";
    private static final ConcurrentLinkedQueue<long[]> CALLS = new ConcurrentLinkedQueue<>();

    static void reset() {
        CALLS.clear();
    }

    /** The calls made since the last reset, each as {start, end}. */
    static List<long[]> calls() {
        return new ArrayList<>(CALLS);
    }

    public void before(Exchange exchange) {
        exchange.setProperty(STARTED, System.nanoTime());
    }

    public void after(Exchange exchange) {
        CALLS.add(new long[] {exchange.getProperty(STARTED, Long.class), System.nanoTime()});
    }
}
