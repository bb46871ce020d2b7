package io.factoryrunner.job;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.Exchange;

/** A step tests put in a job route to hold items until the test lets them go. */
public class Gate {

    static volatile Set<String> holdKeys = Set.of();
    static volatile CountDownLatch reached = new CountDownLatch(1);
    static volatile CountDownLatch release = new CountDownLatch(1);
    /** Held keys let go one by one by {@link #letGo}, not by {@link #release}. */
    private static final Map<String, CountDownLatch> APART = new ConcurrentHashMap<>();
    /** How many times each key went through the gate since the last reset. */
    private static final Map<String, AtomicInteger> PASSED = new ConcurrentHashMap<>();

    /** Holds the items of these keys until {@link #release}; {@link #reached} opens once every one has arrived. */
    static void reset(String... keys) {
        holdKeys = Set.of(keys);
        reached = new CountDownLatch(Math.max(1, keys.length));
        release = new CountDownLatch(1);
        PASSED.clear();
        APART.values().forEach(CountDownLatch::countDown);
        APART.clear();
    }

    /** Holds the item of this key, one of those given to {@link #reset}, until {@link #letGo} names it. */
    static void holdApart(String key) {
        APART.put(key, new CountDownLatch(1));
    }

    /** Lets the item of this key go, held apart by {@link #holdApart}. */
    static void letGo(String key) {
        APART.get(key).countDown();
    }

    /** How many times the item of this key went through the gate since the last reset. */
    static int passed(String key) {
        AtomicInteger n = PASSED.get(key);
        return n == null ? 0 : n.get();
    }

    public void pass(Exchange exchange) throws InterruptedException {
        String key = exchange.getMessage().getHeader(JobConsumer.ITEM_KEY, String.class);
        PASSED.computeIfAbsent(String.valueOf(key), k -> new AtomicInteger()).incrementAndGet();
        if (holdKeys.contains(key)) {
            reached.countDown();
            APART.getOrDefault(key, release).await(60, TimeUnit.SECONDS);
        }
    }
}
