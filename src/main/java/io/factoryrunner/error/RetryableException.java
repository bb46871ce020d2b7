package io.factoryrunner.error;

/**
 * A failure after which a program's job is tried again later, from the same step, with the job data it stored: the
 * program waits {@code program.retry.backoff} (longer after each attempt) and resumes, up to
 * {@code program.retry.max-attempts}. Raised from YAML without Java:
 * <pre>
 * - throwException:
 *     exceptionType: "io.factoryrunner.error.RetryableException"
 *     message: "the report service is busy"
 * </pre>
 * It is not retried within the route (the job's next attempt is the program's), and outside a program it is an
 * ordinary failure.
 */
public class RetryableException extends FactoryException {

    public RetryableException(String message) {
        super(ErrorCategory.EXTERNAL_SYSTEM, message);
    }

    public RetryableException(String message, Throwable cause) {
        super(ErrorCategory.EXTERNAL_SYSTEM, message);
        initCause(cause);
    }
}
