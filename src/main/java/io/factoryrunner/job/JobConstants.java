package io.factoryrunner.job;

/** The names of the headers and exchange properties the {@code job:} component reads and writes. */
public final class JobConstants {

    /** The job the item's exchange belongs to. */
    public static final String JOB = "FactoryJob";
    /** The run the item's exchange belongs to. */
    public static final String RUN_ID = "FactoryRunId";
    /** The item's key; read by {@code to: job:NAME} when it has no {@code key} option. */
    public static final String ITEM_KEY = "FactoryItemKey";
    /** The item's version; read by {@code to: job:NAME} when it has no {@code version} option. */
    public static final String ITEM_VERSION = "FactoryItemVersion";
    /** Whether an offered item is complete; read by {@code to: job:NAME} when it has no {@code complete} option. */
    public static final String ITEM_COMPLETE = "FactoryItemComplete";
    /** How many times the item was taken so far, this time included. */
    public static final String ATTEMPT = "FactoryItemAttempt";
    /** Exchange property (or header) a route sets to true to put the item back for the job's next run. */
    public static final String DEFER = "FactoryDefer";
    /** Set by {@code to: job:NAME}: how many items it offered that the job had not taken yet. */
    public static final String ITEMS_OFFERED = "FactoryItemsOffered";

    private JobConstants() {
    }
}
