package io.factoryrunner.health;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.util.GreenMail;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.MutableClock;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import jakarta.mail.internet.MimeMessage;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The dead-man alert: a job that has not succeeded within {@code job.<name>.overdue-after} is down in health and
 * mailed once, and mailed again when it succeeds. The clock is moved, the check runs every 100 ms.
 */
class OverdueJobsTest {

    /** Its cron never fires: only the test runs it, as a job whose schedule stopped firing. */
    static final String ROUTE = """
            - route:
                id: nightly
                from:
                  uri: "job:nightly"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - choice:
                        when:
                          - simple: "${header.FactoryItemKey} == 'bad'"
                            steps:
                              - throwException:
                                  exceptionType: "java.lang.IllegalStateException"
                                  message: "bad item"
            """;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home.route("nightly.camel.yaml", ROUTE)
            .property("factory.overdue.check-interval", "100"));
    final GreenMail smtp = factory.mail();
    final MutableClock clock = new MutableClock();

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_job_that_never_succeeded_is_down_and_mailed_once_the_factory_is_up_longer_than_its_limit(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db).property("job.nightly.overdue-after", "1h");
        int port = home.withHttpServer();
        try (var running = factory.start(home, clock)) {
            assertThat(health(port).statusCode()).as("up for less than an hour").isEqualTo(200);

            clock.advance(Duration.ofMinutes(90));

            await().atMost(Duration.ofSeconds(20)).until(() -> health(port).statusCode() == 503);
            assertThat(health(port).body()).contains("job nightly has not succeeded since the factory started 1h30m")
                    .contains("job.nightly.overdue-after = 1h");
            await().atMost(Duration.ofSeconds(20)).until(() -> subjects().size() == 1);
            assertThat(subjects()).containsExactly("[factory factory-runner] overdue: nightly has not succeeded for"
                    + " 1h30m");
            assertThat(smtp.getReceivedMessages()[0].getContent().toString())
                    .contains("none since the factory started at");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_overdue_job_is_mailed_once_and_again_when_it_succeeds(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).property("job.nightly.overdue-after", "1h");
        int port = home.withHttpServer();
        try (var running = factory.start(home, clock)) {
            long first = running.trigger("nightly");
            clock.advance(Duration.ofHours(2));
            await().atMost(Duration.ofSeconds(20)).until(() -> subjects().size() == 1);
            assertThat(subjects().get(0)).endsWith("overdue: nightly has not succeeded for 2h0m");
            assertThat(smtp.getReceivedMessages()[0].getContent().toString()).contains("run " + first + ", ended at");
            clock.advance(Duration.ofMinutes(30));
            await().atMost(Duration.ofSeconds(20)).until(() -> health(port).body().contains("2h30m"));
            assertThat(count(running.dataSource(), "SELECT COUNT(*) FROM alerts WHERE kind = 'overdue'"))
                    .as("checked again and again, mailed once").isEqualTo(1);

            long second = running.trigger("nightly");

            await().atMost(Duration.ofSeconds(20)).until(() -> subjects().size() == 2);
            assertThat(subjects().get(1)).isEqualTo("[factory factory-runner] on time again: nightly");
            assertThat(smtp.getReceivedMessages()[1].getContent().toString()).contains("run " + second);
            assertThat(health(port).statusCode()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_limit_set_or_removed_in_the_configuration_table_applies_at_the_next_check(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db);
        int port = home.withHttpServer();
        try (var running = factory.start(home, clock)) {
            clock.advance(Duration.ofDays(30));
            running.app().configTable().set("job.nightly.overdue-after", "1d", false, "daily", "test");
            running.app().configWatcher().poll();
            await().atMost(Duration.ofSeconds(20)).until(() -> health(port).statusCode() == 503);

            running.app().configTable().set("job.nightly.overdue-after", "", false, "never overdue", "test");
            running.app().configWatcher().poll();

            await().atMost(Duration.ofSeconds(20)).until(() -> health(port).statusCode() == 200);
            assertThat(health(port).body()).doesNotContain("overdue.nightly");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_spell_of_lateness_is_mailed_once_across_restarts(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).property("job.nightly.overdue-after", "1h");
        int logged = CapturedLog.text().length();
        try (var running = factory.start(home, clock)) {
            clock.advance(Duration.ofHours(2));
            await().atMost(Duration.ofSeconds(20)).until(() -> subjects().size() == 1);
        }
        try (var again = factory.start(home, clock)) {
            clock.advance(Duration.ofHours(2));
            await().atMost(Duration.ofSeconds(20)).until(() -> CapturedLog.text().substring(logged).lines()
                    .filter(l -> l.contains("Job nightly is overdue")).count() == 2);
            assertThat(count(again.dataSource(), "SELECT COUNT(*) FROM alerts WHERE kind = 'overdue'"))
                    .as("still the spell of 'never succeeded'").isEqualTo(1);
        }
    }

    @Test
    void while_the_database_does_not_answer_the_check_logs_it_and_keeps_what_it_found() throws Exception {
        // a PostgreSQL server of its own, which the test stops
        try (EmbeddedPostgres server = EmbeddedPostgres.builder().start()) {
            FactoryHome home = factory.home(TestDatabase.H2)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    .property("factory.db.connect-timeout", "1s")
                    .property("job.nightly.overdue-after", "1h");
            int port = home.withHttpServer();
            try (var running = factory.start(home, clock)) {
                clock.advance(Duration.ofHours(2));
                await().atMost(Duration.ofSeconds(20)).until(() -> subjects().size() == 1);
                int logged = CapturedLog.text().length();

                server.close();

                await().atMost(Duration.ofSeconds(30)).until(() -> CapturedLog.text().substring(logged)
                        .contains("Cannot check whether job nightly is overdue"));
                assertThat(health(port).body()).contains("job nightly has not succeeded since the factory started");
                HttpResponse<String> metrics = TestHttp.client().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/observe/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(metrics.statusCode()).isEqualTo(200);
                assertThat(metrics.body()).contains("factory_alerts_pending ");
            }
        }
    }

    List<String> subjects() throws Exception {
        MimeMessage[] messages = smtp.getReceivedMessages();
        return Arrays.stream(messages).map(m -> {
            try {
                return m.getSubject();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList();
    }

    static HttpResponse<String> health(int port) throws Exception {
        return TestHttp.client().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/observe/health?data=true")).build(), HttpResponse.BodyHandlers.ofString());
    }
}
