package io.factoryrunner.cluster;

import static io.factoryrunner.testsupport.Sql.count;
import static io.factoryrunner.testsupport.Sql.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.StartupException;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One clustered node on a real PostgreSQL: its schedule lives in Quartz's QRTZ_ tables, and what the factory changes
 * of a job's schedule (a new cron from the configuration table or the file, a job removed from the route files)
 * reaches the stored triggers. Several nodes in processes of their own are {@link ThreeNodesTest}'s.
 */
class ClusteredScheduleTest {

    static final String TICK = """
            - route:
                id: tick
                from:
                  uri: "job:tick"
                  parameters:
                    cron: "{{job.tick.cron}}"
                  steps:
                    - log: "tick ${header.FactoryItemKey}"
            """;

    static final String STORED_CRONS = """
            SELECT t.trigger_group, t.trigger_name, c.cron_expression
              FROM qrtz_triggers t
              JOIN qrtz_cron_triggers c USING (sched_name, trigger_name, trigger_group)""";

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension();

    FactoryHome clustered(String cron) {
        return factory.home(TestDatabase.POSTGRESQL).property("factory.cluster.enabled", "true")
                .route("tick.camel.yaml", TICK).applicationProperties("job.tick.cron = " + cron + "\n");
    }

    @Test
    void a_clustered_node_keeps_its_schedule_in_the_database_and_runs_its_job_on_it() throws Exception {
        var node = factory.start(clustered("* * * * * ?"));
        DataSource ds = node.dataSource();

        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_run WHERE job = 'tick' AND status = 'succeeded'") >= 2);
        assertThat(rows(ds, STORED_CRONS)).extracting(r -> r.get("trigger_name") + " " + r.get("cron_expression"))
                .contains("tick * * * * * ?", "housekeeping 0 30 3 * * ?", "digest 0 0 7 * * ?");
        assertThat(rows(ds, "SELECT sched_name, instance_name FROM qrtz_scheduler_state"))
                .extracting(r -> r.get("sched_name") + "/" + r.get("instance_name"))
                .containsExactly("factory-runner/" + node.app().node());
    }

    @Test
    void a_cron_changed_in_the_configuration_table_replaces_the_stored_trigger() throws Exception {
        FactoryHome home = clustered("* * * * * ?");
        var node = factory.start(home);
        DataSource ds = node.dataSource();
        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_run WHERE job = 'tick'") >= 1);

        home.execute("INSERT INTO factory_config (config_key, config_value) VALUES ('job.tick.cron', '0/3 * * * * ?')");

        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM qrtz_cron_triggers WHERE trigger_name = 'tick'"
                        + " AND cron_expression = '0/3 * * * * ?'") == 1);
        assertThat(count(ds, "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_name = 'tick'")).isEqualTo(1);
        long before = count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'tick'");
        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_run WHERE job = 'tick'") >= before + 2);
        // none failed (the latest may still be going)
        assertThat(count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'tick' AND status IN ('failed', 'abandoned')"))
                .isZero();
    }

    @Test
    void a_cron_changed_in_the_file_while_the_node_was_stopped_replaces_the_stored_trigger() throws Exception {
        FactoryHome home = clustered("0 0 4 * * ?");
        factory.start(home).close();

        var again = factory.start(home.applicationProperties("job.tick.cron = * * * * * ?\n"));
        DataSource ds = again.dataSource();

        assertThat(rows(ds, STORED_CRONS)).extracting(r -> r.get("trigger_name") + " " + r.get("cron_expression"))
                .contains("tick * * * * * ?").doesNotContain("tick 0 0 4 * * ?");
        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_run WHERE job = 'tick' AND status = 'succeeded'") >= 2);
    }

    @Test
    void a_job_removed_from_the_route_files_loses_its_stored_trigger_at_the_next_start() throws Exception {
        FactoryHome home = clustered("0 0 4 * * ?");
        factory.start(home).close();
        assertThat(countStopped(home, "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_name = 'tick'")).isEqualTo(1);

        Files.delete(home.dir().resolve("config/routes/tick.camel.yaml"));
        var again = factory.start(home);

        assertThat(count(again.dataSource(), "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_name = 'tick'"))
                .isZero();
        assertThat(count(again.dataSource(), "SELECT COUNT(*) FROM qrtz_job_details")).as("the jobs' details")
                .isEqualTo(2);
        assertThat(rows(again.dataSource(), "SELECT trigger_name FROM qrtz_triggers"))
                .extracting(r -> r.get("trigger_name")).containsExactlyInAnyOrder("housekeeping", "digest");
    }

    @Test
    void a_single_node_keeps_its_schedule_in_memory_and_writes_no_quartz_rows() throws Exception {
        var node = factory.start(factory.home(TestDatabase.POSTGRESQL).route("tick.camel.yaml", TICK)
                .applicationProperties("job.tick.cron = * * * * * ?\n"));
        DataSource ds = node.dataSource();

        await().atMost(Duration.ofSeconds(30)).until(() -> count(ds,
                "SELECT COUNT(*) FROM job_run WHERE job = 'tick' AND status = 'succeeded'") >= 2);
        assertThat(count(ds, "SELECT COUNT(*) FROM qrtz_triggers")).isZero();
        assertThat(count(ds, "SELECT COUNT(*) FROM qrtz_scheduler_state")).isZero();
    }

    @Test
    void a_cluster_on_the_embedded_h2_database_refuses_to_start_naming_the_setting() {
        FactoryHome home = factory.home(TestDatabase.H2).property("factory.cluster.enabled", "true");

        assertThatThrownBy(home::start).isInstanceOf(StartupException.class)
                .hasMessageContaining("Configuration key 'factory.cluster.enabled' is true")
                .hasMessageContaining("needs PostgreSQL")
                .hasMessageContaining("jdbc:h2:");
    }

    /** A count read over a connection of its own, with no factory running. */
    private static long countStopped(FactoryHome home, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(home.url(), home.database().user(),
                home.database().password())) {
            return Sql.count(c, sql);
        }
    }
}
