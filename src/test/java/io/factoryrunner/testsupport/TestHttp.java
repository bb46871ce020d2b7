package io.factoryrunner.testsupport;

import java.net.http.HttpClient;

/** The HTTP client tests call the factory with. */
public final class TestHttp {

    /**
     * HTTP/1.1, as curl and the command line speak to the factory: by default the JDK client asks a plain-HTTP server
     * to upgrade the connection to HTTP/2 (h2c), which the factory's server grants, and that path of the JDK 17
     * client was seen waiting forever for an answer.
     */
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private TestHttp() {
    }

    public static HttpClient client() {
        return CLIENT;
    }
}
