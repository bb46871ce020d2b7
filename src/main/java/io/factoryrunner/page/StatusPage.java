package io.factoryrunner.page;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.builder.RouteBuilder;

/**
 * The status page at {@code /}: three files from the jar ({@code page/} on the classpath) served by the factory's own
 * HTTP server. The page is a client of the operator API and nothing else: its policy lets it load and call only this
 * server, so it reaches no other host.
 */
public final class StatusPage extends RouteBuilder {

    /** The files the page is made of, by the name it asks for, with their type: nothing else is served. */
    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");

    private static final String POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'"
            + " data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private final Map<String, byte[]> content;

    public StatusPage() {
        this.content = Map.of("index.html", read("index.html"), "app.js", read("app.js"), "style.css",
                read("style.css"));
    }

    @Override
    public void configure() {
        from("platform-http:/?httpMethodRestrict=GET").routeId("page").process(e -> serve(e, "index.html"));
        from("platform-http:/page/{file}?httpMethodRestrict=GET").routeId("page-files")
                .process(e -> serve(e, e.getMessage().getHeader("file", String.class)));
    }

    private void serve(Exchange e, String file) {
        Message out = e.getMessage();
        out.removeHeaders("*");
        byte[] body = file == null ? null : content.get(file);
        if (body == null) {
            out.setHeader(Exchange.HTTP_RESPONSE_CODE, 404);
            out.setHeader(Exchange.CONTENT_TYPE, "text/plain; charset=utf-8");
            out.setBody("Not found");
            return;
        }
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        out.setHeader(Exchange.CONTENT_TYPE, FILES.get(file));
        // a new version of the factory serves a new page: the browser asks again rather than keep an old script
        out.setHeader("Cache-Control", "no-cache");
        out.setHeader("Content-Security-Policy", POLICY);
        out.setHeader("X-Content-Type-Options", "nosniff");
        out.setHeader("Referrer-Policy", "no-referrer");
        out.setBody(body);
    }

    private static byte[] read(String file) {
        try (InputStream in = StatusPage.class.getClassLoader().getResourceAsStream("page/" + file)) {
            if (in == null) {
                throw new IllegalStateException("The jar lacks the status page's file page/" + file);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the status page's file page/" + file, e);
        }
    }
}
