package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.FactoryRunner;
import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.testsupport.Sql;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A factory on its default embedded database is killed ({@code kill -9}) in the middle of a run, then started
 * again: what it committed before the kill is still there, and the next run finishes the work with no item lost
 * and none recorded twice.
 */
class KilledProcessTest {

    static final int ITEMS = 120;
    static final int CHUNK = 10;

    static final String ROUTES = """
            - route:
                id: seed
                from:
                  uri: "timer:seed?repeatCount=1"
                  steps:
                    - loop:
                        constant: "%d"
                        steps:
                          - setHeader:
                              name: key
                              simple: "item-${exchangeProperty.CamelLoopIndex}"
                          - bean:
                              ref: jobStore
                              method: "offer('work', ${header.key}, 'v1', 'x', true)"
            - route:
                id: work
                from:
                  uri: "job:work"
                  parameters:
                    cron: "{{job.work.cron}}"
                    chunkSize: "{{job.work.chunk-size}}"
                    transaction: "{{job.work.transaction}}"
                    concurrency: "{{job.work.concurrency}}"
                  steps:
                    - delay:
                        constant: "50"
                    - log: "worked ${header.FactoryItemKey}"
                    - setBody:
                        simple: "${body}-worked"
            - route:
                id: record
                from:
                  uri: "job:record"
                  parameters:
                    upstream: work
                    cron: "{{job.record.cron}}"
                    chunkSize: "50"
                  steps:
                    - setBody:
                        simple: "${body}-recorded"
            """.formatted(ITEMS);

    @TempDir
    Path home;

    /**
     * Either way a chunk is committed, the kill loses nothing committed: a chunk in its own transaction is rolled
     * back and its items wait again; a committed claim leaves them claimed, and the next run counts the attempt. With
     * items in parallel up to two chunks are claimed and not written when the kill comes; the next run takes back
     * their items only.
     */
    @ParameterizedTest
    @CsvSource({"chunk, 1", "claim, 1", "claim, 4"})
    void a_run_killed_midway_loses_nothing_committed_and_the_restart_finishes_the_work(String transaction,
            int concurrency) throws Exception {
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/crash.camel.yaml"), ROUTES);
        Files.writeString(home.resolve("config/application.properties"), """
                factory.routes.shipped = framework/**
                camel.server.enabled = false
                camel.management.enabled = false
                job.work.cron = * * * * * ?
                job.work.chunk-size = %d
                job.work.transaction = %s
                job.work.concurrency = %d
                job.record.cron = 0/2 * * * * ?
                """.formatted(CHUNK, transaction, concurrency));
        // items worked and not written when the kill comes, at most
        int unwritten = concurrency > 1 ? ChunkLoop.WINDOW * CHUNK : CHUNK;

        Factory first = Factory.start(home);
        // kill in the middle of a chunk, past the first few chunks
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                .until(() -> first.worked() >= 5 * CHUNK + 3);
        int workedBeforeKill = first.worked();
        first.kill();

        DataSource ds = database(home);
        // every chunk before the ones the kill cut short was committed, and H2 kept it: at most a chunk's items
        // (two with items in parallel) worked and not committed (the first run may have started while the items
        // were still being offered, so chunks need not end at multiples of the chunk size)
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'"))
                .as("items done before the kill (%d worked)", workedBeforeKill)
                .isGreaterThanOrEqualTo((long) workedBeforeKill - unwritten);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work' AND status = 'running'"))
                .isEqualTo(1);
        long recordedBeforeKill = Sql.count(ds,
                "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'");

        Factory second = Factory.start(home);
        // a run's line is logged once its last chunk is committed
        await().atMost(Duration.ofSeconds(90)).until(() -> second.doneBy("record") >= ITEMS - recordedBeforeKill);
        second.stop();

        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'"))
                .isEqualTo(ITEMS);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'"))
                .isEqualTo(ITEMS);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_inbox")).isZero();
        // the run the kill cut short is closed; the items of its last chunks were taken again once
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work' AND status = 'abandoned'"))
                .isEqualTo(1);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'running'")).isZero();
        if (transaction.equals("claim")) {
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND attempts = 2"))
                    .isBetween(1L, (long) unwritten);
        }
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND attempts > 2")).isZero();
        assertThat(Sql.rows(ds, "SELECT data FROM job_state WHERE job = 'record'"))
                .allSatisfy(r -> assertThat(r.get("data")).isEqualTo("x-worked-recorded"));
    }

    private static DataSource database(Path home) {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(DatabaseSettings.embeddedUrl(home.resolve("data")));
        ds.setUser("sa");
        ds.setPassword("");
        return ds;
    }

    /** The factory's command line in a process of its own, its output kept line by line. */
    private record Factory(Process process, List<String> lines) {

        static Factory start(Path home) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process process = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                    FactoryRunner.class.getName(), "run", "--home", home.toString()))
                    .directory(home.toFile()).redirectErrorStream(true).start();
            List<String> lines = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        lines.add(line);
                    }
                } catch (IOException closed) {
                    // the process ended
                }
            }, "factory-output");
            reader.setDaemon(true);
            reader.start();
            return new Factory(process, lines);
        }

        /** Items done by the runs of the job that ended in this process, from their log lines. */
        long doneBy(String job) {
            Pattern run = Pattern.compile("Job " + job + " run \\d+: (\\d+) items done");
            return lines.stream().map(run::matcher).filter(Matcher::find)
                    .mapToLong(m -> Long.parseLong(m.group(1))).sum();
        }

        int worked() {
            return (int) lines.stream().filter(l -> l.contains(" - worked item-")).count();
        }

        String output() {
            return String.join("\n", lines);
        }

        /** What {@code kill -9} does: no shutdown hook, no clean close of the database. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }

        /** A normal stop (SIGTERM): Camel shuts down and the database is closed. */
        void stop() throws InterruptedException {
            process.destroy();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(output()).isTrue();
        }
    }
}
