package io.factoryrunner.job;

import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.support.ScheduledPollEndpoint;

/** One job: its name, the job it takes items from, and how many items it commits together. */
public final class JobEndpoint extends ScheduledPollEndpoint {

    private final String job;
    private String upstream;
    private int chunkSize = 100;
    private String cron;

    JobEndpoint(String uri, JobComponent component, String job) {
        super(uri, component);
        this.job = job;
        // a job that is not given a cron runs every minute, like a scheduled poll
        setDelay(60_000);
    }

    @Override
    public JobComponent getComponent() {
        return (JobComponent) super.getComponent();
    }

    @Override
    public Producer createProducer() {
        throw new UnsupportedOperationException("job:" + job + " starts a route; it cannot be sent to");
    }

    @Override
    protected void doInit() throws Exception {
        super.doInit();
        getComponent().registry().declare(job, upstream);
    }

    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        JobConsumer consumer = new JobConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }

    public String getJob() {
        return job;
    }

    public String getUpstream() {
        return upstream;
    }

    /** The job whose done items this job takes; none for a first job, which takes what is offered to it. */
    public void setUpstream(String upstream) {
        this.upstream = upstream;
    }

    public int getChunkSize() {
        return chunkSize;
    }

    /** Items claimed and committed together. */
    public void setChunkSize(int chunkSize) {
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunkSize of job " + job + " must be at least 1, not " + chunkSize);
        }
        this.chunkSize = chunkSize;
    }

    /** The job's Quartz cron, when it has one (for the catch-up of fires missed while the factory was down). */
    public String getCron() {
        return cron;
    }

    void setCron(String cron) {
        this.cron = cron;
    }
}
