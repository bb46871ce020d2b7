package io.factoryrunner.job;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;

/** A step tests put in a job route to hold one item until the test lets it go. */
public class Gate {

    static volatile String holdKey = "";
    static volatile CountDownLatch reached = new CountDownLatch(1);
    static volatile CountDownLatch release = new CountDownLatch(1);

    static void reset(String key) {
        holdKey = key;
        reached = new CountDownLatch(1);
        release = new CountDownLatch(1);
    }

    public void pass(Exchange exchange) throws InterruptedException {
        if (holdKey.equals(exchange.getMessage().getHeader(JobConsumer.ITEM_KEY))) {
            reached.countDown();
            release.await(30, TimeUnit.SECONDS);
        }
    }
}
