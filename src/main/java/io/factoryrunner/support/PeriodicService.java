package io.factoryrunner.support;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.camel.CamelContext;
import org.apache.camel.support.service.ServiceSupport;

/**
 * A service that does its work on a thread of its own every {@code interval}, from its start to its stop. The
 * thread is Camel's, so it is named after the service and shut down with the context.
 */
public abstract class PeriodicService extends ServiceSupport {

    private final CamelContext context;
    private final String threadName;
    private final Duration interval;
    private ScheduledExecutorService executor;

    protected PeriodicService(CamelContext context, String threadName, Duration interval) {
        this.context = context;
        this.threadName = threadName;
        this.interval = interval;
    }

    /** One round of the work, first one interval after the start. It logs its own failures: a throw ends the rounds. */
    protected abstract void runOnce();

    @Override
    protected void doStart() {
        executor = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, threadName);
        executor.scheduleWithFixedDelay(this::runOnce, interval.toMillis(), interval.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        if (executor != null) {
            context.getExecutorServiceManager().shutdownNow(executor);
            executor = null;
        }
    }
}
