package io.factoryrunner.reference;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static io.factoryrunner.reference.ReferenceFactoryTest.json;
import static io.factoryrunner.reference.ReferenceFactoryTest.referenceFactory;
import static io.factoryrunner.reference.ReferenceFactoryTest.trigger;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.MutableClock;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the reference factory sends to the analytics product: JSON written by Jackson whatever a data set is called,
 * and the API key on every call, set once for all routes.
 */
class AnalyticsRequestsTest {

    static final String KEY = "key-5c1e0a77-analytics";
    static final String NAME = "ACME \"North\", West";

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final WireMockServer api = factory.api();
    final MutableClock clock = new MutableClock();

    @BeforeEach
    void analytics() {
        api.stubFor(post(urlPathEqualTo("/analytics/api/v1/datasets")).willReturn(json(201, "{\"id\": \"ds-1\"}")));
        api.stubFor(post(urlPathEqualTo("/analytics/api/v1/builds"))
                .withRequestBody(equalToJson("{\"dataset_id\": \"ds-1\", \"model\": \"gradient \\\"boosted\\\"\"}"))
                .willReturn(json(202, "{\"id\": \"b-1\", \"status\": \"queued\"}")));
        api.stubFor(get(urlPathEqualTo("/analytics/api/v1/builds/b-1"))
                .willReturn(json(200, "{\"id\": \"b-1\", \"status\": \"complete\", \"quality\": 0.9}")));
        api.stubFor(get(urlPathEqualTo("/analytics/api/v1/builds/b-1/results")).willReturn(json(200,
                "[{\"customer_id\": \"C-1\", \"score\": 0.5, \"segment\": \"gold\"},"
                        + " {\"customer_id\": \"C-2\", \"score\": 0.25, \"segment\": \"silver\"}]")));
        api.stubFor(delete(urlPathEqualTo("/analytics/api/v1/builds/b-1")).willReturn(aResponse().withStatus(204)));
        api.stubFor(delete(urlPathEqualTo("/analytics/api/v1/datasets/ds-1")).willReturn(aResponse().withStatus(204)));
    }

    @Test
    void a_data_set_named_with_quotes_and_a_comma_goes_through_every_job_and_its_scores_are_written()
            throws Exception {
        FactoryApplication app = factory.start(home(), clock).app();
        DataSource ds = app.database().dataSource();
        drop(NAME + ".csv", "customer_id,region,spend,visits\nC-1,NORTH,100,3\nC-2,NORTH,50,1\n");
        await().atMost(Duration.ofSeconds(20)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_inbox WHERE job = 'prepare'") == 1);

        trigger(app, "prepare", "build", "check", "ready", "process");

        assertThat(rows(ds, "SELECT job, status FROM job_state ORDER BY job")).extracting(r -> r.get("job")
                + "=" + r.get("status")).containsExactly("build=done", "check=done", "prepare=done",
                        "process=done", "ready=done");
        assertThat(rows(ds, "SELECT dataset, build_id, customer_id FROM customer_scores ORDER BY customer_id"))
                .extracting(r -> r.get("dataset") + "|" + r.get("build_id") + "|" + r.get("customer_id"))
                .containsExactly(NAME + "|b-1|C-1", NAME + "|b-1|C-2");
        assertThat(count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
        api.verify(1, postRequestedFor(urlPathEqualTo("/analytics/api/v1/builds"))
                .withRequestBody(matchingJsonPath("$.dataset_id", equalTo("ds-1"))));
    }

    @Test
    void every_call_to_the_analytics_url_carries_the_api_key_and_no_other_call_does() throws Exception {
        FactoryApplication app = factory.start(home(), clock).app();
        DataSource ds = app.database().dataSource();
        drop("partners.csv", "customer_id,region,spend,visits\nC-1,NORTH,100,3\n");
        await().atMost(Duration.ofSeconds(20)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_inbox WHERE job = 'prepare'") == 1);
        trigger(app, "prepare", "build", "check", "ready", "process");
        clock.advance(Duration.ofDays(8));
        trigger(app, "cleanup");
        api.verify(1, deleteRequestedFor(urlPathEqualTo("/analytics/api/v1/datasets/ds-1")));

        List<LoggedRequest> requests = api.findAll(anyRequestedFor(anyUrl()));
        assertThat(requests).extracting(r -> r.getMethod() + " " + r.getUrl()).containsExactlyInAnyOrder(
                "POST /analytics/api/v1/datasets", "POST /analytics/api/v1/builds",
                "GET /analytics/api/v1/builds/b-1", "GET /analytics/api/v1/builds/b-1/results",
                "DELETE /analytics/api/v1/builds/b-1", "DELETE /analytics/api/v1/datasets/ds-1");
        assertThat(requests).allSatisfy(r -> assertThat(r.getHeader("X-API-Key")).as(r.getUrl()).isEqualTo(KEY));

        // the same server outside analytics.url is someone else's: it does not get the key
        app.context().createProducerTemplate().requestBody("http://localhost:" + api.port() + "/elsewhere"
                + "?throwExceptionOnFailure=false", "");
        assertThat(api.findAll(anyRequestedFor(urlPathEqualTo("/elsewhere")))).singleElement()
                .satisfies(r -> assertThat(r.containsHeader("X-API-Key")).isFalse());
    }

    private FactoryHome home() {
        return referenceFactory(factory.home(TestDatabase.H2), "http://localhost:" + api.port() + "/analytics")
                .property("analytics.api-key", KEY)
                .property("analytics.model", "gradient \"boosted\"");
    }

    private void drop(String name, String csv) throws Exception {
        Path drop = factory.dir().resolve("drop");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve(name), csv);
    }
}
