package io.factoryrunner.job;

import java.util.Optional;
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

    /**
     * The job is declared (who feeds it) by the route that consumes it, and by nothing else: Camel creates an
     * endpoint for every URI that names the job, and one without the upstream must not cut the hand-off.
     */
    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        getComponent().registry().declare(job, upstream);
        JobConsumer consumer = new JobConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }

    /** The job an endpoint URI names ({@code job:build?upstream=prepare} names build), if it is a job URI. */
    public static Optional<String> jobNameOf(String uri) {
        if (uri == null || !uri.startsWith("job:")) {
            return Optional.empty();
        }
        String rest = uri.substring("job:".length());
        if (rest.startsWith("//")) {
            rest = rest.substring(2);
        }
        int query = rest.indexOf('?');
        return Optional.of(query < 0 ? rest : rest.substring(0, query)).filter(name -> !name.isBlank());
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
