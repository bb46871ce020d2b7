package io.factoryrunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The factory's database stops answering while the factory runs: operators see it, and nothing is forgotten. */
class DatabaseOutageTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    @Test
    void health_reports_the_database_down_and_the_configuration_keeps_its_last_values() throws Exception {
        // a PostgreSQL server of its own, which the test stops; it replaces the database the home would use
        try (EmbeddedPostgres server = EmbeddedPostgres.builder().start()) {
            FactoryHome home = factory.home(TestDatabase.H2)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    .property("factory.db.connect-timeout", "10s");
            int port = home.withHttpServer();
            try (var running = factory.start(home)) {
                FactoryApplication app = running.app();
                app.configTable().set("customer.name", "ACME", false, "the customer", "test");
                await().atMost(Duration.ofSeconds(10)).until(() -> "ACME".equals(customerName(app)));
                assertThat(health(port).status).isEqualTo(200);

                server.close();

                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    Health health = health(port);
                    assertThat(health.status).isEqualTo(503);
                    assertThat(health.checks).containsEntry("database", "DOWN");
                });
                await().atMost(Duration.ofSeconds(30)).until(() -> CapturedLog.text()
                        .contains("Cannot read the configuration table, keeping the values read before"));
                assertThat(customerName(app)).isEqualTo("ACME");
            }
        }
    }

    @Test
    void the_operator_api_answers_503_with_its_error_body_while_the_database_is_down() throws Exception {
        try (EmbeddedPostgres server = EmbeddedPostgres.builder().start()) {
            FactoryHome home = factory.home(TestDatabase.H2)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    // how long a call waits for a connection before it gives up
                    .property("factory.db.connect-timeout", "3s");
            int port = home.withHttpServer();
            try (var running = factory.start(home)) {
                String token = Files.readString(dir.resolve("data/admin.token")).trim();
                assertThat(api(port, "/api/runs", token).statusCode()).isEqualTo(200);

                server.close();

                await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                    HttpResponse<String> answer = api(port, "/api/runs", token);
                    assertThat(answer.statusCode()).isEqualTo(503);
                    assertThat(answer.headers().firstValue("Content-Type")).hasValue("application/json");
                    JsonNode body = new ObjectMapper().readTree(answer.body());
                    assertThat(body.path("error").asText()).isEqualTo("The database does not answer; try again"
                            + " shortly");
                    assertThat(body.has("detail")).isTrue();
                });
                // a call that needs the token checked against the table answers the same
                assertThat(api(port, "/api/jobs", "fr_not-seen-before").statusCode()).isEqualTo(503);
            }
        }
    }

    private static HttpResponse<String> api(int port, String path, String token) throws Exception {
        return TestHttp.client().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String customerName(FactoryApplication app) {
        return app.context().getPropertiesComponent().resolveProperty("customer.name").orElse(null);
    }

    private record Health(int status, Map<String, String> checks) {
    }

    private static Health health(int port) throws Exception {
        HttpResponse<String> response = TestHttp.client().send(HttpRequest.newBuilder(
                // well below the pool's 10 s wait for a connection: health answers without waiting for it
                URI.create("http://localhost:" + port + "/observe/health")).timeout(Duration.ofSeconds(6)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body = new ObjectMapper().readTree(response.body());
        Map<String, String> checks = new HashMap<>();
        body.path("checks").forEach(c -> checks.put(c.path("name").asText(), c.path("status").asText()));
        return new Health(response.statusCode(), checks);
    }
}
