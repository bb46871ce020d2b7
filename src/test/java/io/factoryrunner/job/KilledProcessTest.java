package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.testsupport.ChildFactory;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A factory is killed ({@code kill -9}) in the middle of a run, then started again: what it committed before the
 * kill is still there, and the next run finishes the work with no item lost and none recorded twice, whether a
 * chunk's items go one at a time or eight at once.
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

        ChildFactory first = ChildFactory.start(home);
        // kill in the middle of a chunk, past the first few chunks
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                .until(() -> first.count(" - worked item-") >= 5 * CHUNK + 3);
        long workedBeforeKill = first.count(" - worked item-");
        first.kill();

        DataSource ds = database(home);
        // every chunk before the ones the kill cut short was committed, and H2 kept it: at most a chunk's items
        // (two with items in parallel) worked and not committed (the first run may have started while the items
        // were still being offered, so chunks need not end at multiples of the chunk size)
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'"))
                .as("items done before the kill (%d worked)", workedBeforeKill)
                .isGreaterThanOrEqualTo(workedBeforeKill - unwritten);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work' AND status = 'running'"))
                .isEqualTo(1);
        long recordedBeforeKill = Sql.count(ds,
                "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'");
        // with transaction claim, the items of the chunk under way (and of the next one, when it was claimed while
        // the chunk committed) are claimed; none is with transaction chunk, whose chunk was never written
        long claimedAtKill = Sql.count(ds,
                "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'claimed'");
        assertThat(claimedAtKill).isLessThanOrEqualTo(transaction.equals("claim") ? 2L * CHUNK : 0L);

        ChildFactory second = ChildFactory.start(home);
        // a run's line is logged once its last chunk is committed
        await().atMost(Duration.ofSeconds(90)).until(() -> doneBy(second, "record") >= ITEMS - recordedBeforeKill);
        second.stop();

        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND status = 'done'"))
                .isEqualTo(ITEMS);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'record' AND status = 'done'"))
                .isEqualTo(ITEMS);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_inbox")).isZero();
        // the run the kill cut short is closed; the items it had claimed were taken again once, the attempt counted
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'work' AND status = 'abandoned'"))
                .isEqualTo(1);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE status = 'running'")).isZero();
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND attempts = 2"))
                .isEqualTo(claimedAtKill);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'work' AND attempts > 2")).isZero();
        assertThat(Sql.rows(ds, "SELECT data FROM job_state WHERE job = 'record'"))
                .allSatisfy(r -> assertThat(r.get("data")).isEqualTo("x-worked-recorded"));
    }

    static final int MANY = 400;
    static final int CONCURRENCY = 8;
    static final int ROUND_CHUNK = 40;

    /**
     * {@code fetch} takes 100 ms an item, eight items at once, and logs each item as it enters the route with how many
     * are in the route then; {@code keep} takes what it hands on.
     */
    static final String PARALLEL = """
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
                              method: "offer('fetch', ${header.key}, 'v1', 'x', true)"
            - route:
                id: fetch
                from:
                  uri: "job:fetch"
                  parameters:
                    cron: "* * * * * ?"
                    chunkSize: %d
                    concurrency: %d
                    transaction: "{{job.fetch.transaction}}"
                  steps:
                    - setHeader:
                        name: InRoute
                        method:
                          beanType: "io.factoryrunner.job.Overlap"
                          method: "entered"
                    - log: "fetching ${header.FactoryItemKey} with ${header.InRoute} in the route"
                    - delay:
                        constant: "100"
                    - bean:
                        beanType: "io.factoryrunner.job.Overlap"
                        method: "leave"
                    - setBody:
                        simple: "${body}-fetched"
            - route:
                id: keep
                from:
                  uri: "job:keep"
                  parameters:
                    upstream: fetch
                    cron: "0/2 * * * * ?"
                    chunkSize: 100
                  steps:
                    - setBody:
                        simple: "${body}-kept"
            """.formatted(MANY, ROUND_CHUNK, CONCURRENCY);

    static final Pattern FETCHING = Pattern.compile(" - fetching (item-\\d+) with (\\d+) in the route");

    /**
     * With concurrency 8, a chunk's items go through the route eight at a time, and a kill in the middle of a chunk
     * loses nothing committed and repeats nothing committed: the restart runs again only the items of the chunk the
     * kill cut short, and every count is exact.
     */
    @ParameterizedTest
    @CsvSource({"H2,chunk", "POSTGRESQL,claim"})
    void items_in_parallel_killed_mid_chunk_lose_and_repeat_nothing_committed(TestDatabase db, String transaction)
            throws Exception {
        String database = db == TestDatabase.H2 ? "" : """
                factory.db.url = %s
                factory.db.user = %s
                factory.db.password = %s
                """.formatted(db.newDatabase(home), db.user(), db.password());
        Files.createDirectories(home.resolve("config/routes"));
        Files.writeString(home.resolve("config/routes/parallel.camel.yaml"), PARALLEL);
        Files.writeString(home.resolve("config/application.properties"), """
                factory.routes.shipped = framework/**
                camel.server.enabled = false
                camel.management.enabled = false
                job.fetch.transaction = %s
                """.formatted(transaction) + database);

        ChildFactory first = ChildFactory.start(home);
        // well into the work, in the middle of a chunk: eight items are in the route at almost every moment
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                .until(() -> first.count(" - fetching item-") >= 3 * ROUND_CHUNK + CONCURRENCY / 2);
        first.kill();
        Map<String, Integer> begunBefore = fetched(first);

        DataSource ds = db == TestDatabase.H2 ? database(home) : postgres(home);
        Set<String> doneBefore = new HashSet<>(Sql.column(ds,
                "SELECT item_key FROM job_state WHERE job = 'fetch' AND status = 'done'"));
        assertThat(doneBefore).as("items done before the kill").hasSizeGreaterThanOrEqualTo(ROUND_CHUNK)
                .hasSizeLessThan(MANY);
        assertThat(begunBefore.keySet()).as("items begun before the kill").containsAll(doneBefore);

        long keptBefore = Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'keep' AND status = 'done'");

        ChildFactory second = ChildFactory.start(home);
        try {
            // a run's line is logged once its last chunk is committed (H2 is the running factory's alone)
            await().atMost(Duration.ofSeconds(90))
                    .until(() -> doneBy(second.assertAlive(), "keep") >= MANY - keptBefore);
        } finally {
            second.stop();
        }
        Map<String, Integer> begunAfter = fetched(second);

        // nothing lost, every count exact: each item done once by each job, and counted once in their runs
        for (String job : List.of("fetch", "keep")) {
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = ? AND status = 'done'", job))
                    .as("items done by %s", job).isEqualTo(MANY);
            assertThat(Sql.count(ds, "SELECT SUM(items_done) FROM job_run WHERE job = ?", job))
                    .as("items counted done in the runs of %s", job).isEqualTo(MANY);
        }
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_inbox")).isZero();
        assertThat(Sql.rows(ds, "SELECT data FROM job_state WHERE job = 'keep'"))
                .allSatisfy(r -> assertThat(r.get("data")).isEqualTo("x-fetched-kept"));
        // nothing committed repeated: the restart ran only what was not done, and again only what the kill cut short
        assertThat(begunAfter.keySet()).as("items run after the restart").doesNotContainAnyElementsOf(doneBefore);
        Set<String> again = new HashSet<>(begunAfter.keySet());
        again.retainAll(begunBefore.keySet());
        // with the claim committed first, the next chunk is claimed while a chunk's last items run: two cut short
        int cutShort = transaction.equals("claim") ? ChunkLoop.WINDOW * ROUND_CHUNK : ROUND_CHUNK;
        assertThat(again).as("items run before the kill and again after it").hasSizeLessThanOrEqualTo(cutShort);
        assertThat(begunBefore.values()).as("runs of each item before the kill").containsOnly(1);
        assertThat(begunAfter.values()).as("runs of each item after the restart").containsOnly(1);

        // eight at a time, never more: most items entered the route with at least three others in it
        List<Integer> inRoute = new ArrayList<>();
        for (ChildFactory factory : List.of(first, second)) {
            factory.lines().stream().map(FETCHING::matcher).filter(Matcher::find)
                    .forEach(m -> inRoute.add(Integer.parseInt(m.group(2))));
        }
        assertThat(inRoute).as("items in the route as each entered").hasSizeGreaterThanOrEqualTo(MANY)
                .allSatisfy(n -> assertThat(n).isBetween(1, CONCURRENCY));
        assertThat(inRoute.stream().filter(n -> n >= 4).count()).as("items that entered with 3 others or more in"
                + " the route, of %d", inRoute.size()).isGreaterThan(inRoute.size() / 2L);
    }

    /** The items a factory sent through {@code fetch}, with how many times, from its log. */
    private static Map<String, Integer> fetched(ChildFactory factory) {
        Map<String, Integer> times = new HashMap<>();
        factory.lines().stream().map(FETCHING::matcher).filter(Matcher::find)
                .forEach(m -> times.merge(m.group(1), 1, Integer::sum));
        return times;
    }

    private static DataSource postgres(Path home) throws Exception {
        Properties settings = new Properties();
        try (BufferedReader in = Files.newBufferedReader(home.resolve("config/application.properties"))) {
            settings.load(in);
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(settings.getProperty("factory.db.url"));
        ds.setUser(settings.getProperty("factory.db.user"));
        ds.setPassword(settings.getProperty("factory.db.password"));
        return ds;
    }

    /** Items done by the runs of the job that ended in the process, from their log lines. */
    private static long doneBy(ChildFactory factory, String job) {
        Pattern run = Pattern.compile("Job " + job + " run \\d+: (\\d+) items done");
        return factory.lines().stream().map(run::matcher).filter(Matcher::find)
                .mapToLong(m -> Long.parseLong(m.group(1))).sum();
    }

    private static DataSource database(Path home) {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(DatabaseSettings.embeddedUrl(home.resolve("data")));
        ds.setUser("sa");
        ds.setPassword("");
        return ds;
    }
}
