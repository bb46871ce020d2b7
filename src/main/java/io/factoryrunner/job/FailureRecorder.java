package io.factoryrunner.job;

import org.apache.camel.Exchange;

/** Stores the failure of an item that no dead-letter channel recorded. */
public interface FailureRecorder {

    /** Exchange property set once the failure is stored, by a dead-letter channel or by this recorder. */
    String RECORDED = "FactoryErrorRecorded";

    /** Exchange property: the attempts made so far for the current item, counted by the retry policy. */
    String ATTEMPTS = "FactoryAttempts";

    /**
     * Exchange property set when the item's processing was cut off by a stop (a redelivery, or the next step of an
     * item under way, refused while the route stops): no failure of the item, which stays claimed for the next run, as
     * a crash would leave it.
     */
    String INTERRUPTED = "FactoryInterrupted";

    /**
     * True when the failure is stored, or is a stop's (the exchange is then marked {@link #INTERRUPTED}); false when
     * it could not be stored (the item must then stay claimed).
     */
    boolean recordFailure(Exchange exchange, Throwable error);

    /** True for a failure a later run may not meet (the API was down): the item waits for the next run. */
    boolean isTransient(Throwable error);
}
