package io.factoryrunner.config;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.apache.camel.component.quartz.CamelJob;
import org.quartz.JobExecutionContext;
import org.quartz.JobExecutionException;
import org.quartz.JobListener;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;

/**
 * Keeps the fires of {@code quartz:} routes apart from the re-creation of a route. A fire that lands while its route
 * is removed and added again finds no endpoint, and camel-quartz then makes one of its own outside any route: that
 * endpoint schedules the trigger again behind the new route's back (the route may never fire again) and keeps the
 * scheduler alive after the factory stops. Quartz offers no such exclusion, hence this listener: every fire of a
 * route's job holds a read lock while it runs, and a re-creation takes the write lock.
 */
final class QuartzFiresGate implements JobListener {

    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    /** Whether this worker thread holds the read lock: a fire already under way when the gate was added holds none. */
    private final ThreadLocal<Boolean> holding = ThreadLocal.withInitial(() -> false);

    void register(Scheduler scheduler) throws SchedulerException {
        scheduler.getListenerManager().addJobListener(this);
    }

    @Override
    public String getName() {
        return "factory-fires-gate";
    }

    @Override
    public void jobToBeExecuted(JobExecutionContext context) {
        if (CamelJob.class.isAssignableFrom(context.getJobDetail().getJobClass())) {
            lock.readLock().lock();
            holding.set(true);
        }
    }

    @Override
    public void jobExecutionVetoed(JobExecutionContext context) {
        // a vetoed fire was never let through
    }

    @Override
    public void jobWasExecuted(JobExecutionContext context, JobExecutionException jobException) {
        if (holding.get()) {
            holding.set(false);
            lock.readLock().unlock();
        }
    }

    /**
     * Runs {@code work} with no {@code quartz:} route's fire under way and none starting; returns false, without
     * running it, when the fires under way do not end within {@code wait}.
     */
    boolean whileNoFire(Duration wait, Work work) throws Exception {
        if (!lock.writeLock().tryLock(wait.toMillis(), TimeUnit.MILLISECONDS)) {
            return false;
        }
        try {
            work.run();
            return true;
        } finally {
            lock.writeLock().unlock();
        }
    }

    @FunctionalInterface
    interface Work {
        void run() throws Exception;
    }
}
