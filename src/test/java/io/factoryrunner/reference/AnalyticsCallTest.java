package io.factoryrunner.reference;

import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static io.factoryrunner.reference.ReferenceFactoryTest.json;
import static io.factoryrunner.testsupport.Sql.column;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A user's job that calls the analytics product through the framework's shared route
 * ({@code routes/framework/analytics-call.camel.yaml}) instead of writing the call and the refusal check itself; the
 * product is WireMock.
 */
class AnalyticsCallTest {

    static final String KEY = "key-0b6d2f19-analytics";

    /** What a refusal's error says, in the caller's words. */
    static final String REFUSAL = """
                    - setProperty:
                        name: AnalyticsRefusal
                        simple: "analytics refused to score ${header.FactoryItemKey}"
            """;

    /** A job that posts each item's data to /scores/{key} of the product, in a user's own route file. */
    static String scoreRoute(String refusal) {
        return """
                - route:
                    id: score
                    from:
                      uri: "job:score"
                      parameters:
                        cron: "0 0 0 1 1 ? 2099"
                      steps:
                        - setHeader:
                            name: CamelHttpMethod
                            constant: POST
                        - setHeader:
                            name: Content-Type
                            constant: "application/json"
                        - setProperty:
                            name: AnalyticsPath
                            simple: "/scores/${header.FactoryItemKey}"
                """ + refusal + """
                        - to: "direct:analytics-call"
                """;
    }

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home.route("score.camel.yaml", scoreRoute(REFUSAL))
            .property("analytics.url", "http://localhost:" + home.overrides().get("api.port") + "/analytics")
            .property("analytics.api-key", KEY)
            .property("factory.retry.initial-delay", "20")
            .property("factory.retry.max-delay", "200"));
    final WireMockServer api = factory.api();

    @Test
    void a_refusal_is_a_job_initialization_error_recorded_with_the_http_call_and_not_retried() throws Exception {
        api.stubFor(post(urlPathEqualTo("/analytics/scores/acme"))
                .willReturn(json(422, "{\"detail\": \"column spend is missing\"}")));
        FactoryHome.Running running = factory.start(factory.home(TestDatabase.H2));
        DataSource ds = running.dataSource();
        running.offer("score", "acme", "{\"rows\": 3}");

        running.trigger("score");

        assertThat(rows(ds, "SELECT job, item_key, category, attempts, message, http_method, http_url, http_status,"
                + " http_response FROM factory_error")).singleElement().satisfies(r -> {
                    assertThat(r.get("job")).isEqualTo("score");
                    assertThat(r.get("item_key")).isEqualTo("acme");
                    assertThat(r.get("category")).isEqualTo("job_initialization");
                    assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(1);
                    assertThat(r.get("message")).isEqualTo(
                            "analytics refused to score acme: HTTP 422 {\"detail\": \"column spend is missing\"}");
                    assertThat(r.get("http_method")).isEqualTo("POST");
                    assertThat(r.get("http_url")).isEqualTo("http://localhost:" + api.port() + "/analytics/scores/acme");
                    assertThat(((Number) r.get("http_status")).intValue()).isEqualTo(422);
                    assertThat((String) r.get("http_response")).contains("column spend is missing");
                });
        assertThat(column(ds, "SELECT status FROM job_state WHERE job = 'score' AND item_key = 'acme'"))
                .containsExactly("failed");
        assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox WHERE job = 'score'")).isZero();
        api.verify(1, postRequestedFor(urlPathEqualTo("/analytics/scores/acme")).withHeader("X-API-Key",
                equalTo(KEY)));
    }

    @Test
    void a_server_error_stays_transient_retried_and_puts_the_item_back_for_a_later_run() throws Exception {
        api.stubFor(post(urlPathEqualTo("/analytics/scores/acme"))
                .willReturn(json(503, "{\"detail\": \"down for maintenance\"}")));
        FactoryHome.Running running = factory.start(factory.home(TestDatabase.H2));
        DataSource ds = running.dataSource();
        running.offer("score", "acme", "{\"rows\": 3}");

        running.trigger("score");

        assertThat(rows(ds, "SELECT category, attempts, http_method, http_url, http_status FROM factory_error"))
                .singleElement().satisfies(r -> {
                    assertThat(r.get("category")).isEqualTo("http_api");
                    assertThat(((Number) r.get("attempts")).intValue()).isEqualTo(3);
                    assertThat(r.get("http_method")).isEqualTo("POST");
                    assertThat(r.get("http_url")).isEqualTo("http://localhost:" + api.port() + "/analytics/scores/acme");
                    assertThat(((Number) r.get("http_status")).intValue()).isEqualTo(503);
                });
        // not failed: back in the inbox, tried again by itself at a later run
        assertThat(column(ds, "SELECT item_key FROM job_inbox WHERE job = 'score'")).containsExactly("acme");
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'score' AND status = 'failed'")).isZero();
        api.verify(3, postRequestedFor(urlPathEqualTo("/analytics/scores/acme")));
    }

    @Test
    void a_refusal_without_words_of_the_callers_own_names_the_method_and_the_path() throws Exception {
        api.stubFor(post(urlPathEqualTo("/analytics/scores/acme")).willReturn(json(400, "{}")));
        FactoryHome.Running running = factory.start(factory.home(TestDatabase.H2)
                .route("score.camel.yaml", scoreRoute("")));
        DataSource ds = running.dataSource();
        running.offer("score", "acme", "{\"rows\": 3}");

        running.trigger("score");

        assertThat(column(ds, "SELECT message FROM factory_error WHERE category = 'job_initialization'"))
                .containsExactly("analytics refused POST /scores/acme: HTTP 400 {}");
    }
}
