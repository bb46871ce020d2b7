package io.factoryrunner.error;

import java.util.Locale;

/** The kinds of failure a factory records, as its operators know them. */
public enum ErrorCategory {
    /** A SQL statement or stored procedure failed. */
    SQL("internal error: SQL / stored procedure"),
    /** A call to one of the customer's systems failed (connection, file, message broker...). */
    EXTERNAL_SYSTEM("internal error: external system call"),
    /** A call to the analytics product's HTTP API failed. */
    HTTP_API("internal error: HTTP API call"),
    /** The analytics product refused to start a job (bad request, credentials, quota). */
    JOB_INITIALIZATION("analytics product: job initialization failure"),
    /** The analytics product ran a build and it failed. */
    BUILD_FAILURE("analytics product: build failure"),
    /** A value in the configuration table was refused: the factory keeps the value it had. */
    CONFIGURATION("configuration: a value refused"),
    /** Anything else: a bug, a bad value, an unexpected answer. */
    INTERNAL("internal error: other");

    private final String label;

    ErrorCategory(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /**
     * The label of one failure: an HTTP call that got an error status was answered, by the remote service, so it
     * is labelled as that answer rather than as an error of the factory.
     */
    public String label(Integer httpStatus) {
        return this == HTTP_API && httpStatus != null ? "remote service answered HTTP " + httpStatus : label;
    }

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }
}
