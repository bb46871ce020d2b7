package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.camel.builder.NotifyBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FactoryStartTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    static final String TICK_ROUTE = """
            - route:
                id: tick
                from:
                  uri: "quartz:test/tick"
                  parameters:
                    cron: "{{job.tick.cron}}"
                  steps:
                    - setBody:
                        constant: "{{tick.message}}"
            """;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void operator_route_fires_on_its_configured_cron(TestDatabase db) {
        FactoryHome home = factory.home(db)
                .applicationProperties("job.tick.cron = 0/1 * * * * ?\ntick.message = hello\n")
                .route("tick.camel.yaml", TICK_ROUTE);
        try (var running = factory.start(home)) {
            NotifyBuilder fired = new NotifyBuilder(running.app().context()).fromRoute("tick")
                    .whenAnyDoneMatches(e -> "hello".equals(e.getMessage().getBody(String.class))).create();
            assertThat(fired.matches(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void health_endpoint_reports_context_routes_and_database(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db)
                .applicationProperties("job.tick.cron = 0 0 0 1 1 ? 2099\ntick.message = hello\n")
                .route("tick.camel.yaml", TICK_ROUTE);
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            HttpResponse<String> response = TestHttp.client().send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/observe/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            JsonNode health = new ObjectMapper().readTree(response.body());
            assertThat(health.path("status").asText()).isEqualTo("UP");
            Map<String, String> checks = new HashMap<>();
            health.path("checks").forEach(c -> checks.put(c.path("name").asText(), c.path("status").asText()));
            assertThat(checks).containsEntry("context", "UP").containsEntry("route:tick", "UP")
                    .containsEntry("database", "UP");
        }
    }

    @Test
    void a_job_that_has_not_fired_yet_is_healthy() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2).route("daily.camel.yaml", """
                - route:
                    id: daily
                    from:
                      uri: "job:daily"
                      parameters:
                        cron: "0 0 0 1 1 ? 2099"
                      steps:
                        - log: "daily"
                """);
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            HttpResponse<String> response = TestHttp.client().send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/observe/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            Map<String, String> checks = new HashMap<>();
            new ObjectMapper().readTree(response.body()).path("checks")
                    .forEach(c -> checks.put(c.path("name").asText(), c.path("status").asText()));
            assertThat(checks).containsEntry("consumer:daily", "UP").containsEntry("route:daily", "UP");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void second_start_on_an_existing_database_keeps_its_data(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db)
                .applicationProperties("job.tick.cron = 0 0 0 1 1 ? 2099\ntick.message = hello\n")
                .route("tick.camel.yaml", TICK_ROUTE);
        try (var running = factory.start(home)) {
            running.app().configTable().set("customer.name", "ACME", false, "the customer", "test");
        }
        try (var running = factory.start(home)) {
            assertThat(running.app().configTable().loadAll()).containsKey("customer.name");
            assertThat(running.app().context().resolvePropertyPlaceholders("{{customer.name}}")).isEqualTo("ACME");
            assertThat(running.app().pendingMigrations()).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_customer_table_made_before_the_first_start_stays_and_the_factory_starts_beside_it(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db).onEmptyDatabase();
        try (Connection c = DriverManager.getConnection(home.url(), db.user(), db.password());
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(100))");
            s.execute("INSERT INTO orders VALUES (1, 'ACME')");
        }
        for (int start = 1; start <= 2; start++) {
            try (var running = factory.start(home)) {
                var app = running.app();
                app.jobStore().offer("any", "k", "1", "d", true);
                try (Connection c = app.database().dataSource().getConnection(); Statement s = c.createStatement();
                        ResultSet rs = s.executeQuery("SELECT customer FROM orders WHERE id = 1")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("ACME");
                }
                assertThat(app.pendingMigrations()).isZero();
            }
        }
    }

    @Test
    void an_sql_client_on_this_machine_reads_and_writes_the_running_factorys_embedded_database() throws Exception {
        int port = FactoryHome.freePort();
        FactoryHome home = factory.home(TestDatabase.H2).withoutOverride("factory.db.url")
                .property("factory.db.h2-tcp-port", String.valueOf(port));
        try (var running = factory.start(home)) {
            assertThat(running.app().sqlAccessPort()).isEqualTo(port);
            try (Connection c = DriverManager.getConnection("jdbc:h2:tcp://localhost:" + port + "/factory", "sa", "");
                    Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO factory_config (config_key, config_value, updated_by, updated_at)"
                        + " VALUES ('customer.name', 'ACME', 'ops', CURRENT_TIMESTAMP)");
                try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM factory_config WHERE updated_by = 'ops'")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(1);
                }
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> "ACME".equals(running.app().context()
                    .getPropertiesComponent().resolveProperty("customer.name").orElse(null)));
        }
    }

    @Test
    void embedded_default_database_lives_under_the_data_directory() {
        FactoryHome home = factory.home(TestDatabase.H2).withoutOverride("factory.db.url")
                .applicationProperties("factory.data-dir = store\n");
        try (var running = factory.start(home)) {
            assertThat(running.app().database().settings().url()).contains(dir.resolve("store").toString());
        }
        assertThat(dir.resolve("store/factory.mv.db")).exists();
    }
}
