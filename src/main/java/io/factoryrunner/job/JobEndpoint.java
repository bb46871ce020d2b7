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
    private String transaction = "claim";
    private String key;
    private String version;
    private String complete;

    /** The version of an item offered with none, by {@code to: job:NAME}. */
    public static final String DEFAULT_VERSION = "1";

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

    /** Offers the message to the job as an item (one per element of a list body). */
    @Override
    public Producer createProducer() {
        return new JobProducer(this);
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

    public String getTransaction() {
        return transaction;
    }

    /**
     * How a chunk's work is committed: {@code claim} (the default) commits the claim first and the results after, so
     * no transaction stays open while the items run, and an item cut off by a crash stays claimed with its attempt
     * counted; {@code chunk} takes the items, runs them and writes their results in one transaction, one commit per
     * chunk and one row write less per item, for steps that take milliseconds (a transaction open for minutes would
     * hold a connection and row locks that long).
     */
    public void setTransaction(String transaction) {
        String mode = transaction == null ? "" : transaction.trim();
        if (!mode.equals("chunk") && !mode.equals("claim")) {
            throw new IllegalArgumentException("transaction of job " + job + " must be chunk or claim, not '"
                    + transaction + "'");
        }
        this.transaction = mode;
    }

    boolean isChunkTransaction() {
        return transaction.equals("chunk");
    }

    public String getKey() {
        return key;
    }

    /** For {@code to: job:NAME}: the item's key, a simple expression such as {@code ${body[id]}}. */
    public void setKey(String key) {
        this.key = key;
    }

    public String getVersion() {
        return version;
    }

    /** For {@code to: job:NAME}: the item's version, a simple expression; default the header, else 1. */
    public void setVersion(String version) {
        this.version = version;
    }

    public String getComplete() {
        return complete;
    }

    /** For {@code to: job:NAME}: whether the item is complete, a simple expression; default the header, else true. */
    public void setComplete(String complete) {
        this.complete = complete;
    }

    /** The job's Quartz cron, when it has one (for the catch-up of fires missed while the factory was down). */
    public String getCron() {
        return cron;
    }

    void setCron(String cron) {
        this.cron = cron;
    }
}
