package io.factoryrunner.error;

/**
 * A failure with a category, raised by a route author from YAML without Java:
 * <pre>
 * - throwException:
 *     exceptionType: "io.factoryrunner.error.BuildFailedException"
 *     message: "build ${header.buildId} failed: ${body}"
 * </pre>
 * These are permanent (not retried) unless the subclass says otherwise.
 */
public class FactoryException extends RuntimeException {

    private final ErrorCategory category;

    public FactoryException(ErrorCategory category, String message) {
        super(message);
        this.category = category;
    }

    /** A failure caused by another: an HTTP answer that the factory reads as this category, for example. */
    public FactoryException(ErrorCategory category, String message, Throwable cause) {
        super(message, cause);
        this.category = category;
    }

    public ErrorCategory category() {
        return category;
    }

    /** Whether a retry may succeed. */
    public boolean isTransient() {
        return false;
    }
}
