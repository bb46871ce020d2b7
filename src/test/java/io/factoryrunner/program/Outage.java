package io.factoryrunner.program;

/** A step tests put in a program job: it fails while the service it stands for is down. */
public class Outage {

    static volatile boolean down;

    public void check() {
        if (down) {
            throw new IllegalStateException("report service down");
        }
    }
}
