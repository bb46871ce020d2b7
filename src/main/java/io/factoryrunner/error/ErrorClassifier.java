package io.factoryrunner.error;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;
import java.sql.SQLException;
import java.sql.SQLTransientException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.apache.camel.Exchange;
import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * Sorts failures: into the seed's categories, and into transient (worth a retry: connection refused, timeouts,
 * HTTP 5xx and 429, SQL deadlocks and lock timeouts, a database connection lost or ended by a restart) and permanent
 * (HTTP 4xx, malformed answers, constraint violations, everything else).
 */
public final class ErrorClassifier {

    private ErrorClassifier() {
    }

    public static ErrorCategory category(Throwable error, Exchange exchange) {
        String forced = exchange == null ? null : exchange.getMessage().getHeader("FactoryErrorCategory",
                String.class);
        if (forced != null) {
            try {
                return ErrorCategory.valueOf(forced.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException unknown) {
                // an unknown name in the header: classify by the exception instead
            }
        }
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof FactoryException fe) {
                return fe.category();
            }
            if (t instanceof HttpOperationFailedException) {
                return ErrorCategory.HTTP_API;
            }
            if (t instanceof SQLException) {
                return ErrorCategory.SQL;
            }
        }
        String endpoint = exchange == null ? null : exchange.getProperty(Exchange.FAILURE_ENDPOINT, String.class);
        boolean http = endpoint != null && (endpoint.startsWith("http:") || endpoint.startsWith("https:"));
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof IOException && !(t instanceof JsonProcessingException)) {
                return http ? ErrorCategory.HTTP_API : ErrorCategory.EXTERNAL_SYSTEM;
            }
        }
        return ErrorCategory.INTERNAL;
    }

    public static boolean isTransient(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof FactoryException fe) {
                return fe.isTransient();
            }
            if (t instanceof HttpOperationFailedException h) {
                return h.getStatusCode() >= 500 || h.getStatusCode() == 429;
            }
            if (t instanceof ConnectException || t instanceof SocketTimeoutException
                    || t instanceof HttpTimeoutException || t instanceof UnknownHostException
                    || t.getClass().getName().endsWith("NoHttpResponseException")
                    || t.getClass().getName().endsWith("ConnectTimeoutException")) {
                return true;
            }
            if (t instanceof SQLTransientException) {
                return true;
            }
            if (t instanceof SQLException sql && isTransientSqlState(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Deadlocks and serialization failures (class 40), lock timeouts (PostgreSQL 55P03, H2 HYT00), a lost connection
     * (class 08) and a session the server ended (PostgreSQL 57P01 to 57P03: a shutdown or restart, a crash, not
     * accepting connections yet), as the database layer's LostConnections reads them.
     */
    private static boolean isTransientSqlState(String state) {
        return state != null && (state.startsWith("40") || state.equals("55P03") || state.equals("HYT00")
                || state.startsWith("08") || state.equals("57P01") || state.equals("57P02") || state.equals("57P03"));
    }

    /** The wait an HTTP 429 or 503 asked for with Retry-After (seconds), if it did. */
    public static Optional<Duration> retryAfter(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof HttpOperationFailedException h && h.getResponseHeaders() != null) {
                for (Map.Entry<String, String> e : h.getResponseHeaders().entrySet()) {
                    if (e.getKey().equalsIgnoreCase("Retry-After") && e.getValue() != null) {
                        try {
                            return Optional.of(Duration.ofSeconds(Long.parseLong(e.getValue().trim())));
                        } catch (NumberFormatException httpDate) {
                            return Optional.empty();
                        }
                    }
                }
            }
        }
        return Optional.empty();
    }
}
