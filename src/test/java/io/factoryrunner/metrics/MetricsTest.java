package io.factoryrunner.metrics;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.alert.AlertOutbox;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.MutableClock;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** {@code /observe/metrics} scraped over HTTP as Prometheus does, after a run with a done and a failed item. */
class MetricsTest {

    static final String ROUTE = """
            - route:
                id: mix
                from:
                  uri: "job:mix"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - choice:
                        when:
                          - simple: "${header.FactoryItemKey} == 'bad'"
                            steps:
                              - throwException:
                                  exceptionType: "java.lang.IllegalArgumentException"
                                  message: "bad item"
            """;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_run_with_a_done_and_a_failed_item_shows_in_the_scraped_metrics(TestDatabase db) throws Exception {
        FactoryHome home = new FactoryHome(dir, db).route("mix.camel.yaml", ROUTE);
        int port = home.withHttpServer();
        MutableClock clock = new MutableClock();
        try (var running = home.start(clock)) {
            running.offer("mix", "good", "{}");
            running.offer("mix", "bad", "{}");
            assertThat(running.trigger("mix")).isPositive();
            running.app().context().getRegistry().lookupByNameAndType("alertOutbox", AlertOutbox.class)
                    .event("mix", "one pending", "waits, as no mail host is set");
            clock.advance(Duration.ofSeconds(90));

            String metrics = scrape(port);

            assertThat(value(metrics, "factory_runs_total{job=\"mix\",status=\"succeeded\"}")).isEqualTo(1);
            assertThat(value(metrics, "factory_items_total{job=\"mix\",outcome=\"done\"}")).isEqualTo(1);
            assertThat(value(metrics, "factory_items_total{job=\"mix\",outcome=\"failed\"}")).isEqualTo(1);
            assertThat(value(metrics, "factory_items_total{job=\"mix\",outcome=\"deferred\"}")).isZero();
            assertThat(value(metrics, "factory_run_duration_seconds_count{job=\"mix\"}")).isEqualTo(1);
            assertThat(metrics).contains("factory_run_duration_seconds_bucket{job=\"mix\",le=\"");
            assertThat(value(metrics, "factory_item_duration_seconds_count{job=\"mix\"}")).isEqualTo(2);
            assertThat(value(metrics, "factory_errors_total{category=\"internal\",job=\"mix\"}")).isEqualTo(1);
            long pending = count(running.dataSource(), "SELECT COUNT(*) FROM alerts WHERE status = 'pending'");
            assertThat(pending).as("the error's mail and the event").isEqualTo(2);
            assertThat(value(metrics, "factory_alerts_pending")).isEqualTo(pending);
            assertThat(value(metrics, "factory_alerts_oldest_pending_age_seconds")).isBetween(90.0, 150.0);
            // Camel's own metrics are served beside them
            assertThat(metrics).contains("camel_exchanges_total{");
        }
    }

    /** A route that is not a job, beside the job: Camel's route metrics count its exchanges. */
    static final String PING = """
            - route:
                id: ping
                from:
                  uri: "direct:ping"
                  steps:
                    - setBody:
                        constant: "pong"
            """;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_jobs_items_are_counted_by_the_factorys_metrics_and_other_routes_by_camels(TestDatabase db)
            throws Exception {
        FactoryHome home = new FactoryHome(dir, db).route("mix.camel.yaml", ROUTE).route("ping.camel.yaml", PING);
        int port = home.withHttpServer();
        try (var running = home.start(new MutableClock())) {
            running.offer("mix", "good", "{}");
            running.offer("mix", "bad", "{}");
            assertThat(running.trigger("mix")).isPositive();
            running.app().context().createProducerTemplate().sendBody("direct:ping", "ping");

            String metrics = scrape(port);

            assertThat(value(metrics, "factory_items_total{job=\"mix\",outcome=\"done\"}")).isEqualTo(1);
            assertThat(value(metrics, "factory_items_total{job=\"mix\",outcome=\"failed\"}")).isEqualTo(1);
            assertThat(value(metrics, "factory_item_duration_seconds_count{job=\"mix\"}")).isEqualTo(2);
            assertThat(lines(metrics, "camel_exchanges_total{", "routeId=\"ping\"")).as(metrics).hasSize(1)
                    .allMatch(line -> line.endsWith(" 1.0"));
            assertThat(lines(metrics, "camel_", "routeId=\"mix\"")).as("Camel's series of the job's route")
                    .noneMatch(line -> line.startsWith("camel_exchanges_total")
                            || line.startsWith("camel_exchanges_failed") || line.startsWith("camel_route_policy"));
            // a call the job's route makes is still timed: here, its failure sent to the error table
            assertThat(lines(metrics, "camel_exchange_event_notifier_seconds_count{", "routeId=\"mix\""))
                    .anyMatch(line -> line.contains("endpointName=\"bean://factoryErrors\"")
                            && line.contains("eventType=\"ExchangeSentEvent\""));
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_outbox_gauges_read_the_table_at_most_every_few_seconds(TestDatabase db) throws Exception {
        FactoryHome home = new FactoryHome(dir, db).route("mix.camel.yaml", ROUTE);
        int port = home.withHttpServer();
        MutableClock clock = new MutableClock();
        try (var running = home.start(clock)) {
            assertThat(value(scrape(port), "factory_alerts_pending")).isZero();
            AlertOutbox outbox = running.app().context().getRegistry().lookupByNameAndType("alertOutbox",
                    AlertOutbox.class);
            outbox.event("mix", "one pending", "waits, as no mail host is set");
            assertThat(value(scrape(port), "factory_alerts_pending")).as("read less than 5 s ago").isZero();

            clock.advance(Duration.ofSeconds(6));
            assertThat(value(scrape(port), "factory_alerts_pending")).isEqualTo(1);
        }
    }

    static String scrape(int port) throws Exception {
        HttpResponse<String> response = TestHttp.client().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/observe/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    /** The samples (not the comments) that start with {@code prefix} and hold {@code label}. */
    static List<String> lines(String metrics, String prefix, String label) {
        return metrics.lines().filter(line -> line.startsWith(prefix) && line.contains(label)).toList();
    }

    /** The value of the sample whose name and labels are given, as the exposition format writes it. */
    static double value(String metrics, String sample) {
        Matcher m = Pattern.compile("^" + Pattern.quote(sample) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
        assertThat(m.find()).as("a line for " + sample + " in\n" + metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
