package io.factoryrunner.error;

/** A failure the route author knows may pass (a resource still busy): retried with backoff like a timeout. */
public class TransientException extends FactoryException {

    public TransientException(String message) {
        super(ErrorCategory.EXTERNAL_SYSTEM, message);
    }

    @Override
    public boolean isTransient() {
        return true;
    }
}
