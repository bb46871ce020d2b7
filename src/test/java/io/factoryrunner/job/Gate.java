package io.factoryrunner.job;

import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;

/** A step tests put in a job route to hold items until the test lets them go. */
public class Gate {

    static volatile Set<String> holdKeys = Set.of();
    static volatile CountDownLatch reached = new CountDownLatch(1);
    static volatile CountDownLatch release = new CountDownLatch(1);

    /** Holds the items of these keys until {@link #release}; {@link #reached} opens once every one has arrived. */
    static void reset(String... keys) {
        holdKeys = Set.of(keys);
        reached = new CountDownLatch(Math.max(1, keys.length));
        release = new CountDownLatch(1);
    }

    public void pass(Exchange exchange) throws InterruptedException {
        if (holdKeys.contains(exchange.getMessage().getHeader(JobConsumer.ITEM_KEY, String.class))) {
            reached.countDown();
            release.await(60, TimeUnit.SECONDS);
        }
    }
}
