package io.factoryrunner.reference;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.apache.camel.Route;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's first command: the shipped configuration, in demo mode, runs the whole factory by itself. */
class DemoModeTest {

    static final List<String> FRAMEWORK = List.of("analytics-call", "digest", "housekeeping", "notify");
    static final List<String> REFERENCE_FACTORY = List.of("build", "check", "cleanup", "prepare", "prepare-drop",
            "prepare-intake", "process", "ready");

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    /** The shipped configuration, with the shipped choice of routes rather than the tests' framework only. */
    private FactoryHome shippedHome() throws Exception {
        return factory.home(TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .withoutOverride("factory.routes.shipped");
    }

    /**
     * The routes of the YAML files; the operator API's routes (api-*) and the status page's (page, page-files) come
     * with every factory that serves HTTP.
     */
    private static List<String> routeIds(FactoryHome.Running running) {
        List<String> all = running.app().context().getRoutes().stream().map(Route::getRouteId).sorted().toList();
        assertThat(all).contains("api-jobs", "api-item-redrive", "page", "page-files");
        return all.stream().filter(id -> !id.startsWith("api-") && !id.equals("page") && !id.equals("page-files"))
                .toList();
    }

    @Test
    void demo_mode_loads_the_reference_factory_and_the_stand_in_api() throws Exception {
        FactoryHome home = shippedHome();
        home.withHttpServer();
        try (var running = factory.start(home)) {
            assertThat(routeIds(running)).containsAll(REFERENCE_FACTORY).containsAll(FRAMEWORK)
                    .contains("demo-api-builds");
        }
    }

    @Test
    void with_demo_mode_off_the_reference_factory_is_not_loaded() throws Exception {
        FactoryHome home = shippedHome().property("factory.demo.enabled", "false");
        home.withHttpServer();
        try (var running = factory.start(home)) {
            assertThat(routeIds(running)).isEqualTo(FRAMEWORK);
        }
    }

    @Test
    void the_reference_factory_loads_without_the_demo_when_the_shipped_routes_name_it() throws Exception {
        FactoryHome home = shippedHome().property("factory.demo.enabled", "false")
                .property("factory.routes.shipped", "framework/**,factory/**");
        home.withHttpServer();
        try (var running = factory.start(home)) {
            assertThat(routeIds(running)).containsAll(REFERENCE_FACTORY).containsAll(FRAMEWORK)
                    .noneMatch(id -> id.startsWith("demo-api"));
        }
    }

    @Test
    void the_shipped_demo_moves_customers_through_all_six_jobs_and_shows_one_failed_build() throws Exception {
        FactoryHome home = shippedHome().property("cleanup.retention", "0");
        home.withHttpServer();
        try (var running = factory.start(home)) {
            DataSource ds = running.app().database().dataSource();
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1)).until(() ->
                    count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'cleanup' AND status = 'done'") == 2);
            // NA and EMEA (10 customers) are scored; APAC's build fails on purpose in the stand-in
            assertThat(count(ds, "SELECT COUNT(*) FROM customer_scores")).isEqualTo(10);
            assertThat(count(ds, "SELECT COUNT(*) FROM factory_error WHERE job = 'check'"
                    + " AND category = 'build_failure' AND message LIKE '%customers-apac%'")).isEqualTo(1);
            assertThat(count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'error_opened' AND job = 'check'"))
                    .isEqualTo(1);
            for (String job : new String[] {"prepare", "build", "check", "ready", "process", "cleanup"}) {
                assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE job = '" + job
                        + "' AND status = 'succeeded' AND items_done > 0")).as(job + " runs that did work")
                        .isPositive();
            }
        }
    }

    @Test
    void the_demo_api_answers_401_to_requests_without_the_factorys_api_key() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")));
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            String key = running.app().context().resolvePropertyPlaceholders("{{analytics.api-key}}");
            String api = "http://127.0.0.1:" + port + "/demo-api/api/v1";
            for (String wrong : new String[] {null, "", "none", key + "x"}) {
                assertThat(send("POST", api + "/datasets", wrong).statusCode()).isEqualTo(401);
                assertThat(send("POST", api + "/builds", wrong).statusCode()).isEqualTo(401);
                assertThat(send("GET", api + "/builds/b-1", wrong).statusCode()).isEqualTo(401);
                assertThat(send("GET", api + "/builds/b-1/results", wrong).statusCode()).isEqualTo(401);
                assertThat(send("DELETE", api + "/builds/b-1", wrong).statusCode()).isEqualTo(401);
            }
            HttpResponse<String> created = send("POST", api + "/datasets", key);
            assertThat(created.statusCode()).isEqualTo(201);
            assertThat(created.headers().map().keySet()).noneMatch(h -> h.equalsIgnoreCase("X-API-Key"));
            String dataset = api + "/datasets/" + new ObjectMapper().readTree(created.body()).path("id").asText();
            assertThat(send("DELETE", dataset, null).statusCode()).isEqualTo(401);
            assertThat(send("DELETE", dataset, key).statusCode()).as("the data set the refused DELETE left")
                    .isEqualTo(200);
        }
    }

    @Test
    void the_demo_api_takes_the_key_the_operator_configured() throws Exception {
        FactoryHome home = factory.home(TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .property("analytics.api-key", "operator-key-5d2e91");
        int port = home.withHttpServer();
        try (var running = factory.start(home)) {
            String datasets = "http://127.0.0.1:" + port + "/demo-api/api/v1/datasets";
            assertThat(send("POST", datasets, "operator-key-5d2e91").statusCode()).isEqualTo(201);
            assertThat(send("POST", datasets, null).statusCode()).isEqualTo(401);
        }
    }

    private static HttpResponse<String> send(String method, String url, String apiKey)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
                .method(method, BodyPublishers.ofString(method.equals("POST") ? "customer_id,region\nc1,NA\n" : ""));
        if (apiKey != null) {
            request.header("X-API-Key", apiKey);
        }
        return TestHttp.client().send(request.build(), BodyHandlers.ofString());
    }
}
