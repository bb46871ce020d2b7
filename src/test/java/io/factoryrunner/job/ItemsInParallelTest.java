package io.factoryrunner.job;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static io.factoryrunner.job.JobChainTest.runHeldAtGate;
import static io.factoryrunner.job.JobChainTest.runs;
import static io.factoryrunner.job.JobChainTest.states;
import static io.factoryrunner.job.JobChainTest.stopAsync;
import static io.factoryrunner.job.JobChainTest.stopGracefully;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import io.factoryrunner.FactoryApplication;
import io.factoryrunner.job.JobChainTest.State;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A job with items in parallel ({@code concurrency} 2, chunks of 4, the claim committed first) claims its next chunk
 * while the current chunk's last items are still under way, and writes each chunk once all its items have ended:
 * a slow item holds neither the pool nor the chunks after it, and the item rules, the counts and what a stop or a
 * failure leaves behind stay as with one item at a time. Items are claimed in the order they were offered: chunk 1 is
 * item-01 to item-04, chunk 2 item-05 to item-08, and so on; item-06 always fails.
 */
class ItemsInParallelTest {

    static final String ROUTES = """
            - route:
                id: fetch
                from:
                  uri: "job:fetch"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    chunkSize: 4
                    concurrency: 2
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.job.Gate"
                        method: "pass"
                    - choice:
                        when:
                          - simple: "${header.FactoryItemKey} == 'item-06'"
                            steps:
                              - throwException:
                                  exceptionType: "java.lang.IllegalStateException"
                                  message: "refused ${header.FactoryItemKey}"
                    - setBody:
                        simple: "${body}-fetched"
            - route:
                id: keep
                from:
                  uri: "job:keep"
                  parameters:
                    upstream: fetch
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - setBody:
                        simple: "${body}-kept"
            """;

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> home.route("window.camel.yaml", ROUTES));

    @BeforeEach
    @AfterEach
    void openGate() {
        Gate.release.countDown();
        Gate.reset("");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void the_next_chunks_go_through_and_are_written_while_a_slow_item_holds_its_own_chunk(TestDatabase db)
            throws Exception {
        FactoryApplication app = factory.start(factory.home(db)).app();
        offer(app, 12);
        DataSource ds = app.database().dataSource();
        Gate.reset("item-01");
        CompletableFuture<Long> run = CompletableFuture.supplyAsync(() -> app.jobs().trigger("fetch", Trigger.MANUAL));
        assertThat(Gate.reached.await(30, TimeUnit.SECONDS)).isTrue();

        // chunks 2 and 3 went through the other thread and were written while item-01 holds chunk 1
        await().atMost(Duration.ofSeconds(25)).until(() -> written(ds) == 8);
        assertThat(states(ds, "fetch")).extracting(State::key, State::status).containsExactly(
                tuple("item-01", "claimed"), tuple("item-02", "claimed"), tuple("item-03", "claimed"),
                tuple("item-04", "claimed"), tuple("item-05", "done"), tuple("item-06", "failed"),
                tuple("item-07", "done"), tuple("item-08", "done"), tuple("item-09", "done"),
                tuple("item-10", "done"), tuple("item-11", "done"), tuple("item-12", "done"));
        assertThat(run).isNotDone();

        Gate.release.countDown();
        assertThat(run.get(60, TimeUnit.SECONDS)).isPositive();
        assertThat(runs(ds, "fetch")).containsExactly("succeeded/manual 12/11/1");
        assertThat(app.jobs().trigger("keep", Trigger.MANUAL)).isPositive();
        assertThat(runs(ds, "keep")).containsExactly("succeeded/manual 11/11/0");
        assertThat(states(ds, "keep")).hasSize(11).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"))
                .extracting(State::data).contains("d1-fetched-kept", "d12-fetched-kept");
    }

    /** With both threads held, one in chunk 1 and one in chunk 2, chunk 3 waits in the inbox, unclaimed. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void no_more_than_two_chunks_are_claimed_and_not_written_at_once(TestDatabase db) throws Exception {
        FactoryApplication app = factory.start(factory.home(db)).app();
        offer(app, 12);
        DataSource ds = app.database().dataSource();
        Gate.reset("item-01", "item-05");
        CompletableFuture<Long> run = CompletableFuture.supplyAsync(() -> app.jobs().trigger("fetch", Trigger.MANUAL));
        assertThat(Gate.reached.await(30, TimeUnit.SECONDS)).isTrue();

        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'fetch' AND status = 'claimed'"))
                .isEqualTo(ChunkLoop.WINDOW * 4);
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'fetch'")).isEqualTo(4);

        Gate.release.countDown();
        assertThat(run.get(60, TimeUnit.SECONDS)).isPositive();
        assertThat(runs(ds, "fetch")).containsExactly("succeeded/manual 12/11/1");
        assertThat(states(ds, "fetch")).hasSize(12).extracting(State::attempts).containsOnly(1);
    }

    /**
     * A stop while item-01 holds chunk 1 and item-09 holds chunk 3 (chunk 2 written): no chunk is claimed after it,
     * the two held items are cut off (the stop refuses their next steps), which fails neither, and both chunks stay
     * claimed; the next run takes them back, then the chunk nobody claimed, and takes nothing written again.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_stop_mid_window_leaves_the_chunks_cut_off_claimed_and_repeats_nothing_written(TestDatabase db)
            throws Exception {
        FactoryHome home = factory.home(db);
        DataSource ds;
        try (var running = factory.start(home)) {
            FactoryApplication app = running.app();
            offer(app, 16);
            ds = app.database().dataSource();
            Gate.reset("item-01", "item-09");
            CompletableFuture<Long> run = runHeldAtGate(app, "fetch");
            CompletableFuture<Void> stopping = stopAsync(app, "fetch", 1);
            // the stop gives the held items its second, then stops the route's steps: only then are they let go,
            // so that each one's next step is refused (let go while the steps still ran, they would end their
            // chunks and have them written, as a stop that ends in time does)
            stopping.get(60, TimeUnit.SECONDS);
            Gate.release.countDown();
            run.get(60, TimeUnit.SECONDS);

            assertThat(runs(ds, "fetch")).containsExactly("abandoned/manual 4/3/1");
            assertThat(Sql.rows(ds, "SELECT error_summary FROM job_run WHERE job = 'fetch'")).singleElement()
                    .satisfies(r -> assertThat((String) r.get("error_summary"))
                            .isEqualTo("stopped during the run; 8 claimed items left for the next run"));
            assertThat(states(ds, "fetch")).extracting(State::key, State::status).containsExactly(
                    tuple("item-01", "claimed"), tuple("item-02", "claimed"), tuple("item-03", "claimed"),
                    tuple("item-04", "claimed"), tuple("item-05", "done"), tuple("item-06", "failed"),
                    tuple("item-07", "done"), tuple("item-08", "done"), tuple("item-09", "claimed"),
                    tuple("item-10", "claimed"), tuple("item-11", "claimed"), tuple("item-12", "claimed"));
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'fetch'")).isEqualTo(4);
            assertThat(Sql.rows(ds, "SELECT item_key FROM factory_error")).singleElement()
                    .satisfies(r -> assertThat(r.get("item_key")).isEqualTo("item-06"));
        }
        Gate.reset("");
        FactoryApplication app = factory.start(home).app();
        assertThat(app.jobs().trigger("fetch", Trigger.MANUAL)).isPositive();
        ds = app.database().dataSource();
        assertThat(runs(ds, "fetch")).containsExactly("abandoned/manual 4/3/1", "succeeded/manual 12/12/0");
        List<String> takenBack = List.of("item-01", "item-02", "item-03", "item-04", "item-09", "item-10", "item-11",
                "item-12");
        assertThat(states(ds, "fetch")).hasSize(16).filteredOn(s -> !s.key().equals("item-06"))
                .allSatisfy(s -> assertThat(s.status()).isEqualTo("done"))
                .allSatisfy(s -> assertThat(s.attempts()).as(s.key()).isEqualTo(takenBack.contains(s.key()) ? 2 : 1));
        assertThat(app.jobs().trigger("keep", Trigger.MANUAL)).isPositive();
        assertThat(runs(ds, "keep")).containsExactly("succeeded/manual 15/15/0");
    }

    /**
     * A stop given time to end (a graceful stop) while item-01 holds chunk 1 and item-05 chunk 2: the route's consumer
     * is suspended while the items under way end, the two chunks end in time and are written, and no chunk is taken
     * after them though the window has room again once chunk 2 is written. The stop ends as soon as they are, long
     * before its timeout; the next run takes the items nobody claimed, each once.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_graceful_stop_ends_the_chunks_taken_and_takes_none_after_them(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db);
        DataSource ds;
        try (var running = factory.start(home)) {
            FactoryApplication app = running.app();
            offer(app, 16);
            ds = app.database().dataSource();
            Gate.reset("item-01", "item-05");
            Gate.holdApart("item-05");
            CompletableFuture<Long> run = runHeldAtGate(app, "fetch");
            CompletableFuture<Void> stopping = stopGracefully(app, "fetch", 120);

            // chunk 2 ends and is written while the stop waits; the window has room for chunk 3, which stays unclaimed
            Gate.letGo("item-05");
            DataSource before = ds;
            await().atMost(Duration.ofSeconds(30)).until(() -> written(before) == 4);
            Gate.release.countDown();
            assertThat(run.get(60, TimeUnit.SECONDS)).isPositive();
            stopping.get(60, TimeUnit.SECONDS);

            assertThat(runs(ds, "fetch")).containsExactly("abandoned/manual 8/7/1");
            assertThat(Sql.rows(ds, "SELECT error_summary FROM job_run WHERE job = 'fetch'")).singleElement()
                    .satisfies(r -> assertThat((String) r.get("error_summary")).isEqualTo(ChunkLoop.NOT_TAKEN));
            assertThat(states(ds, "fetch")).extracting(State::key, State::status).containsExactly(
                    tuple("item-01", "done"), tuple("item-02", "done"), tuple("item-03", "done"),
                    tuple("item-04", "done"), tuple("item-05", "done"), tuple("item-06", "failed"),
                    tuple("item-07", "done"), tuple("item-08", "done"));
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'fetch'")).isEqualTo(8);
        }
        Gate.reset("");
        FactoryApplication app = factory.start(home).app();
        assertThat(app.jobs().trigger("fetch", Trigger.MANUAL)).isPositive();
        ds = app.database().dataSource();
        assertThat(runs(ds, "fetch")).containsExactly("abandoned/manual 8/7/1", "succeeded/manual 8/8/0");
        assertThat(states(ds, "fetch")).hasSize(16).extracting(State::attempts).containsOnly(1);
    }

    /**
     * The database goes away while item-01 holds chunk 1 and chunks 2 and 3 are written: the run fails once the items
     * under way have ended, and the next run, with the database back, does chunk 1 alone.
     */
    @Test
    void a_database_outage_mid_window_loses_nothing_written_and_repeats_none_of_it() throws Exception {
        Path data = factory.dir().resolve("pg-data");
        int port = FactoryHome.freePort();
        EmbeddedPostgres server = startPostgres(data, port);
        try {
            FactoryHome home = factory.home(TestDatabase.POSTGRESQL)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    .property("factory.db.connect-timeout", "2s");
            FactoryApplication app = factory.start(home).app();
            offer(app, 12);
            DataSource ds = app.database().dataSource();
            Gate.reset("item-01");
            CompletableFuture<Long> run = CompletableFuture.supplyAsync(
                    () -> app.jobs().trigger("fetch", Trigger.MANUAL));
            assertThat(Gate.reached.await(30, TimeUnit.SECONDS)).isTrue();
            await().atMost(Duration.ofSeconds(25)).until(() -> written(ds) == 8);

            server.close();
            Gate.release.countDown();
            run.get(60, TimeUnit.SECONDS);

            server = startPostgres(data, port);
            assertThat(app.jobs().trigger("fetch", Trigger.MANUAL)).isPositive();
            assertThat(runs(ds, "fetch")).containsExactly("failed/manual 8/7/1", "succeeded/manual 4/4/0");
            // chunk 1 was taken again; the items of the chunks written before the outage were not
            assertThat(states(ds, "fetch")).hasSize(12).allSatisfy(s -> assertThat(s.attempts()).as(s.key())
                    .isEqualTo(s.key().compareTo("item-04") <= 0 ? 2 : 1));
            assertThat(app.jobs().trigger("keep", Trigger.MANUAL)).isPositive();
            assertThat(runs(ds, "keep")).containsExactly("succeeded/manual 11/11/0");
        } finally {
            server.close();
        }
    }

    /**
     * camel-http keeps 20 connections to a host by default; a job whose concurrency is above that has all its items
     * under way at the API at once (the stand-in answers after a delay without holding a thread of its own).
     */
    @Test
    void a_job_calling_one_host_has_more_calls_under_way_than_camel_https_twenty_connections_per_host()
            throws Exception {
        WireMockServer api = new WireMockServer(options().dynamicPort().containerThreads(100)
                .asynchronousResponseEnabled(true).asynchronousResponseThreads(100));
        api.start();
        try {
            api.stubFor(post(urlEqualTo("/score")).willReturn(aResponse().withStatus(200).withFixedDelay(2000)
                    .withBody("{\"score\": 1}")));
            FactoryApplication app = factory.start(factory.home(TestDatabase.H2)
                    .property("api.port", String.valueOf(api.port())).route("call.camel.yaml", """
                            - route:
                                id: call
                                from:
                                  uri: "job:call"
                                  parameters:
                                    cron: "0 0 0 1 1 ? 2099"
                                    chunkSize: 32
                                    concurrency: 32
                                  steps:
                                    - to: "http://localhost:{{api.port}}/score?httpMethod=POST"
                            """)).app();
            for (int i = 1; i <= 32; i++) {
                app.jobStore().offer("call", String.format("item-%02d", i), "v1", "{}", true);
            }
            assertThat(app.jobs().trigger("call", Trigger.MANUAL)).isPositive();

            assertThat(runs(app.database().dataSource(), "call")).containsExactly("succeeded/manual 32/32/0");
            assertThat(mostAtOnce(api.getAllServeEvents())).as("calls under way at the API at once")
                    .isGreaterThan(20);
        } finally {
            api.stop();
        }
    }

    /** The most calls the stand-in had under way at once, from when it received each and how long it took. */
    private static int mostAtOnce(List<ServeEvent> events) {
        List<long[]> marks = new ArrayList<>();
        for (ServeEvent e : events) {
            long at = e.getRequest().getLoggedDate().getTime();
            marks.add(new long[] {at, 1});
            marks.add(new long[] {at + e.getTiming().getTotalTime(), -1});
        }
        marks.sort(Comparator.<long[]>comparingLong(m -> m[0]).thenComparingLong(m -> m[1]));
        int now = 0;
        int most = 0;
        for (long[] m : marks) {
            now += (int) m[1];
            most = Math.max(most, now);
        }
        return most;
    }

    private static void offer(FactoryApplication app, int count) throws Exception {
        for (int i = 1; i <= count; i++) {
            app.jobStore().offer("fetch", String.format("item-%02d", i), "v1", "d" + i, true);
        }
    }

    /** The fetch job's items written at their final status. */
    private static long written(DataSource ds) throws Exception {
        return Sql.count(ds, "SELECT COUNT(*) FROM job_state WHERE job = 'fetch' AND status <> 'claimed'");
    }

    private static EmbeddedPostgres startPostgres(Path data, int port) throws Exception {
        return EmbeddedPostgres.builder().setDataDirectory(data).setCleanDataDirectory(false).setPort(port).start();
    }
}
