package io.factoryrunner.reference;

import io.factoryrunner.error.JobInitializationException;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * Tells the interceptor of {@code routes/framework/analytics-api-key.camel.yaml} which HTTP calls go to the analytics
 * product ({@code analytics.url}), so that the API key is set once for all of them. The endpoint's URI alone does not
 * tell: a {@code toD} to an HTTP URL sends to an endpoint of the host alone and carries the path in the header
 * {@code CamelHttpPath}, so the URL is put together here as the HTTP producer does. And turns a refusal of the
 * product, answered to {@code routes/framework/analytics-call.camel.yaml}, into a job initialization error.
 */
public final class AnalyticsCalls {

    /** The exchange property with the path of a call of {@code direct:analytics-call}, under analytics.url. */
    public static final String PATH = "AnalyticsPath";
    /** The exchange property with what a refusal's error says was refused. */
    public static final String REFUSAL = "AnalyticsRefusal";

    /** True when the exchange is about to be sent to a URL under {@code analytics.url}, read at each call. */
    public boolean isCallToAnalytics(Exchange exchange) {
        String base = exchange.getContext().getPropertiesComponent().resolveProperty("analytics.url").orElse("");
        if (base.isBlank()) {
            return false;
        }
        return isUnder(target(exchange), base.strip());
    }

    /**
     * Throws the refusal the product answered (a 4xx) as a job initialization error: its message is the caller's
     * {@code AnalyticsRefusal}, the status and the answer, as a route's own {@code throwException} would write it; its
     * cause is the answer as camel-http describes a failed call, so that the error row keeps the call's URL, status and
     * answer. The route accepted the status (its {@code okStatusCodeRange}) so that 5xx and 429 alone reach the error
     * handler's retries as camel-http's own failures.
     */
    public void refused(Exchange exchange) {
        int status = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, 0, Integer.class);
        String statusText = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_TEXT, "", String.class);
        String answer = exchange.getMessage().getBody(String.class);
        String base = exchange.getContext().getPropertiesComponent().resolveProperty("analytics.url").orElse("");
        String path = exchange.getProperty(PATH, "", String.class);
        String method = exchange.getMessage().getHeader(Exchange.HTTP_METHOD, "", String.class);
        String refused = exchange.getProperty(REFUSAL, "analytics refused " + (method.isEmpty() ? "" : method + " ")
                + (path.isEmpty() ? base : path), String.class);
        throw new JobInitializationException(refused + ": HTTP " + status + " " + (answer == null ? "" : answer),
                new HttpOperationFailedException(base + path, status, statusText, null, Map.of(), answer));
    }

    static boolean isUnder(String url, String base) {
        String root = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        return url.equals(root) || url.startsWith(root + "/") || url.startsWith(root + "?");
    }

    private static String target(Exchange exchange) {
        String uri = exchange.getMessage().getHeader(Exchange.HTTP_URI, String.class);
        if (uri == null) {
            uri = exchange.getProperty(ExchangePropertyKey.TO_ENDPOINT, "", String.class);
            int query = uri.indexOf('?');
            uri = query < 0 ? uri : uri.substring(0, query);
        }
        String path = exchange.getMessage().getHeader(Exchange.HTTP_PATH, String.class);
        if (path == null || path.isEmpty()) {
            return uri;
        }
        boolean slashes = uri.endsWith("/") && path.startsWith("/");
        return slashes ? uri + path.substring(1)
                : uri.endsWith("/") || path.startsWith("/") ? uri + path : uri + "/" + path;
    }
}
