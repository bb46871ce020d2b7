package io.factoryrunner.job;

import org.apache.camel.pollconsumer.quartz.QuartzScheduledPollConsumerJob;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.quartz.JobExecutionException;

/**
 * camel-quartz's job of a scheduled poll, for a job whose fires may overlap ({@code maxRuns} above 1). Quartz holds a
 * fire while the one before runs when the job's class or one of its superclasses carries
 * {@code DisallowConcurrentExecution}, which camel-quartz's carries; this class does not, and hands each fire to it.
 */
public final class OverlappingFiresJob implements Job {

    @Override
    public void execute(JobExecutionContext context) throws JobExecutionException {
        new QuartzScheduledPollConsumerJob().execute(context);
    }
}
