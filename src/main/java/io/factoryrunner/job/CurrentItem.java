package io.factoryrunner.job;

import java.time.Duration;
import java.util.Optional;

/**
 * What the thread running a job's item knows of that job, for code below the route that cannot see the exchange:
 * the HTTP client reads the job's own response timeout here. Set for the time an item goes through its route on
 * the job's thread; a step that hands the item to another thread does not carry it.
 */
public final class CurrentItem {

    private static final ThreadLocal<Duration> HTTP_RESPONSE_TIMEOUT = new ThreadLocal<>();

    private CurrentItem() {
    }

    /** {@code job.<name>.http.response-timeout} of the job whose item this thread runs, when the job has one. */
    public static Optional<Duration> httpResponseTimeout() {
        return Optional.ofNullable(HTTP_RESPONSE_TIMEOUT.get());
    }

    static void start(Duration httpResponseTimeout) {
        if (httpResponseTimeout != null) {
            HTTP_RESPONSE_TIMEOUT.set(httpResponseTimeout);
        }
    }

    static void end() {
        HTTP_RESPONSE_TIMEOUT.remove();
    }
}
