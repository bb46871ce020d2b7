package io.factoryrunner;

/**
 * A failure that stops the factory from starting, with a message written for the operator: it names the file,
 * key, route or URL that is wrong. The launcher prints only this message (and the cause chain at debug level).
 */
public class StartupException extends RuntimeException {

    public StartupException(String message) {
        super(message);
    }

    public StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
