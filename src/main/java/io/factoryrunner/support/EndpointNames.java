package io.factoryrunner.support;

import java.util.Optional;
import org.apache.camel.util.URISupport;

/** The name an endpoint URI of one of the factory's components gives ({@code job:build?upstream=prepare}: build). */
public final class EndpointNames {

    private EndpointNames() {
    }

    /** The path of {@code uri} when it has the scheme, without {@code //} and the query; empty otherwise. */
    public static Optional<String> nameOf(String scheme, String uri) {
        if (uri == null || !uri.startsWith(scheme + ":")) {
            return Optional.empty();
        }
        String path = URISupport.stripQuery(uri.substring(scheme.length() + 1));
        return Optional.of(path.startsWith("//") ? path.substring(2) : path).filter(name -> !name.isBlank());
    }
}
