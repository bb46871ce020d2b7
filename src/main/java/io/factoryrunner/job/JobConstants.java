package io.factoryrunner.job;

import org.apache.camel.spi.Metadata;

/** The names of the headers and exchange properties the {@code job:} component reads and writes. */
public final class JobConstants {

    @Metadata(label = "consumer", description = "The job the item's exchange belongs to.", javaType = "String")
    public static final String JOB = "FactoryJob";
    @Metadata(label = "consumer", description = "The run the item's exchange belongs to.", javaType = "long")
    public static final String RUN_ID = "FactoryRunId";
    @Metadata(description = "The item's key. Set on each item's exchange; read by to: job:NAME when it has no key"
            + " option.", javaType = "String")
    public static final String ITEM_KEY = "FactoryItemKey";
    @Metadata(description = "The item's version. Set on each item's exchange; read by to: job:NAME when it has no"
            + " version option (else " + JobEndpoint.DEFAULT_VERSION + ").", javaType = "String")
    public static final String ITEM_VERSION = "FactoryItemVersion";
    @Metadata(label = "producer", description = "Whether an offered item is complete; read by to: job:NAME when it"
            + " has no complete option (else true).", javaType = "Boolean")
    public static final String ITEM_COMPLETE = "FactoryItemComplete";
    @Metadata(label = "consumer", description = "How many times the item was taken so far, this time included.",
            javaType = "int")
    public static final String ATTEMPT = "FactoryItemAttempt";
    @Metadata(label = "consumer", description = "When the item's transient failures began, on an item put back for"
            + " one.", javaType = "java.time.Instant")
    public static final String FAILING_SINCE = "FactoryItemFailingSince";
    @Metadata(label = "consumer", description = "An exchange property, not a header: the item's data as the job took"
            + " it, the text, or with dataFormat=json the Map or List parsed from it; it stays as it came when the"
            + " route changes the body.", javaType = "Object")
    public static final String ITEM_DATA = "FactoryItemData";
    @Metadata(label = "consumer", description = "Set to true (as an exchange property or a header) by the route to"
            + " put the item back for the job's next run.", javaType = "Boolean")
    public static final String DEFER = "FactoryDefer";
    @Metadata(label = "producer", description = "Set by to: job:NAME: how many items it offered that the job had not"
            + " taken yet.", javaType = "int")
    public static final String ITEMS_OFFERED = "FactoryItemsOffered";

    private JobConstants() {
    }
}
