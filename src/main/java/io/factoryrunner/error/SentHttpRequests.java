package io.factoryrunner.error;

import io.factoryrunner.job.CurrentItem;
import io.factoryrunner.logging.Secrets;
import java.io.IOException;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.camel.component.http.HttpClientConfigurer;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.util.Timeout;

/**
 * camel-http's client configurer that names the request a failure got no answer to. A timeout or a refused
 * connection does not say which call it was, and by the time the failure is recorded the exchange cannot say either:
 * a {@code toD} to an HTTP URL is sent to an endpoint of the host alone, with its path and query in headers that are
 * removed once the call has failed. So the request's method and URL (credentials masked) are added to the exception
 * as a suppressed {@link Request}, where {@link ErrorRecorder} finds them. It also gives the calls of a job's items
 * the job's own response timeout ({@code job.<name>.http.response-timeout}), whichever endpoint sends them, and a
 * call made through {@link #withResponseTimeout} the timeout it was given (a process's {@code process.<name>.timeout}).
 */
public final class SentHttpRequests implements HttpClientConfigurer {

    /** The request a failure got no answer to. */
    public static final class Request extends Exception {

        private final String method;
        private final String url;

        Request(String method, String url) {
            super("the request was " + method + " " + url, null, false, false);
            this.method = method;
            this.url = url;
        }

        public String method() {
            return method;
        }

        public String url() {
            return url;
        }
    }

    private static final ThreadLocal<Duration> RESPONSE_TIMEOUT = new ThreadLocal<>();

    /** Runs {@code call}, whose HTTP requests are sent on this thread, with a response timeout of its own. */
    public static <T> T withResponseTimeout(Duration timeout, Callable<T> call) throws Exception {
        RESPONSE_TIMEOUT.set(timeout);
        try {
            return call.call();
        } finally {
            RESPONSE_TIMEOUT.remove();
        }
    }

    @Override
    public void configureHttpClient(HttpClientBuilder builder) {
        builder.addExecInterceptorFirst("factory-sent-request", (request, scope, chain) -> {
            // a job's or a call's own response timeout (the client's is the factory's)
            Optional.ofNullable(RESPONSE_TIMEOUT.get()).or(CurrentItem::httpResponseTimeout)
                    .ifPresent(timeout -> scope.clientContext.setRequestConfig(
                            RequestConfig.copy(scope.clientContext.getRequestConfig())
                                    .setResponseTimeout(Timeout.ofMilliseconds(timeout.toMillis())).build()));
            try {
                return chain.proceed(request, scope);
            } catch (IOException e) {
                e.addSuppressed(new Request(request.getMethod(), Secrets.maskUrl(url(request))));
                throw e;
            }
        });
    }

    private static String url(ClassicHttpRequest request) {
        try {
            return request.getUri().toASCIIString();
        } catch (URISyntaxException e) {
            return request.getRequestUri();
        }
    }

    /** The request the failure, or one of its causes, got no answer to. */
    static Optional<Request> of(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            for (Throwable suppressed : t.getSuppressed()) {
                if (suppressed instanceof Request request) {
                    return Optional.of(request);
                }
            }
        }
        return Optional.empty();
    }
}
