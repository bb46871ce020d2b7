package io.factoryrunner.error;

/** The analytics product refused to start a job. */
public class JobInitializationException extends FactoryException {

    public JobInitializationException(String message) {
        super(ErrorCategory.JOB_INITIALIZATION, message);
    }

    /** The refusal as the HTTP call got it: the error row keeps the call's method, URL, status and answer. */
    public JobInitializationException(String message, Throwable cause) {
        super(ErrorCategory.JOB_INITIALIZATION, message, cause);
    }
}
