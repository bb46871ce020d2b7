package io.factoryrunner.bench;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.Trigger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Items in parallel, run by hand ({@code bench/concurrency.sh}); not a unit test. A job whose step POSTs each item
 * to a local stand-in API that answers after LATENCY ms (WireMock), N items, one run at each concurrency: items/s
 * against the limit {@code concurrency / latency} (target: at least 80% of it at concurrency 16). The factory runs on
 * its embedded H2 database, a fresh one per concurrency.
 *
 * <p>Settings from the environment or {@code KEY=value} arguments: {@code N} (2000), {@code LATENCY} (50),
 * {@code CONCURRENCY} (1,4,16,64).
 */
public final class ConcurrencyBenchmark {

    private static final String NEVER = "0 0 0 1 1 ? 2099";

    public static void main(String[] args) throws Exception {
        ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger("ROOT").setLevel(Level.WARN);
        BenchSettings settings = BenchSettings.read(args, "N", "2000", "LATENCY", "50", "CONCURRENCY", "1,4,16,64");
        int items = settings.number("N");
        int latency = settings.number("LATENCY");
        List<Integer> levels = new ArrayList<>();
        for (String c : settings.text("CONCURRENCY").split(",")) {
            levels.add(Integer.parseInt(c.trim()));
        }
        System.out.printf(Locale.ROOT, "Concurrency benchmark: N=%d items, a stand-in API answering in %d ms,"
                + " concurrency %s; %d CPUs, load average %s%n", items, latency, levels,
                Runtime.getRuntime().availableProcessors(), PipelineBenchmark.loadAverage());

        WireMockServer api = new WireMockServer(options().dynamicPort().containerThreads(200)
                .jettyAcceptors(2).asynchronousResponseEnabled(true).asynchronousResponseThreads(200));
        api.start();
        api.stubFor(post(urlEqualTo("/score")).willReturn(aResponse().withStatus(200).withFixedDelay(latency)
                .withHeader("Content-Type", "application/json").withBody("{\"score\": 1}")));
        List<String> rows = new ArrayList<>();
        try {
            for (int concurrency : levels) {
                Path home = Files.createTempDirectory("factory-concurrency-");
                FactoryApplication app = start(home, api.port(), concurrency);
                try {
                    for (int i = 0; i < items; i++) {
                        app.jobStore().offer("call", "item-" + i, "v1", "{\"id\": " + i + "}", true);
                    }
                    long t0 = System.nanoTime();
                    app.jobs().trigger("call", Trigger.MANUAL);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    double perSecond = items / seconds;
                    double limit = concurrency * 1000.0 / latency;
                    rows.add(String.format(Locale.ROOT, "%11d %10.0f %10.0f %9.0f%%", concurrency, perSecond, limit,
                            100 * perSecond / limit));
                    System.out.printf(Locale.ROOT, "concurrency %d (chunkSize %d): %d items in %.2f s, %.0f items/s"
                            + " (limit %.0f)%n", concurrency, chunkSize(concurrency), items, seconds, perSecond, limit);
                } finally {
                    app.stop();
                }
            }
        } finally {
            api.stop();
        }
        System.out.printf(Locale.ROOT, "%n%11s %10s %10s %10s%n", "concurrency", "items/s", "limit", "of limit");
        rows.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "target: at least 80%% of the limit at concurrency 16%nload average at the end:"
                + " %s%n", PipelineBenchmark.loadAverage());
    }

    /**
     * At least 100 and eight rounds of the pool, in whole rounds: a chunk's items all end before it is written, so a
     * last round with fewer items than the pool leaves threads idle.
     */
    static int chunkSize(int concurrency) {
        int size = Math.max(100, 8 * concurrency);
        return (size + concurrency - 1) / concurrency * concurrency;
    }

    private static FactoryApplication start(Path home, int port, int concurrency) throws Exception {
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/call.camel.yaml"), """
                - route:
                    id: call
                    from:
                      uri: "job:call"
                      parameters:
                        cron: "%s"
                        chunkSize: %d
                        concurrency: %d
                      steps:
                        - setHeader:
                            name: Content-Type
                            constant: application/json
                        - to: "http://localhost:%d/score?httpMethod=POST"
                """.formatted(NEVER, chunkSize(concurrency), concurrency, port));
        Map<String, String> overrides = new LinkedHashMap<>();
        overrides.put("camel.server.enabled", "false");
        overrides.put("camel.management.enabled", "false");
        overrides.put("factory.routes.shipped", "framework/**");
        overrides.put("camel.main.shutdown-timeout", "5");
        // camel-http keeps 20 connections per host by default, fewer than the highest concurrency
        overrides.put("camel.component.http.connections-per-route", "200");
        FactoryApplication app = FactoryApplication.create(home, FactoryApplication.Mode.RUN, overrides);
        app.start();
        return app;
    }
}
