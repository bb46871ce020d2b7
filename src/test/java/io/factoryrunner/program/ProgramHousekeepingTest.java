package io.factoryrunner.program;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.factoryrunner.cleanup.Housekeeping;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Housekeeping removes programs that ended past factory.retention.programs, with their events, and no other. */
class ProgramHousekeepingTest {

    static final Instant T0 = Instant.parse("2026-01-10T12:00:00Z");

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension()
            .settings(home -> home.route("programs.camel.yaml", ProgramRoutes.JOBS));

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void programs_that_ended_past_retention_go_with_their_events_and_the_others_stay(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db);
        ObjectMapper json = new ObjectMapper();
        String finished;
        String failed;
        String added;
        try (var running = factory.start(home, Clock.fixed(T0, ZoneOffset.UTC))) {
            Programs programs = running.app().programs();
            finished = programs.submit(Submission.parse(json.readTree("{\"jobs\": [\"collect\", \"collect\"]}")),
                    "test");
            failed = programs.submit(Submission.parse(json.readTree("{\"jobs\": [\"refuse\"]}")), "test");
            added = programs.submit(Submission.parse(json.readTree("{\"jobs\": [\"collect\"], \"start\": false}")),
                    "test");
            DataSource ds = running.dataSource();
            await().atMost(Duration.ofSeconds(30)).until(() -> Sql.count(ds, "SELECT COUNT(*) FROM program"
                    + " WHERE finished_at IS NOT NULL OR (errored_at IS NOT NULL AND status = 'errored')") == 2);
        }

        var app = factory.start(home, Clock.fixed(T0.plus(Duration.ofDays(31)), ZoneOffset.UTC)).app();
        Map<String, Long> removed = app.context().getRegistry()
                .lookupByNameAndType("housekeeping", Housekeeping.class).purge();
        assertThat(removed).containsEntry("programs", 2L).containsEntry("program events", 3L);
        DataSource ds = app.database().dataSource();
        assertThat(Sql.column(ds, "SELECT run_id FROM program")).containsExactly(added);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM program_event")).isZero();
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM program WHERE run_id IN (?, ?)", finished, failed)).isZero();
    }
}
