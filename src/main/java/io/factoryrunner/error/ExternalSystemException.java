package io.factoryrunner.error;

/** A call to a customer's system failed. */
public class ExternalSystemException extends FactoryException {

    public ExternalSystemException(String message) {
        super(ErrorCategory.EXTERNAL_SYSTEM, message);
    }
}
