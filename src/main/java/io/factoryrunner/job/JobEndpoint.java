package io.factoryrunner.job;

import io.factoryrunner.support.EndpointNames;
import java.util.Optional;
import org.apache.camel.Category;
import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.spi.Metadata;
import org.apache.camel.spi.UriEndpoint;
import org.apache.camel.spi.UriParam;
import org.apache.camel.spi.UriPath;
import org.apache.camel.support.ScheduledPollEndpoint;

/**
 * Runs a factory job on a schedule, a run taking the job's waiting items in chunks through the route, and offers
 * items to a job. One endpoint is one job: its name, the job it takes items from, and how many items it commits
 * together.
 */
@UriEndpoint(firstVersion = "0.1.0", scheme = "job", title = "Factory Job", syntax = "job:name", remote = false,
        category = {Category.SCHEDULING}, headersClass = JobConstants.class)
public final class JobEndpoint extends ScheduledPollEndpoint {

    @UriPath(name = "name", description = "The job's name; a route that runs it has the same id.")
    @Metadata(required = true)
    private final String job;
    @UriParam(label = "consumer", description = "The job whose done items this job takes; none for a first job,"
            + " which takes what is offered to it.")
    private String upstream;
    @UriParam(label = "consumer", defaultValue = "100", description = "Items claimed and committed together.")
    private int chunkSize = 100;
    @UriParam(label = "consumer", defaultValue = "1", description = "How many items go through the route at once,"
            + " on a pool of the job's own; results are still committed per chunk. With transaction claim the next"
            + " chunk is claimed while the current chunk's last items run, at most two chunks at once. 1 runs them"
            + " one after the other, for a route that must stay serial.")
    private int concurrency = 1;
    @UriParam(label = "consumer", defaultValue = "1", description = "How many runs of the job may go at once, on all"
            + " the nodes of the database together; their claims share the job's waiting items and never take the"
            + " same one. A fire or trigger that finds that many going is recorded as a skipped run. In a cluster, a"
            + " node with no run of the job joins a run another node started while items wait. Above 1 it needs"
            + " transaction claim.")
    private int maxRuns = 1;
    @UriParam(label = "consumer", description = "A Quartz cron expression the job runs on (spaces may be written as"
            + " +); without it the job runs every minute (the delay option, 60000 for a job). Fires missed while"
            + " the factory was down are caught up once, as the property job.NAME.misfire says.")
    private String cron;
    @UriParam(label = "consumer", defaultValue = "claim", enums = "claim,chunk", description = "How a chunk's work is"
            + " committed: claim commits the claim first and the results after, so no transaction stays open while"
            + " the items run; chunk takes the items, runs them and writes their results in one transaction, for"
            + " steps that take milliseconds.")
    private String transaction = "claim";
    @UriParam(label = "consumer", defaultValue = "false", description = "Whether the job's runs follow its upstream's:"
            + " a chunk the upstream commits starts a run of this job, and a run of this job that finds nothing to take"
            + " goes on while a run of the upstream is going, taking each of its chunks once committed.")
    private boolean follow;
    @UriParam(label = "consumer", defaultValue = "text", enums = "text,json", description = "What the route gets as"
            + " an item's body: text is the item's data as it was offered or handed on; json is that data parsed"
            + " as JSON, a Map or a List, and data that is not a JSON object or array fails that item. Either way"
            + " the data is also in the exchange property " + JobConstants.ITEM_DATA + ", and a Map or a List body"
            + " the route leaves is handed on as JSON.")
    private String dataFormat = "text";
    @UriParam(label = "producer", description = "The offered item's key, a simple expression such as ${body[id]},"
            + " evaluated per element of a list body; default the header " + JobConstants.ITEM_KEY + ".")
    private String key;
    @UriParam(label = "producer", description = "The offered item's version, a simple expression; default the header "
            + JobConstants.ITEM_VERSION + ", else " + JobEndpoint.DEFAULT_VERSION + ".")
    private String version;
    @UriParam(label = "producer", description = "Whether the offered item is complete, a simple expression; default"
            + " the header " + JobConstants.ITEM_COMPLETE + ", else true.")
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
        return EndpointNames.nameOf("job", uri);
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

    public int getConcurrency() {
        return concurrency;
    }

    /** How many items go through the route at once. */
    public void setConcurrency(int concurrency) {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency of job " + job + " must be at least 1, not "
                    + concurrency);
        }
        this.concurrency = concurrency;
    }

    public int getMaxRuns() {
        return maxRuns;
    }

    /** How many runs of the job may go at once, across every node of the database. */
    public void setMaxRuns(int maxRuns) {
        if (maxRuns < 1) {
            throw new IllegalArgumentException("maxRuns of job " + job + " must be at least 1, not " + maxRuns);
        }
        this.maxRuns = maxRuns;
    }

    /**
     * Refuses options that cannot go together: runs of a job that share its items need their claims committed
     * apart from their results. In a chunk's own transaction the upstream's done items are read from one position
     * that only the chunk's commit moves, so a second run would take the same items, run them through the route
     * too, and fail at its commit.
     */
    void checkOptions() {
        if (follow && (upstream == null || upstream.isBlank())) {
            throw new IllegalArgumentException("follow of job " + job + " needs an upstream to follow: set upstream,"
                    + " or remove follow");
        }
        if (maxRuns > 1 && isChunkTransaction()) {
            throw new IllegalArgumentException("maxRuns " + maxRuns + " of job " + job + " needs transaction claim,"
                    + " not chunk: runs that share a job's items take them through claims committed apart; set"
                    + " transaction: claim, or maxRuns: 1");
        }
    }

    public boolean isFollow() {
        return follow;
    }

    /**
     * Whether the job's runs follow its upstream's: a chunk a run of the upstream commits on this node starts a run
     * of this job here (unless one is going), and a run of this job that finds nothing to take waits for the
     * upstream's next chunk while a run of the upstream is going (on any node), so that items go down the chain as
     * each chunk commits instead of at the job's next fire.
     */
    public void setFollow(boolean follow) {
        this.follow = follow;
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

    public String getDataFormat() {
        return dataFormat;
    }

    /**
     * What the route gets as an item's body: {@code text} (the default) the item's data as it is; {@code json} that
     * data parsed as JSON, a Map or a List, so the route needs no {@code unmarshal} step.
     */
    public void setDataFormat(String dataFormat) {
        String format = dataFormat == null ? "" : dataFormat.trim();
        if (!format.equals("text") && !format.equals("json")) {
            throw new IllegalArgumentException("dataFormat of job " + job + " must be text or json, not '"
                    + dataFormat + "'");
        }
        this.dataFormat = format;
    }

    boolean isJsonData() {
        return dataFormat.equals("json");
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

    public void setCron(String cron) {
        this.cron = cron;
    }
}
