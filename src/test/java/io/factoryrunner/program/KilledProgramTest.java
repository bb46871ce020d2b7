package io.factoryrunner.program;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.testsupport.ChildFactory;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A factory running programs is killed ({@code kill -9}) in the middle of them, in a process of its own, then started
 * again: every program goes on at the step it was on and finishes, and no step that had finished runs again.
 */
class KilledProgramTest {

    static final int PROGRAMS = 20;
    static final int STEPS = 5;

    /** Each step leaves a witness row of its own, outside the program's transaction, and says so in the log. */
    static final String ROUTES = """
            - route:
                id: program-work
                from:
                  uri: "program:work"
                  steps:
                    - delay:
                        constant: "60"
                    - to:
                        uri: "sql:INSERT INTO witness (run_id, step) VALUES (:#${header.FactoryProgramRunId},\
                          :#${header.FactoryProgramStep})"
                        parameters:
                          dataSource: "#dataSource"
                    - log: "worked ${header.FactoryProgramRunId} step ${header.FactoryProgramStep}"
            """;

    @TempDir
    Path home;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_factory_killed_mid_program_resumes_each_at_its_step_and_repeats_no_finished_step(TestDatabase db)
            throws Exception {
        String url = db.newDatabase(home);
        execute(db, url, "CREATE TABLE witness (run_id VARCHAR(36) NOT NULL, step INTEGER NOT NULL)");
        int port = FactoryHome.freePort();
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/work.camel.yaml"), ROUTES);
        Files.writeString(home.resolve("config/application.properties"), """
                factory.routes.shipped = framework/**
                factory.db.url = %s
                factory.db.user = %s
                factory.db.password = %s
                camel.server.port = %d
                program.workers = 4
                program.poll-interval = 100
                """.formatted(url, db.user(), db.password(), port));

        ChildFactory first = ChildFactory.start(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(home.resolve("data/admin.token"))
                && started(first));
        ProgramApiClient api = new ProgramApiClient(port, home);
        String steps = String.join(", ", Collections.nCopies(STEPS, "\"work\""));
        List<String> runIds = new ArrayList<>();
        for (int i = 0; i < PROGRAMS; i++) {
            runIds.add(api.submit("{\"jobs\": [" + steps + "]}"));
        }
        // killed well into the programs, before their end
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                .until(() -> first.count(" - worked ") >= PROGRAMS * STEPS / 3);
        first.kill();

        DataSource ds = dataSource(db, url);
        Set<String> finishedBefore = new HashSet<>();
        for (Map<String, Object> e : Sql.rows(ds, "SELECT p.run_id, e.step FROM program_event e JOIN program p"
                + " ON p.id = e.program_id WHERE e.outcome = 'succeeded'")) {
            finishedBefore.add(e.get("run_id") + "/" + e.get("step"));
        }
        assertThat(finishedBefore).hasSizeBetween(PROGRAMS * STEPS / 3 - 4, PROGRAMS * STEPS - 1);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM program WHERE status = 'running'")).isPositive();
        Map<String, Long> stepAtKill = new HashMap<>();
        for (Map<String, Object> p : Sql.rows(ds, "SELECT run_id, step FROM program")) {
            stepAtKill.put((String) p.get("run_id"), ((Number) p.get("step")).longValue());
        }

        ChildFactory second = ChildFactory.start(home);
        try {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> started(second)
                    && api.get("/api/programs?status=finished&limit=500").body().get("items").size() == PROGRAMS);
        } finally {
            second.stop();
        }

        for (String runId : runIds) {
            assertThat(Sql.column(ds, "SELECT CAST(e.step AS VARCHAR(10)) FROM program_event e JOIN program p ON"
                    + " p.id = e.program_id WHERE p.run_id = ? AND e.outcome = 'succeeded' ORDER BY e.event_id", runId))
                    .as("steps of %s, each recorded once and in order", runId)
                    .containsExactly("0", "1", "2", "3", "4");
        }
        for (Map<String, Object> w : Sql.rows(ds, "SELECT run_id, step, COUNT(*) AS times FROM witness"
                + " GROUP BY run_id, step")) {
            String step = w.get("run_id") + "/" + w.get("step");
            long times = ((Number) w.get("times")).longValue();
            if (finishedBefore.contains(step)) {
                assertThat(times).as("step %s, finished before the kill", step).isEqualTo(1);
            } else if (times > 1) {
                // only the step a program was at when the process died runs again: its work was not committed
                assertThat(times).as("step %s, under way at the kill", step).isEqualTo(2);
                assertThat(((Number) w.get("step")).longValue()).as("step %s", step)
                        .isEqualTo(stepAtKill.get((String) w.get("run_id")));
            }
        }
        assertThat(Sql.count(ds, "SELECT COUNT(DISTINCT run_id || '/' || CAST(step AS VARCHAR(10))) FROM witness"))
                .isEqualTo(PROGRAMS * STEPS);
        assertThat(second.output()).contains("programs were left running by the factory's last stop");
    }

    private static boolean started(ChildFactory factory) {
        return factory.assertAlive().logged("Programs: 4 workers");
    }

    private static void execute(TestDatabase db, String url, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, db.user(), db.password())) {
            c.createStatement().execute(sql);
        }
    }

    private static DataSource dataSource(TestDatabase db, String url) {
        if (db == TestDatabase.H2) {
            JdbcDataSource ds = new JdbcDataSource();
            ds.setURL(url);
            ds.setUser(db.user());
            ds.setPassword(db.password());
            return ds;
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        ds.setUser(db.user());
        ds.setPassword(db.password());
        return ds;
    }
}
