package io.factoryrunner.program;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Steps tests put in a program job: one fails while the service it stands for is down, one waits to be let go. */
public class Outage {

    static volatile boolean down;
    static volatile CountDownLatch held = new CountDownLatch(1);

    public void check() {
        if (down) {
            throw new IllegalStateException("report service down");
        }
    }

    public void hold() throws InterruptedException {
        held.await(60, TimeUnit.SECONDS);
    }
}
