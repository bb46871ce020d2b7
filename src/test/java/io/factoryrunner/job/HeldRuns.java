package io.factoryrunner.job;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;

/** A step tests put in a job route to hold every item until the test lets them go, noting the runs they came in. */
public class HeldRuns {

    public static final Set<Long> RUNS = ConcurrentHashMap.newKeySet();
    public static volatile CountDownLatch release = new CountDownLatch(1);

    public static void reset() {
        RUNS.clear();
        release = new CountDownLatch(1);
    }

    public void enter(Exchange exchange) throws InterruptedException {
        RUNS.add(exchange.getMessage().getHeader(JobConsumer.RUN_ID, Long.class));
        release.await(60, TimeUnit.SECONDS);
    }
}
