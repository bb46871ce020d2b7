package io.factoryrunner;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import io.factoryrunner.job.JobEndpoint;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.sql.DataSource;
import org.apache.camel.Route;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A customer's own factory, of another domain than the reference one, written from what the README shows: orders
 * read from a table one item per row, offered with {@code to: job:}, POSTed to a web service that accepts one,
 * refuses one, fails on one and never answers one; then operated by SQL while it runs.
 */
class CustomerFactoryTest {

    static final String ROUTES = """
            - route:
                id: orders-intake
                from:
                  uri: "quartz:intake/orders"
                  parameters:
                    cron: "{{orders.intake-cron}}"
                  steps:
                    - to: "sql:SELECT id, customer, total FROM orders WHERE status = 'new' ORDER BY id"
                    - to:
                        uri: "job:orders"
                        parameters:
                          key: "${body[id]}"
            - route:
                id: orders
                from:
                  uri: "job:orders"
                  parameters:
                    cron: "{{job.orders.cron}}"
                    transaction: claim
                  steps:
                    - setHeader:
                        name: CamelHttpMethod
                        constant: POST
                    - toD: "{{shop.url}}/api/orders/${header.FactoryItemKey}"
            - route:
                id: ship
                from:
                  uri: "job:ship"
                  parameters:
                    upstream: orders
                    cron: "{{job.ship.cron}}"
                  steps:
                    - log: "shipping order ${header.FactoryItemKey}"
            """;

    static final String NEVER = "0 0 0 1 1 ? 2099";

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home.applicationProperties("""
            shop.url = http://localhost:{{api.port}}
            orders.intake-cron = 0/1 * * * * ?
            job.orders.cron = %s
            job.ship.cron = %s
            job.orders.http.response-timeout = 3s
            factory.retry.max-attempts = 2
            factory.retry.initial-delay = 50ms
            """.formatted(NEVER, NEVER)).route("orders.camel.yaml", ROUTES));
    final WireMockServer shop = factory.api();
    final GreenMail smtp = factory.mail();

    @BeforeEach
    void shop() {
        shop.stubFor(post(urlPathEqualTo("/api/orders/1")).willReturn(aResponse().withStatus(201)));
        shop.stubFor(post(urlPathEqualTo("/api/orders/2")).willReturn(aResponse().withStatus(400)
                .withBody("{\"error\":\"unknown customer\"}")));
        shop.stubFor(post(urlPathEqualTo("/api/orders/3")).willReturn(aResponse().withStatus(500)));
        shop.stubFor(post(urlPathEqualTo("/api/orders/4")).willReturn(aResponse().withStatus(201)
                .withFixedDelay(30_000)));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void every_order_is_accounted_for_and_each_failure_mail_says_what_comes_next(TestDatabase db) throws Exception {
        // the customer's table is there before the factory's first start
        FactoryHome home = factory.home(db).onEmptyDatabase().execute(
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(100), total INTEGER,"
                        + " status VARCHAR(20))",
                "INSERT INTO orders VALUES (1, 'ACME', 10, 'new'), (2, 'Nobody', 20, 'new'),"
                        + " (3, 'Initech', 30, 'new'), (4, 'Hooli', 40, 'new'), (5, 'Umbrella', 50, 'shipped')");
        var running = factory.start(home);
        FactoryApplication app = running.app();
        DataSource ds = app.database().dataSource();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> count(ds, "SELECT COUNT(*) FROM job_inbox WHERE job = 'orders'") == 4);

        assertThat(app.jobs().trigger("orders", Trigger.MANUAL)).isPositive();
        assertThat(app.jobs().trigger("ship", Trigger.MANUAL)).isPositive();

        Map<String, String> where = new TreeMap<>();
        rows(ds, "SELECT item_key, status FROM job_state WHERE job = 'orders'")
                .forEach(r -> where.put((String) r.get("item_key"), (String) r.get("status")));
        rows(ds, "SELECT item_key FROM job_inbox WHERE job = 'orders'")
                .forEach(r -> where.put((String) r.get("item_key"), "waiting"));
        assertThat(where).isEqualTo(Map.of("1", "done", "2", "failed", "3", "waiting", "4", "waiting"));
        assertThat(rows(ds, "SELECT item_key, status FROM job_state WHERE job = 'ship'")).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("item_key", "1").containsEntry("status", "done"));
        // the row as the intake offered it waits with the order put back
        assertThat(rows(ds, "SELECT data FROM job_inbox WHERE job = 'orders' AND item_key = '3'"))
                .singleElement().satisfies(r -> assertThat((String) r.get("data")).contains("\"Initech\"")
                        .containsIgnoringCase("\"total\":30"));

        await().atMost(Duration.ofSeconds(30)).until(() -> smtp.getReceivedMessages().length >= 3);
        List<String> mails = mails();
        assertThat(mails).anySatisfy(m -> assertThat(m).contains("orders").contains("400")
                .contains("waits for a redrive"));
        assertThat(mails).anySatisfy(m -> assertThat(m).contains("orders").contains("500")
                .contains("tried again by itself"));
        assertThat(mails).anySatisfy(m -> assertThat(m).contains("orders").containsIgnoringCase("timed out")
                .contains("/api/orders/4").contains("tried again by itself"));
        assertThat(mails.stream().map(m -> m.lines().findFirst().orElse("")).distinct()).hasSize(mails.size());
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_cron_change_and_a_pause_written_by_sql_reach_the_running_factory(TestDatabase db) throws Exception {
        var running = factory.start(factory.home(db).property("orders.intake-cron", NEVER));
        FactoryApplication app = running.app();
        DataSource ds = app.database().dataSource();
        // a cron of its own that never fires while the test runs: a fire at a whole five minutes would add a run
        Sql.execute(ds, "INSERT INTO factory_config (config_key, config_value, updated_by, updated_at)"
                + " VALUES ('job.orders.cron', '0 0 0 1 1 ? 2098', 'ops', CURRENT_TIMESTAMP)");
        await().atMost(Duration.ofSeconds(20)).until(() -> "0 0 0 1 1 ? 2098".equals(cronOf(app, "orders")));

        Sql.execute(ds, "INSERT INTO factory_config (config_key, config_value, updated_by, updated_at)"
                + " VALUES ('job.orders.paused', 'true', 'ops', CURRENT_TIMESTAMP)");
        await().atMost(Duration.ofSeconds(20)).until(() -> app.context().getPropertiesComponent()
                .resolveProperty("job.orders.paused").orElse("").equals("true"));
        assertThat(app.jobs().trigger("orders", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(rows(ds, "SELECT status, error_summary FROM job_run WHERE job = 'orders'")).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("status", "skipped")
                        .containsEntry("error_summary", "paused (job.orders.paused = true)"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void validate_passes_the_factory_and_then_names_a_cron_written_with_five_fields(TestDatabase db) {
        FactoryHome home = factory.home(db);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = FactoryRunner.validate(home.app(FactoryApplication.Mode.VALIDATE),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out, true, StandardCharsets.UTF_8),
                false);
        assertThat(code).isEqualTo(FactoryRunner.OK);
        assertThat(out.toString(StandardCharsets.UTF_8).lines()).hasSize(2).first().isEqualTo("Configuration valid."
                + " Routes (7): analytics-call, digest, housekeeping, notify, orders, orders-intake, ship");
        assertThat(out.toString(StandardCharsets.UTF_8).lines().skip(1)).singleElement()
                .satisfies(line -> assertThat(line).startsWith("Database: "));

        home.route("orders.camel.yaml", ROUTES.replace("{{job.ship.cron}}", "0 5 * * *"));
        out.reset();
        code = FactoryRunner.validate(home.app(FactoryApplication.Mode.VALIDATE),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out, true, StandardCharsets.UTF_8),
                false);
        assertThat(code).isEqualTo(FactoryRunner.FAILED);
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("Invalid: Route 'ship' in"
                + " config/routes/orders.camel.yaml: cron '0 5 * * *' ").doesNotContain("Exception");
    }

    static final String DROP = """
            - route:
                id: orders-drop
                from:
                  uri: "file:data/orders"
                  parameters:
                    include: ".*\\\\.csv"
                    move: ".done/${file:name}"
                  steps:
                    - split:
                        method:
                          ref: csvRows
                          method: rows
                        streaming: true
                        steps:
                          - to:
                              uri: "job:orders"
                              parameters:
                                key: "${body[id]}"
            """;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_dropped_csv_file_offers_one_order_per_row(TestDatabase db) throws Exception {
        var running = factory.start(factory.home(db).property("orders.intake-cron", NEVER)
                .route("drop.camel.yaml", DROP));
        DataSource ds = running.dataSource();
        Path drop = factory.dir().resolve("data/orders");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve("orders.tmp"), """
                id,customer,total
                7,"Smith, Jones & Co",70
                8,"The ""Best"" Shop",80
                """);
        Files.move(drop.resolve("orders.tmp"), drop.resolve("orders.csv"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(drop.resolve(".done/orders.csv")));
        assertThat(rows(ds, "SELECT item_key, data FROM job_inbox WHERE job = 'orders' ORDER BY item_key"))
                .satisfiesExactly(
                        r -> assertThat(r).containsEntry("item_key", "7")
                                .hasEntrySatisfying("data", d -> assertThat((String) d)
                                        .contains("\"customer\":\"Smith, Jones & Co\"")),
                        r -> assertThat(r).containsEntry("item_key", "8")
                                .hasEntrySatisfying("data", d -> assertThat((String) d)
                                        .contains("\"customer\":\"The \\\"Best\\\" Shop\"")));
    }

    /** The job's cron as its route has it now; null while the route is being created again. */
    private static String cronOf(FactoryApplication app, String job) {
        Route route = app.context().getRoute(job);
        return route == null ? null : ((JobEndpoint) route.getEndpoint()).getCron();
    }

    private List<String> mails() {
        List<String> texts = new ArrayList<>();
        for (MimeMessage m : smtp.getReceivedMessages()) {
            try {
                texts.add(m.getSubject() + "\n" + GreenMailUtil.getBody(m));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return texts;
    }
}
