package io.factoryrunner.reference;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The factory template's table names: a view {@code <job>_state} per declared job, over {@code job_state}. */
class JobStateViewsTest {

    static final String NEVER = "0 0 0 1 1 ? 2099";

    @TempDir
    Path dir;

    WireMockServer api;

    @BeforeEach
    void startApi() {
        api = new WireMockServer(options().dynamicPort());
        api.start();
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).willReturn(json(201, "{\"id\": \"ds-1\"}")));
        api.stubFor(post(urlPathEqualTo("/api/v1/builds")).willReturn(json(202, "{\"id\": \"b-1\"}")));
    }

    @AfterEach
    void stopApi() {
        api.stop();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void build_state_shows_the_item_the_build_job_moved(TestDatabase db) throws Exception {
        try (var running = home(db).start()) {
            FactoryApplication app = running.app();
            DataSource ds = app.database().dataSource();
            dropPartners(ds);
            trigger(app, "prepare", "build");

            assertThat(rows(ds, "SELECT * FROM build_state")).singleElement().satisfies(r -> {
                assertThat(r.get("item_key")).isEqualTo("partners");
                assertThat(r.get("status")).isEqualTo("done");
                assertThat((String) r.get("data")).contains("\"build_id\":\"b-1\"");
            });
            assertThat(rows(ds, "SELECT item_key, status FROM prepare_state")).extracting(r -> r.get("item_key")
                    + "=" + r.get("status")).containsExactly("partners=done");
            assertThat(count(ds, "SELECT COUNT(*) FROM check_state")).as("check has taken nothing yet").isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_view_of_a_job_no_route_declares_any_more_is_dropped_and_its_rows_stay(TestDatabase db) throws Exception {
        FactoryHome home = home(db);
        try (var running = home.start()) {
            DataSource ds = running.app().database().dataSource();
            dropPartners(ds);
            trigger(running.app(), "prepare");
        }
        home.property("factory.routes.shipped", "framework/**").property("factory.demo.enabled", "false");
        try (var running = home.start()) {
            DataSource ds = running.app().database().dataSource();
            assertThatThrownBy(() -> count(ds, "SELECT COUNT(*) FROM prepare_state")).isInstanceOf(SQLException.class);
            assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'prepare'")).isEqualTo(1);
        }
    }

    @Test
    void a_table_of_the_customer_named_like_a_view_is_left_alone() throws Exception {
        FactoryHome home = home(TestDatabase.H2);
        try (var running = home.start()) {
            DataSource ds = running.app().database().dataSource();
            execute(ds, "DROP VIEW check_state");
            execute(ds, "CREATE TABLE check_state (note VARCHAR(100))");
            execute(ds, "INSERT INTO check_state (note) VALUES ('ours')");
        }
        try (var running = home.start()) {
            DataSource ds = running.app().database().dataSource();
            assertThat(rows(ds, "SELECT note FROM check_state")).extracting(r -> r.get("note"))
                    .containsExactly("ours");
            assertThat(count(ds, "SELECT COUNT(*) FROM build_state")).isZero();
        }
    }

    private FactoryHome home(TestDatabase db) {
        FactoryHome home = new FactoryHome(dir, db)
                .property("factory.routes.shipped", "framework/**,factory/**")
                .property("factory.demo.enabled", "true")
                .property("analytics.url", "http://localhost:" + api.port())
                .property("source.drop-dir", dir.resolve("drop").toString())
                .property("source.cron", NEVER);
        for (String job : ReferenceFactoryTest.JOBS) {
            home.property("job." + job + ".cron", NEVER);
        }
        return home;
    }

    private void dropPartners(DataSource ds) throws Exception {
        Path drop = dir.resolve("drop");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve("partners.csv"), "customer_id,region\nC-1,NORTH\n");
        await().atMost(Duration.ofSeconds(20)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_inbox WHERE job = 'prepare'") == 1);
    }

    private static void trigger(FactoryApplication app, String... jobs) {
        for (String job : jobs) {
            assertThat(app.jobs().trigger(job, Trigger.MANUAL)).as("run of " + job).isPositive();
        }
    }

    private static ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
    }
}
