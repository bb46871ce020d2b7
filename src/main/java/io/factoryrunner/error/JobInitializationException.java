package io.factoryrunner.error;

/** The analytics product refused to start a job. */
public class JobInitializationException extends FactoryException {

    public JobInitializationException(String message) {
        super(ErrorCategory.JOB_INITIALIZATION, message);
    }
}
