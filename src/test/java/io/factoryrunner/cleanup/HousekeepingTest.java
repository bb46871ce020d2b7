package io.factoryrunner.cleanup;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.execute;
import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.job.Trigger;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class HousekeepingTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();
    final Path dir = factory.dir();

    static final Instant T0 = Instant.parse("2026-01-10T12:00:00Z");

    static final String JOB = """
            - route:
                id: work
                from:
                  uri: "job:work"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - choice:
                        when:
                          - simple: "${body} == 'bad'"
                            steps:
                              - throwException:
                                  exceptionType: "io.factoryrunner.error.BuildFailedException"
                                  message: "bad item"
            """;


    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void purges_what_is_past_retention_and_keeps_what_a_job_still_needs(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).route("work.camel.yaml", JOB)
                .property("source.drop-dir", "drop");
        try (var running = factory.start(home, Clock.fixed(T0, ZoneOffset.UTC))) {
            var app = running.app();
            app.jobStore().offer("work", "good", "v1", "ok", true);
            app.jobStore().offer("work", "bad", "v1", "bad", true);
            app.jobs().trigger("work", Trigger.MANUAL);
            // what a job still needs: an item claimed by a run going on another node, and an item waiting
            long going = app.jobStore().startRun("work", Trigger.SCHEDULE, "other-node", null);
            app.jobStore().offer("work", "claimed", "v1", "ok", true);
            app.jobStore().claim("work", going, 1);
            app.jobStore().offer("work", "waiting", "v1", "ok", true);
            execute(app.database().dataSource(),
                    "UPDATE alerts SET status = 'sent', sent_at = created_at WHERE kind = 'error_opened'");
        }
        Path done = dir.resolve("drop/.done/old.csv");
        Files.createDirectories(done.getParent());
        Files.writeString(done, "a,b\n");
        Files.setLastModifiedTime(done, FileTime.from(T0));
        Path fresh = dir.resolve("drop/.done/fresh.csv");
        Files.writeString(fresh, "a,b\n");

        var app = factory.start(home, Clock.fixed(T0.plus(Duration.ofDays(100)), ZoneOffset.UTC)).app();
        DataSource ds = app.database().dataSource();
        Map<String, Long> removed = app.context().getRegistry()
                .lookupByNameAndType("housekeeping", Housekeeping.class).purge();
        assertThat(removed).containsEntry("state records", 2L).containsEntry("sent alerts", 1L)
                .containsEntry("errors", 1L).containsEntry("drop files", 1L);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE status = 'claimed'")).isEqualTo(1);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_state WHERE status <> 'claimed'")).isZero();
        assertThat(count(ds, "SELECT COUNT(*) FROM job_inbox")).isEqualTo(1);
        // the run going on the other node is kept; on H2 the restart closed it (no other process can have it
        // open), and as history past retention it goes, while its claimed item stays for the next run
        assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'running'"))
                .isEqualTo(db == TestDatabase.H2 ? 0 : 1);
        assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'succeeded'")).isZero();
        // the failure is still open: its fingerprint stays, and the housekeeping report is a pending alert
        assertThat(count(ds, "SELECT COUNT(*) FROM error_fingerprint WHERE status = 'open'")).isEqualTo(1);
        assertThat(count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'event' AND status = 'pending'"))
                .isEqualTo(1);
        assertThat(fresh).exists();
        assertThat(done).doesNotExist();
    }
}
