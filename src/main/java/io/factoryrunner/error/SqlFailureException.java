package io.factoryrunner.error;

/** A SQL statement or stored procedure failed in a way the route detected (a result it refuses). */
public class SqlFailureException extends FactoryException {

    public SqlFailureException(String message) {
        super(ErrorCategory.SQL, message);
    }
}
