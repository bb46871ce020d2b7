package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.StartupException;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Fires missed while the factory was down, counted on an injected clock that the test moves. */
class MisfireTest {

    static final Instant TEN = Instant.parse("2026-03-02T10:00:00Z");

    static final String HOURLY = """
            - route:
                id: hourly
                from:
                  uri: "job:hourly"
                  parameters:
                    cron: "{{job.hourly.cron}}"
                  steps:
                    - setBody:
                        simple: "${body}-done"
            """;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home.route("hourly.camel.yaml", HOURLY));

    private FactoryHome home(TestDatabase db, String policy) {
        return factory.home(db)
                .applicationProperties("job.hourly.cron = 0 0 * * * ?\njob.hourly.misfire = " + policy + "\n");
    }

    /** The job's runs that no schedule fired, in order: status/trigger done summary. */
    static List<String> runs(DataSource ds) throws Exception {
        return Sql.rows(ds, "SELECT status, trigger_kind, items_done, error_summary FROM job_run WHERE job = 'hourly'"
                + " AND trigger_kind <> 'schedule' ORDER BY run_id").stream()
                .map(r -> r.get("status") + "/" + r.get("trigger_kind") + " " + r.get("items_done") + " "
                        + r.get("error_summary"))
                .toList();
    }

    private void firstRunAtTen(FactoryHome home) {
        try (var running = factory.start(home, Clock.fixed(TEN, ZoneOffset.UTC))) {
            assertThat(running.app().jobs().trigger("hourly", Trigger.MANUAL)).isPositive();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void fires_missed_while_down_are_caught_up_by_one_run(TestDatabase db) throws Exception {
        FactoryHome home = home(db, "run-once");
        firstRunAtTen(home);
        var app = factory.start(home, Clock.fixed(TEN.plus(Duration.ofMinutes(210)), ZoneOffset.UTC)).app();
        await().atMost(Duration.ofSeconds(10)).until(() -> runs(app.database().dataSource()).size() == 2);
        assertThat(runs(app.database().dataSource())).containsExactly("succeeded/manual 0 null",
                "succeeded/catch_up 0 3 fires missed since 2026-03-02T10:00:00Z; caught up by one run");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void fires_missed_while_down_are_recorded_and_skipped_when_the_policy_says_skip(TestDatabase db)
            throws Exception {
        FactoryHome home = home(db, "skip");
        firstRunAtTen(home);
        var app = factory.start(home, Clock.fixed(TEN.plus(Duration.ofMinutes(130)), ZoneOffset.UTC)).app();
        app.jobStore().offer("hourly", "item-1", "v1", "x", true);
        await().atMost(Duration.ofSeconds(10)).until(() -> runs(app.database().dataSource()).size() == 2);
        assertThat(runs(app.database().dataSource())).containsExactly("succeeded/manual 0 null",
                "skipped/catch_up 0 2 fires missed since 2026-03-02T10:00:00Z; skipped (job.hourly.misfire"
                        + " = skip)");
    }

    @Test
    void no_catch_up_when_no_fire_was_missed() throws Exception {
        FactoryHome home = home(TestDatabase.H2, "run-once");
        firstRunAtTen(home);
        var app = factory.start(home, Clock.fixed(TEN.plus(Duration.ofMinutes(59)), ZoneOffset.UTC)).app();
        ((JobConsumer) app.context().getRoute("hourly").getConsumer()).missedFiresChecked()
                .get(10, TimeUnit.SECONDS);
        assertThat(runs(app.database().dataSource())).extracting(r -> r.split(" ")[0])
                .containsExactly("succeeded/manual");
    }

    /** Fires ignored on purpose while the job was paused are not fires missed: no catch-up for them. */
    @Test
    void fires_skipped_while_paused_are_not_caught_up_after_a_restart() throws Exception {
        FactoryHome home = home(TestDatabase.H2, "run-once");
        firstRunAtTen(home);
        home.property("job.hourly.paused", "true");
        for (Duration at : List.of(Duration.ofMinutes(60), Duration.ofMinutes(300))) {
            try (var running = factory.start(home, Clock.fixed(TEN.plus(at), ZoneOffset.UTC))) {
                assertThat(running.app().jobs().trigger("hourly", Trigger.SCHEDULE)).isEqualTo(-1);
            }
        }
        home.withoutOverride("job.hourly.paused");
        var app = factory.start(home, Clock.fixed(TEN.plus(Duration.ofMinutes(330)), ZoneOffset.UTC)).app();
        ((JobConsumer) app.context().getRoute("hourly").getConsumer()).missedFiresChecked()
                .get(10, TimeUnit.SECONDS);
        assertThat(runs(app.database().dataSource())).extracting(r -> r.split(" ")[0])
                .containsExactly("succeeded/manual");
    }

    @Test
    void an_unknown_misfire_policy_is_refused_naming_the_key() {
        FactoryHome home = home(TestDatabase.H2, "sometimes");
        Assertions.assertThatThrownBy(home::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("job.hourly.misfire").hasMessageContaining("'sometimes'");
    }
}
