package io.factoryrunner.reference;

import static io.factoryrunner.testsupport.Sql.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command: the shipped configuration, in demo mode, runs the whole factory by itself. */
class DemoModeTest {

    @TempDir
    Path dir;


    @Test
    void the_shipped_demo_moves_customers_through_all_six_jobs_and_shows_one_failed_build() throws Exception {
        FactoryHome home = new FactoryHome(dir, TestDatabase.H2)
                .applicationProperties(Files.readString(Path.of("config/application.properties")))
                .property("factory.routes.shipped", "framework/**,factory/**")
                .property("cleanup.retention", "0");
        home.withHttpServer();
        try (var running = home.start()) {
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
}
