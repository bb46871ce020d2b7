package io.factoryrunner.reference;

import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;

/**
 * Tells the interceptor of {@code routes/framework/analytics-api-key.camel.yaml} which HTTP calls go to the analytics
 * product ({@code analytics.url}), so that the API key is set once for all of them. The endpoint's URI alone does not
 * tell: a {@code toD} to an HTTP URL sends to an endpoint of the host alone and carries the path in the header
 * {@code CamelHttpPath}, so the URL is put together here as the HTTP producer does.
 */
public final class AnalyticsCalls {

    /** True when the exchange is about to be sent to a URL under {@code analytics.url}, read at each call. */
    public boolean isCallToAnalytics(Exchange exchange) {
        String base = exchange.getContext().getPropertiesComponent().resolveProperty("analytics.url").orElse("");
        if (base.isBlank()) {
            return false;
        }
        return isUnder(target(exchange), base.strip());
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
