package io.factoryrunner.reference;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static io.factoryrunner.reference.ReferenceFactoryTest.json;
import static io.factoryrunner.reference.ReferenceFactoryTest.referenceFactory;
import static io.factoryrunner.reference.ReferenceFactoryTest.trigger;
import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The factory template's table names: a view {@code <job>_state} per declared job, over {@code job_state}. */
class JobStateViewsTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final WireMockServer api = factory.api();

    @BeforeEach
    void analytics() {
        api.stubFor(post(urlPathEqualTo("/api/v1/datasets")).willReturn(json(201, "{\"id\": \"ds-1\"}")));
        api.stubFor(post(urlPathEqualTo("/api/v1/builds")).willReturn(json(202, "{\"id\": \"b-1\"}")));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void build_state_shows_the_item_the_build_job_moved(TestDatabase db) throws Exception {
        FactoryApplication app = factory.start(home(db)).app();
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

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_view_of_a_job_no_route_declares_any_more_is_dropped_and_its_rows_stay(TestDatabase db) throws Exception {
        FactoryHome home = home(db);
        try (var running = factory.start(home)) {
            dropPartners(running.dataSource());
            trigger(running.app(), "prepare");
        }
        home.property("factory.routes.shipped", "framework/**").property("factory.demo.enabled", "false");
        DataSource ds = factory.start(home).dataSource();
        assertThatThrownBy(() -> count(ds, "SELECT COUNT(*) FROM prepare_state")).isInstanceOf(SQLException.class);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'prepare'")).isEqualTo(1);
    }

    @Test
    void a_table_of_the_customer_named_like_a_view_is_left_alone() throws Exception {
        FactoryHome home = home(TestDatabase.H2);
        try (var running = factory.start(home)) {
            DataSource ds = running.dataSource();
            execute(ds, "DROP VIEW check_state");
            execute(ds, "CREATE TABLE check_state (note VARCHAR(100))");
            execute(ds, "INSERT INTO check_state (note) VALUES ('ours')");
        }
        DataSource ds = factory.start(home).dataSource();
        assertThat(rows(ds, "SELECT note FROM check_state")).extracting(r -> r.get("note"))
                .containsExactly("ours");
        assertThat(count(ds, "SELECT COUNT(*) FROM build_state")).isZero();
    }

    private FactoryHome home(TestDatabase db) {
        return referenceFactory(factory.home(db), "http://localhost:" + api.port());
    }

    private void dropPartners(DataSource ds) throws Exception {
        Path drop = factory.dir().resolve("drop");
        Files.createDirectories(drop);
        Files.writeString(drop.resolve("partners.csv"), "customer_id,region\nC-1,NORTH\n");
        await().atMost(Duration.ofSeconds(20)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_inbox WHERE job = 'prepare'") == 1);
    }
}
