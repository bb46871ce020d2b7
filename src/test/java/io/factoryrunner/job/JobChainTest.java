package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.FactoryApplication;
import io.factoryrunner.testsupport.CapturedLog;
import io.factoryrunner.testsupport.FactoryExtension;
import io.factoryrunner.testsupport.FactoryHome;
import io.factoryrunner.testsupport.Sql;
import io.factoryrunner.testsupport.TestDatabase;
import io.factoryrunner.testsupport.TestHttp;
import io.factoryrunner.testsupport.ThreeJobChain;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.apache.camel.Consumer;
import org.apache.camel.support.service.ServiceSupport;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class JobChainTest {

    @RegisterExtension
    final FactoryExtension factory = new FactoryExtension().settings(home -> ThreeJobChain.on(home, """
            job.prepare.chunk-size = 3
            job.build.chunk-size = 2
            job.build.transaction = chunk
            """));

    // the gate is in the shared chain that other test classes run too: none of them finds it holding a key
    @BeforeEach
    @AfterEach
    void openGate() {
        Gate.reset("");
    }

    record State(String key, String version, String status, String data, int attempts) {
    }

    /** The job's job_state rows by key and version. */
    static List<State> states(DataSource ds, String job) throws Exception {
        return Sql.rows(ds, "SELECT item_key, item_version, status, data, attempts FROM job_state WHERE job = ?"
                + " ORDER BY item_key, item_version", job).stream()
                .map(r -> new State((String) r.get("item_key"), (String) r.get("item_version"),
                        (String) r.get("status"), (String) r.get("data"), ((Number) r.get("attempts")).intValue()))
                .toList();
    }

    /**
     * Stops a job's route on another thread, giving the exchanges under way {@code seconds} to end (Camel's graceful
     * stop): done once the route is stopped.
     */
    static CompletableFuture<Void> stopAsync(FactoryApplication app, String route, int seconds) {
        return CompletableFuture.runAsync(() -> {
            try {
                app.context().getRouteController().stopRoute(route, seconds, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /**
     * Triggers a run of {@code job} on another thread and answers it once one of its items is held at the gate
     * ({@link Gate#reset}).
     */
    static CompletableFuture<Long> runHeldAtGate(FactoryApplication app, String job) throws InterruptedException {
        CompletableFuture<Long> run = CompletableFuture.supplyAsync(() -> app.jobs().trigger(job, Trigger.MANUAL));
        assertThat(Gate.reached.await(30, TimeUnit.SECONDS)).as("an item of " + job + " reached the gate").isTrue();
        return run;
    }

    /**
     * Stops a job's route on another thread as {@link #stopAsync} does, and answers once the route's consumer is
     * suspended: the stop has begun and waits for the exchanges under way.
     */
    static CompletableFuture<Void> stopGracefully(FactoryApplication app, String route, int seconds) {
        CompletableFuture<Void> stopping = stopAsync(app, route, seconds);
        ServiceSupport consumer = (ServiceSupport) app.context().getRoute(route).getConsumer();
        await().atMost(Duration.ofSeconds(30)).until(consumer::isSuspended);
        return stopping;
    }

    /**
     * Puts item-1 to item-{@code count} before build, runs build with item-3 held at the gate, stops build's route
     * gracefully (120 s) once the stop has begun, lets item-3 go, and waits for the run and the stop to end.
     */
    private static void stopBuildWhileItem3IsHeld(FactoryApplication app, int count) throws Exception {
        prepared(app, count);
        Gate.reset("item-3");
        CompletableFuture<Long> run = runHeldAtGate(app, "build");
        CompletableFuture<Void> stopping = stopGracefully(app, "build", 120);
        Gate.release.countDown();
        assertThat(run.get(30, TimeUnit.SECONDS)).isPositive();
        stopping.get(30, TimeUnit.SECONDS);
    }

    /** Offers item-1 to item-{@code count} to job prepare and runs it, so that they wait for job build. */
    private static void prepared(FactoryApplication app, int count) throws Exception {
        for (int i = 1; i <= count; i++) {
            app.jobStore().offer("prepare", "item-" + i, "v1", "d" + i, true);
        }
        app.jobs().trigger("prepare", Trigger.MANUAL);
    }

    /** The job's runs in order, each as status/trigger taken/done/failed. */
    static List<String> runs(DataSource ds, String job) throws Exception {
        return Sql.rows(ds, "SELECT status, trigger_kind, items_taken, items_done, items_failed FROM job_run"
                + " WHERE job = ? ORDER BY run_id", job).stream()
                .map(r -> r.get("status") + "/" + r.get("trigger_kind") + " " + r.get("items_taken") + "/"
                        + r.get("items_done") + "/" + r.get("items_failed"))
                .toList();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void three_job_chain_moves_every_item_end_to_end(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        for (int i = 1; i <= 7; i++) {
            app.jobStore().offer("prepare", "item-" + i, "v1", "data" + i, true);
        }
        for (String job : List.of("prepare", "build", "check")) {
            assertThat(app.jobs().trigger(job, Trigger.MANUAL)).isPositive();
        }
        DataSource ds = app.database().dataSource();
        assertThat(states(ds, "check")).hasSize(7).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"))
                .extracting(State::data).contains("data3-prepared-built-checked");
        assertThat(states(ds, "prepare")).hasSize(7);
        assertThat(runs(ds, "prepare")).containsExactly("succeeded/manual 7/7/0");
        assertThat(runs(ds, "build")).containsExactly("succeeded/manual 7/7/0");
        // a second run finds nothing new: no item is taken twice
        app.jobs().trigger("check", Trigger.MANUAL);
        assertThat(runs(ds, "check")).containsExactly("succeeded/manual 7/7/0", "succeeded/manual 0/0/0");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void failed_item_is_not_taken_again_by_the_same_job_until_redriven(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.configTable().set("test.fail-key", "item-2", false, null, "test");
        await().atMost(Duration.ofSeconds(10)).until(() -> app.context()
                .resolvePropertyPlaceholders("{{test.fail-key}}").equals("item-2"));
        for (int i = 1; i <= 3; i++) {
            app.jobStore().offer("prepare", "item-" + i, "v1", "data" + i, true);
        }
        app.jobs().trigger("prepare", Trigger.MANUAL);
        app.jobs().trigger("build", Trigger.MANUAL);
        app.jobs().trigger("build", Trigger.MANUAL);
        DataSource ds = app.database().dataSource();
        assertThat(states(ds, "build")).filteredOn(s -> s.key().equals("item-2")).singleElement()
                .satisfies(s -> assertThat(s.status()).isEqualTo("failed"));
        assertThat(runs(ds, "build")).containsExactly("succeeded/manual 3/2/1", "succeeded/manual 0/0/0");

        app.jobs().trigger("check", Trigger.MANUAL);
        assertThat(states(ds, "check")).extracting(State::key).containsExactly("item-1", "item-3");

        app.configTable().set("test.fail-key", "none", false, null, "test");
        await().atMost(Duration.ofSeconds(10)).until(() -> app.context()
                .resolvePropertyPlaceholders("{{test.fail-key}}").equals("none"));
        assertThat(app.jobStore().redrive("build", "item-2", "v1")).isTrue();
        app.jobs().trigger("build", Trigger.MANUAL);
        app.jobs().trigger("check", Trigger.MANUAL);
        assertThat(states(ds, "check")).extracting(State::key).containsExactly("item-1", "item-2", "item-3");
        assertThat(states(ds, "check")).filteredOn(s -> s.key().equals("item-2")).singleElement()
                .satisfies(s -> assertThat(s.data()).isEqualTo("data2-prepared-built-checked"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void new_version_of_an_item_is_a_new_item_for_every_job(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "order-9", "v1", "first", true);
        List.of("prepare", "build", "check").forEach(j -> app.jobs().trigger(j, Trigger.MANUAL));
        app.jobStore().offer("prepare", "order-9", "v2", "second", true);
        List.of("prepare", "build", "check").forEach(j -> app.jobs().trigger(j, Trigger.MANUAL));
        assertThat(states(app.database().dataSource(), "check")).extracting(State::version, State::data)
                .containsExactly(Tuple.tuple("v1", "first-prepared-built-checked"),
                        Tuple.tuple("v2", "second-prepared-built-checked"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void incomplete_item_waits_until_it_is_complete(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "batch-1", "v1", "partial", false);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(states(app.database().dataSource(), "prepare")).isEmpty();
        app.jobStore().offer("prepare", "batch-1", "v1", "whole", true);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(states(app.database().dataSource(), "prepare")).singleElement()
                .satisfies(s -> assertThat(s.data()).isEqualTo("whole-prepared"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_fire_during_a_run_is_recorded_as_skipped(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "slow", "v1", "x", true);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        Gate.reset("slow");
        CompletableFuture<Long> first = CompletableFuture.supplyAsync(
                () -> app.jobs().trigger("build", Trigger.MANUAL));
        assertThat(Gate.reached.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(app.jobs().trigger("build", Trigger.SCHEDULE)).isEqualTo(-1);
        Gate.release.countDown();
        assertThat(first.get(10, TimeUnit.SECONDS)).isPositive();
        assertThat(runs(app.database().dataSource(), "build"))
                .containsExactlyInAnyOrder("succeeded/manual 1/1/0", "skipped/schedule 0/0/0");
    }

    /**
     * In a chunk's own transaction the stopped chunk rolls back and its items wait again; with the claim committed
     * first they stay claimed and the next run takes them back, counting the attempt.
     */
    @ParameterizedTest
    @CsvSource({"H2, chunk", "H2, claim", "POSTGRESQL, chunk", "POSTGRESQL, claim"})
    void run_stopped_midway_leaves_its_items_to_the_next_run_with_none_lost_or_doubled(TestDatabase db,
            String transaction) throws Exception {
        FactoryHome home = factory.home(db).property("job.build.transaction", transaction);
        boolean claim = transaction.equals("claim");
        DataSource ds;
        try (var running = factory.start(home)) {
            var app = running.app();
            prepared(app, 6);
            Gate.reset("item-3");
            CompletableFuture<Long> run = runHeldAtGate(app, "build");
            // stop inside the second chunk (items 3 and 4): the chunk is not committed
            CompletableFuture<Void> stopping = stopAsync(app, "build", 1);
            // item-3 is let go once the stop has stopped the route's steps (after its second's grace), so that its
            // next step is refused; let go before, it would end its chunk in time and have it written
            stopping.get(20, TimeUnit.SECONDS);
            Gate.release.countDown();
            run.get(20, TimeUnit.SECONDS);
            ds = app.database().dataSource();
            assertThat(runs(ds, "build")).containsExactly("abandoned/manual 2/2/0");
            // the stop refused item-3's next step: it did not fail, it stays for the next run
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM factory_error")).isZero();
            if (claim) {
                assertThat(states(ds, "build")).extracting(State::status)
                        .containsExactly("done", "done", "claimed", "claimed");
            } else {
                assertThat(states(ds, "build")).extracting(State::status).containsExactly("done", "done");
                assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'build'")).isEqualTo(4);
            }
        }
        Gate.reset("");
        var app = factory.start(home).app();
        app.jobs().trigger("build", Trigger.MANUAL);
        ds = app.database().dataSource();
        assertThat(states(ds, "build")).hasSize(6).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"))
                .extracting(State::data).containsExactly("d1-prepared-built", "d2-prepared-built",
                        "d3-prepared-built", "d4-prepared-built", "d5-prepared-built", "d6-prepared-built");
        assertThat(states(ds, "build")).filteredOn(s -> s.key().equals("item-3")).singleElement()
                .satisfies(s -> assertThat(s.attempts()).isEqualTo(claim ? 2 : 1));
    }

    /**
     * A stop given time to end (a graceful stop) while item-3 holds the second chunk: that chunk ends in time and is
     * written, and no chunk is taken after it (with either transaction), so the stop ends as soon as it is written,
     * long before its timeout. The third chunk waits for the next run, which takes each of its items once.
     */
    @ParameterizedTest
    @CsvSource({"H2, chunk", "H2, claim", "POSTGRESQL, chunk", "POSTGRESQL, claim"})
    void a_graceful_stop_writes_the_chunk_under_way_and_takes_no_other(TestDatabase db, String transaction)
            throws Exception {
        FactoryHome home = factory.home(db).property("job.build.transaction", transaction);
        DataSource ds;
        try (var running = factory.start(home)) {
            var app = running.app();
            stopBuildWhileItem3IsHeld(app, 6);

            ds = app.database().dataSource();
            assertThat(runs(ds, "build")).containsExactly("abandoned/manual 4/4/0");
            assertThat(states(ds, "build")).extracting(State::key, State::status).containsExactly(
                    tuple("item-1", "done"), tuple("item-2", "done"), tuple("item-3", "done"),
                    tuple("item-4", "done"));
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'build'")).isEqualTo(2);
        }
        var app = factory.start(home).app();
        app.jobs().trigger("build", Trigger.MANUAL);
        ds = app.database().dataSource();
        assertThat(runs(ds, "build")).containsExactly("abandoned/manual 4/4/0", "succeeded/manual 2/2/0");
        assertThat(states(ds, "build")).hasSize(6).extracting(State::attempts).containsOnly(1);
    }

    /**
     * The same stop while item-3 holds the last chunk: once it is written nothing waits for the job, and the run is
     * recorded as one that went to its end, not as one cut short.
     */
    @ParameterizedTest
    @CsvSource({"H2, chunk", "H2, claim", "POSTGRESQL, chunk", "POSTGRESQL, claim"})
    void a_graceful_stop_during_the_last_chunk_records_a_run_that_went_to_its_end(TestDatabase db,
            String transaction) throws Exception {
        FactoryHome home = factory.home(db).property("job.build.transaction", transaction);
        try (var running = factory.start(home)) {
            var app = running.app();
            stopBuildWhileItem3IsHeld(app, 4);

            DataSource ds = app.database().dataSource();
            assertThat(runs(ds, "build")).containsExactly("succeeded/manual 4/4/0");
            assertThat(states(ds, "build")).hasSize(4).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"));
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'build'")).isZero();
        }
    }

    /**
     * Starts build's run over item-1 to item-4 with item-3 held at the gate, and answers it once check, following
     * build, has taken what build's first chunk (item-1, item-2) handed on and waits for more.
     */
    private static CompletableFuture<Long> buildHeldWhileCheckFollows(FactoryApplication app) throws Exception {
        DataSource ds = app.database().dataSource();
        prepared(app, 4);
        Gate.reset("item-3");
        CompletableFuture<Long> build = runHeldAtGate(app, "build");
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(runs(ds, "check"))
                .containsExactly("running/follow 2/2/0"));
        return build;
    }

    /**
     * check follows build: build's run starts one of check, which takes what each chunk of build hands on as it
     * commits, waits while build holds item-3 at the gate, and ends once build's run has ended and nothing is left.
     */
    @ParameterizedTest
    @CsvSource({"H2, chunk", "H2, claim", "POSTGRESQL, chunk", "POSTGRESQL, claim"})
    void a_job_that_follows_its_upstream_takes_each_chunk_as_it_commits_and_ends_with_the_upstream_s_run(
            TestDatabase db, String transaction) throws Exception {
        FactoryHome home = factory.home(db).property("job.check.follow", "true")
                .property("job.check.transaction", transaction);
        try (var running = factory.start(home)) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            CompletableFuture<Long> build = buildHeldWhileCheckFollows(app);

            Gate.release.countDown();
            assertThat(build.get(30, TimeUnit.SECONDS)).isPositive();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(runs(ds, "check"))
                    .containsExactly("succeeded/follow 4/4/0"));
            assertThat(states(ds, "check")).extracting(State::key, State::status, State::data).containsExactly(
                    tuple("item-1", "done", "d1-prepared-built-checked"),
                    tuple("item-2", "done", "d2-prepared-built-checked"),
                    tuple("item-3", "done", "d3-prepared-built-checked"),
                    tuple("item-4", "done", "d4-prepared-built-checked"));
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'check'")).isZero();
        }
    }

    /**
     * build and check go one transaction per chunk, check following build, in a factory whose runs share two cores:
     * build's run works ahead while it goes alone, and goes chunk by chunk on its own thread while check's run goes
     * beside it (check's likewise), switching as the other's run begins and ends. Every item is handed on once.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void chunk_runs_sharing_the_cores_switch_between_working_ahead_and_not_and_hand_every_item_on_once(
            TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).property("job.build.transaction", "chunk")
                .property("job.build.chunk-size", "10").property("job.check.transaction", "chunk")
                .property("job.check.chunk-size", "10").property("job.check.follow", "true");
        try (var running = factory.start(home)) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            app.jobs().sharedCores(2);
            prepared(app, 400);

            assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isPositive();
            assertThat(runs(ds, "build")).containsExactly("succeeded/manual 400/400/0");
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(runs(ds, "check"))
                    .containsExactly("succeeded/follow 400/400/0"));
            List<State> checked = states(ds, "check");
            assertThat(checked).hasSize(400).allSatisfy(s -> {
                assertThat(s.status()).isEqualTo("done");
                assertThat(s.data()).isEqualTo("d" + s.key().substring("item-".length()) + "-prepared-built-checked");
                assertThat(s.attempts()).isEqualTo(1);
            });
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job IN ('build', 'check')")).isZero();
        }
    }

    /**
     * A stop of check's route while its run waits for build (held at the gate) ends that run at once with what it
     * took; the items build hands on after wait for check's next run.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_stop_while_a_run_waits_for_its_upstream_ends_it_and_leaves_the_rest_waiting(TestDatabase db)
            throws Exception {
        try (var running = factory.start(factory.home(db).property("job.check.follow", "true"))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            CompletableFuture<Long> build = buildHeldWhileCheckFollows(app);

            // the stop gives the run 120 s, and does not wait for build, which holds item-3 until released
            stopAsync(app, "check", 120).get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(runs(ds, "check"))
                    .containsExactly("succeeded/follow 2/2/0"));

            Gate.release.countDown();
            assertThat(build.get(30, TimeUnit.SECONDS)).isPositive();
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting WHERE job = 'check'")).isEqualTo(2);
            app.context().getRouteController().startRoute("check");
            assertThat(app.jobs().trigger("check", Trigger.MANUAL)).isPositive();
            assertThat(runs(ds, "check")).containsExactly("succeeded/follow 2/2/0", "succeeded/manual 2/2/0");
            assertThat(states(ds, "check")).hasSize(4).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"));
        }
    }

    /**
     * A pause of check while its run waits for build ends that run with what it took; build's chunks committed during
     * the pause start no run of check, and their items wait for check's next run.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_pause_ends_a_run_that_follows_its_upstream_and_starts_no_other(TestDatabase db) throws Exception {
        try (var running = factory.start(factory.home(db).property("job.check.follow", "true"))) {
            var app = running.app();
            DataSource ds = app.database().dataSource();
            CompletableFuture<Long> build = buildHeldWhileCheckFollows(app);

            app.configTable().set("job.check.paused", "true", false, "maintenance", "test");
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(runs(ds, "check"))
                    .containsExactly("succeeded/follow 2/2/0"));
            Gate.release.countDown();
            assertThat(build.get(30, TimeUnit.SECONDS)).isPositive();

            app.configTable().set("job.check.paused", "false", false, null, "test");
            await().atMost(Duration.ofSeconds(10)).until(() -> app.context().getPropertiesComponent()
                    .resolveProperty("job.check.paused").orElse("").equals("false"));
            assertThat(app.jobs().trigger("check", Trigger.MANUAL)).isPositive();
            assertThat(runs(ds, "check")).containsExactly("succeeded/follow 2/2/0", "succeeded/manual 2/2/0");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void runs_left_running_by_a_dead_node_are_abandoned_at_the_next_start(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db);
        try (var running = factory.start(home)) {
            var app = running.app();
            for (int i = 1; i <= 3; i++) {
                app.jobStore().offer("prepare", "item-" + i, "v1", "d" + i, true);
            }
            // what a run leaves when its process is killed: a running run owning claimed items
            long dead = app.jobStore().startRun("prepare", Trigger.SCHEDULE, app.node(), null);
            assertThat(app.jobStore().claim("prepare", dead, 2).items()).hasSize(2);
            app.context().getRouteController().stopRoute("prepare");
        }
        var app = factory.start(home).app();
        DataSource ds = app.database().dataSource();
        assertThat(runs(ds, "prepare")).containsExactly("abandoned/schedule 0/0/0");
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(states(ds, "prepare")).hasSize(3).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"));
        assertThat(runs(ds, "prepare")).containsExactly("abandoned/schedule 0/0/0", "succeeded/manual 3/3/0");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_restart_under_a_new_host_name_closes_the_dead_runs_only_where_no_other_node_can_be_alive(
            TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).property("factory.node.id", "container-1");
        try (var running = factory.start(home)) {
            var app = running.app();
            app.jobStore().offer("prepare", "item-1", "v1", "d1", true);
            long dead = app.jobStore().startRun("prepare", Trigger.SCHEDULE, app.node(), null);
            assertThat(app.jobStore().claim("prepare", dead, 1).items()).hasSize(1);
            app.context().getRouteController().stopRoute("prepare");
        }
        // the container comes back with a new host name
        var app = factory.start(home.property("factory.node.id", "container-2")).app();
        DataSource ds = app.database().dataSource();
        if (db == TestDatabase.H2) {
            // the embedded database is open in one process only: the run is certainly dead
            assertThat(runs(ds, "prepare")).containsExactly("abandoned/schedule 0/0/0");
            app.jobs().trigger("prepare", Trigger.MANUAL);
            assertThat(states(ds, "prepare")).singleElement()
                    .satisfies(s -> assertThat(s.status()).isEqualTo("done"));
        } else {
            // container-1 may be another node that is alive: its run is not this node's to close
            assertThat(runs(ds, "prepare")).containsExactly("running/schedule 0/0/0");
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void job_paused_in_configuration_ignores_fires_until_resumed(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "item-1", "v1", "d", true);
        app.configTable().set("job.prepare.paused", "true", false, "maintenance", "test");
        await().atMost(Duration.ofSeconds(10)).until(() -> app.context().getPropertiesComponent()
                .resolveProperty("job.prepare.paused").orElse("").equals("true"));
        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(states(app.database().dataSource(), "prepare")).isEmpty();
        assertThat(Sql.rows(app.database().dataSource(), "SELECT status, error_summary, fires_skipped FROM job_run"
                + " WHERE job = 'prepare'")).singleElement().satisfies(r -> {
                    assertThat(r.get("status")).isEqualTo("skipped");
                    assertThat(r.get("error_summary")).isEqualTo("paused (job.prepare.paused = true)");
                    assertThat(((Number) r.get("fires_skipped")).intValue()).isEqualTo(2);
                });
        app.configTable().set("job.prepare.paused", "false", false, null, "test");
        await().atMost(Duration.ofSeconds(10)).until(() -> app.context().getPropertiesComponent()
                .resolveProperty("job.prepare.paused").orElse("").equals("false"));
        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isPositive();
        assertThat(states(app.database().dataSource(), "prepare")).hasSize(1);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void scheduled_job_fires_on_its_cron(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "item-1", "v1", "d", true);
        app.configTable().set("job.prepare.cron", "0/1 * * * * ?", false, null, "test");
        await().atMost(Duration.ofSeconds(15)).until(() -> runs(app.database().dataSource(), "prepare")
                .contains("succeeded/schedule 1/1/0"));
        assertThat(states(app.database().dataSource(), "prepare")).singleElement()
                .satisfies(s -> assertThat(s.status()).isEqualTo("done"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void items_done_while_the_downstream_job_is_stopped_wait_for_it(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "item-1", "v1", "d", true);
        app.context().getRouteController().stopRoute("build");
        app.jobs().trigger("prepare", Trigger.MANUAL);
        app.context().getRouteController().startRoute("build");
        app.jobs().trigger("build", Trigger.MANUAL);
        assertThat(states(app.database().dataSource(), "build")).singleElement()
                .satisfies(s -> assertThat(s.data()).isEqualTo("d-prepared-built"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_handed_on_again_is_not_taken_twice_by_the_same_job(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.jobStore().offer("prepare", "item-1", "v1", "d", true);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(app.jobStore().offer("prepare", "item-1", "v1", "again", true)).isFalse();
        DataSource ds = app.database().dataSource();
        Sql.execute(ds, "INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)"
                + " VALUES ('prepare', 'item-1', 'v1', TRUE, 'again', CURRENT_TIMESTAMP)");
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(states(ds, "prepare")).singleElement()
                .satisfies(s -> assertThat(s.data()).isEqualTo("d-prepared"));
        assertThat(runs(ds, "prepare")).containsExactly("succeeded/manual 1/1/0", "succeeded/manual 0/0/0");
    }

    /** Nodes sharing one PostgreSQL that start the same job at the same instant: one run opens, the others skip. */
    @Test
    void starts_of_a_job_at_the_same_instant_on_several_nodes_open_one_run() throws Exception {
        var running = factory.start(factory.home(TestDatabase.POSTGRESQL));
        JobStore store = running.app().jobStore();
        int nodes = 6;
        ExecutorService pool = Executors.newFixedThreadPool(nodes);
        try {
            for (int round = 0; round < 15; round++) {
                CyclicBarrier together = new CyclicBarrier(nodes);
                List<Future<Long>> starts = new ArrayList<>();
                for (int n = 0; n < nodes; n++) {
                    String node = "node-" + n;
                    starts.add(pool.submit(() -> {
                        together.await();
                        return store.startRun("prepare", Trigger.SCHEDULE, node, null);
                    }));
                }
                List<Long> opened = new ArrayList<>();
                for (Future<Long> start : starts) {
                    long run = start.get(30, TimeUnit.SECONDS);
                    if (run >= 0) {
                        opened.add(run);
                    }
                }
                assertThat(opened).as("runs opened in round " + round).hasSize(1);
                store.finishRun(opened.get(0), RunStatus.SUCCEEDED, null);
            }
        } finally {
            pool.shutdownNow();
        }
        DataSource ds = running.app().database().dataSource();
        assertThat(runs(ds, "prepare")).filteredOn(r -> r.startsWith("succeeded")).hasSize(15);
        // consecutive skips for the same reason share a row and count there
        assertThat(Sql.count(ds, "SELECT SUM(fires_skipped) FROM job_run WHERE job = 'prepare'"
                + " AND status = 'skipped'")).isEqualTo(15 * (nodes - 1));
    }

    /**
     * A configuration change to a key a job's route uses waits for the job's run to end, also while the run has no
     * item in flight: here it commits its chunk, held by a lock the test takes on the run's row.
     */
    @Test
    void a_route_is_not_recreated_while_its_run_commits_a_chunk() throws Exception {
        var app = factory.start(factory.home(TestDatabase.POSTGRESQL)).app();
        DataSource ds = app.database().dataSource();
        CompletableFuture<Long> run = buildHeldAtItem1(app);
        Consumer before = app.context().getRoute("build").getConsumer();
        try (Connection lock = ds.getConnection()) {
            lock.setAutoCommit(false);
            try (PreparedStatement ps = lock.prepareStatement(
                    "SELECT run_id FROM job_run WHERE job = 'build' AND status = 'running' FOR UPDATE")) {
                ps.executeQuery().close();
            }
            Gate.release.countDown();
            // the run has processed its chunk and waits on the lock to count it: no exchange in flight
            await().atMost(Duration.ofSeconds(10)).until(() -> Sql.count(ds, "SELECT COUNT(*) FROM"
                    + " pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    + " AND query LIKE '%UPDATE job_run%'") == 1);
            assertThat(app.context().getInflightRepository().size("build")).isZero();

            app.configTable().set("job.build.cron", "0 0 0 1 1 ? 2098", false, "moved", "test");
            app.configWatcher().poll();
            assertThat(app.context().getRoute("build").getConsumer()).as("the build route during its run")
                    .isSameAs(before);
            lock.commit();
        }
        assertThat(run.get(10, TimeUnit.SECONDS)).isPositive();
        assertThat(runs(ds, "build")).containsExactly("succeeded/manual 2/2/0");
        app.configWatcher().poll();
        assertThat(app.context().getRoute("build").getConsumer()).as("the build route after its run")
                .isNotSameAs(before);
    }

    /**
     * With {@code transaction: chunk} on PostgreSQL the next chunk is taken while the one before commits, and cannot
     * see that chunk's items yet: an item offered to build by hand and fed to it by prepare too, taken by two chunks
     * one after the other, goes through build's route once, as the item rules say.
     */
    @Test
    void an_item_of_the_chunk_committing_taken_again_by_the_next_chunk_goes_through_the_route_once()
            throws Exception {
        var app = factory.start(factory.home(TestDatabase.POSTGRESQL)).app();
        DataSource ds = app.database().dataSource();
        for (int i = 1; i <= 2; i++) {
            app.jobStore().offer("prepare", "item-" + i, "v1", "data" + i, true);
        }
        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isPositive();
        // build's chunks hold two items: the first takes these two from its inbox, the next item-1 and item-2 from
        // its feed
        app.jobStore().offer("build", "item-1", "v1", "by hand", true);
        app.jobStore().offer("build", "extra", "v1", "by hand", true);
        Gate.reset("item-2");
        CompletableFuture<Long> run;
        try (Connection other = ds.getConnection()) {
            // the first chunk's write waits for a state row of "extra" that another transaction holds uncommitted
            // (and then rolls back), so the next chunk is taken and run meanwhile
            other.setAutoCommit(false);
            try (PreparedStatement ps = other.prepareStatement("INSERT INTO job_state (job, item_key, item_version,"
                    + " status, created_at, updated_at) VALUES ('build', 'extra', 'v1', 'done', ?, ?)")) {
                Timestamp now = Timestamp.from(Instant.now());
                ps.setTimestamp(1, now);
                ps.setTimestamp(2, now);
                ps.executeUpdate();
            }
            run = CompletableFuture.supplyAsync(() -> app.jobs().trigger("build", Trigger.MANUAL));
            assertThat(Gate.reached.await(30, TimeUnit.SECONDS)).as("item-2 reached the gate").isTrue();
            Gate.release.countDown();
            other.rollback();
        }
        assertThat(run.get(60, TimeUnit.SECONDS)).isPositive();

        assertThat(Gate.passed("item-1")).as("item-1 through build's route").isEqualTo(1);
        assertThat(states(ds, "build")).extracting(State::key, State::status, State::data).containsExactly(
                Tuple.tuple("extra", "done", "by hand-built"), Tuple.tuple("item-1", "done", "by hand-built"),
                Tuple.tuple("item-2", "done", "data2-prepared-built"));
        assertThat(runs(ds, "build")).containsExactly("succeeded/manual 3/3/0");
    }

    /**
     * With a pool of three connections, a chunk run of build holds one, the chunk committing another: none is left
     * to take the next chunk ahead and still record a failed item's error, so the next chunk is taken once the one
     * before is handed on, and the run ends with every item written and the failure recorded.
     */
    @Test
    void a_pool_with_no_connection_to_spare_takes_no_chunk_ahead_and_the_run_still_records_its_failures()
            throws Exception {
        var app = factory.start(factory.home(TestDatabase.POSTGRESQL).property("factory.db.pool-size", "3")
                .property("test.fail-key", "item-4")).app();
        for (int i = 1; i <= 9; i++) {
            app.jobStore().offer("prepare", "item-" + i, "v1", "data" + i, true);
        }
        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isPositive();
        assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isPositive();

        DataSource ds = app.database().dataSource();
        assertThat(runs(ds, "build")).containsExactly("succeeded/manual 9/8/1");
        assertThat(states(ds, "build")).filteredOn(s -> s.status().equals("failed")).extracting(State::key)
                .containsExactly("item-4");
        assertThat(Sql.rows(ds, "SELECT job FROM factory_error WHERE job = 'build'")).hasSize(1);
    }

    /**
     * The database goes away in the middle of a run and comes back: the run that could not record its end is
     * closed at the job's next fire, which then does the work; no restart, nothing lost or done twice.
     */
    @ParameterizedTest
    @ValueSource(strings = {"chunk", "claim"})
    void a_run_cut_off_by_a_database_outage_is_closed_at_the_next_fire_which_does_its_work(String transaction)
            throws Exception {
        Path data = factory.dir().resolve("pg-data");
        int port = FactoryHome.freePort();
        EmbeddedPostgres server = startPostgres(data, port);
        try {
            FactoryHome home = factory.home(TestDatabase.POSTGRESQL).property("job.build.transaction", transaction)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    .property("factory.db.connect-timeout", "2s");
            try (var running = factory.start(home)) {
                var app = running.app();
                CompletableFuture<Long> cut = buildHeldAtItem1(app);
                server.close();
                Gate.release.countDown();
                cut.get(60, TimeUnit.SECONDS);

                server = startPostgres(data, port);
                assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isPositive();
                DataSource ds = app.database().dataSource();
                assertThat(runs(ds, "build")).containsExactly("failed/manual 0/0/0", "succeeded/manual 2/2/0");
                // a claim committed before the outage counts the cut attempt; a chunk's rolled-back one does not
                int attempts = transaction.equals("claim") ? 2 : 1;
                assertThat(Sql.rows(ds, "SELECT error_summary FROM job_run WHERE job = 'build' AND status = 'failed'"))
                        .singleElement().satisfies(r -> assertThat((String) r.get("error_summary"))
                                .contains("recorded late"));
                assertThat(states(ds, "build")).extracting(State::key, State::status, State::attempts)
                        .containsExactly(Tuple.tuple("item-1", "done", attempts),
                                Tuple.tuple("item-2", "done", attempts));
            }
        } finally {
            server.close();
        }
    }

    /**
     * The run an outage cut off is closed as soon as the node's heartbeat finds the database back, without waiting for
     * a fire of its job (in a cluster the other nodes skip theirs while it is marked running, and the next fire may go
     * to any of them); the next run then takes its items back.
     */
    @Test
    void a_run_cut_off_by_a_database_outage_is_closed_once_the_heartbeat_finds_the_database_back() throws Exception {
        Path data = factory.dir().resolve("pg-data");
        int port = FactoryHome.freePort();
        EmbeddedPostgres server = startPostgres(data, port);
        try {
            FactoryHome home = factory.home(TestDatabase.POSTGRESQL)
                    .property("factory.db.url", server.getJdbcUrl("postgres", "postgres"))
                    .property("factory.db.user", "postgres")
                    .property("factory.db.password", "")
                    .property("factory.db.connect-timeout", "2s")
                    .property("factory.node.heartbeat", "500");
            try (var running = factory.start(home)) {
                var app = running.app();
                CompletableFuture<Long> cut = buildHeldAtItem1(app);
                int heartbeatsLost = occurrences(CapturedLog.text(), "Cannot write node ");
                server.close();
                Gate.release.countDown();
                cut.get(60, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> occurrences(CapturedLog.text(), "Cannot write node ") > heartbeatsLost);

                server = startPostgres(data, port);
                DataSource ds = app.database().dataSource();
                // no fire of build meanwhile: its cron is far away, and nobody triggers it
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> runs(ds, "build").equals(List.of("failed/manual 0/0/0")));
                assertThat(Sql.rows(ds, "SELECT error_summary FROM job_run WHERE job = 'build'")).singleElement()
                        .satisfies(r -> assertThat((String) r.get("error_summary")).contains("recorded late"));
                assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isPositive();
                assertThat(states(ds, "build")).extracting(State::key, State::status)
                        .containsExactly(Tuple.tuple("item-1", "done"), Tuple.tuple("item-2", "done"));
            }
        } finally {
            server.close();
        }
    }

    private static int occurrences(String text, String part) {
        return text.split(Pattern.quote(part), -1).length - 1;
    }

    static final String INTAKE = """
            - route:
                id: intake
                from:
                  uri: "direct:intake"
                  steps:
                    - to:
                        uri: "job:prepare"
                        parameters:
                          key: "${body[id]}"
            """;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_route_sending_a_list_to_a_job_offers_one_item_per_element_keyed_by_its_option(TestDatabase db)
            throws Exception {
        var app = factory.start(factory.home(db).route("intake.camel.yaml", INTAKE)).app();
        Object offered = app.context().createProducerTemplate().requestBody("direct:intake",
                List.of(Map.of("id", "order-1", "total", 10), Map.of("id", "order-2", "total", 20)));
        assertThat(offered).isInstanceOf(List.class);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        assertThat(states(app.database().dataSource(), "prepare"))
                .extracting(State::key, State::version, State::status)
                .containsExactly(Tuple.tuple("order-1", "1", "done"),
                        Tuple.tuple("order-2", "1", "done"));
        assertThat(states(app.database().dataSource(), "prepare").get(0).data())
                .contains("\"id\":\"order-1\"").contains("\"total\":10").endsWith("}-prepared");
    }

    @Test
    void sending_to_a_job_without_an_item_key_is_an_error_naming_the_route() throws Exception {
        var app = factory.start(factory.home(TestDatabase.H2).route("intake.camel.yaml", INTAKE)).app();
        DataSource ds = app.database().dataSource();
        app.context().createProducerTemplate().requestBody("direct:intake", Map.of("total", 10));
        assertThat(Sql.rows(ds, "SELECT route_id, message FROM factory_error")).singleElement().satisfies(r -> {
            assertThat(r.get("route_id")).isEqualTo("intake");
            assertThat((String) r.get("message")).isEqualTo("Route 'intake' sends to job:prepare a message with"
                    + " no item key: set the header FactoryItemKey or the option key (for example"
                    + " key=${body[id]})");
        });
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting")).isZero();
    }

    @Test
    void sending_a_list_to_a_job_without_the_key_option_is_an_error_and_offers_nothing() throws Exception {
        var app = factory.start(factory.home(TestDatabase.H2).route("intake.camel.yaml", """
                - route:
                    id: intake
                    from:
                      uri: "direct:intake"
                      steps:
                        - setHeader:
                            name: FactoryItemKey
                            constant: "the-parent"
                        - to: "job:prepare"
                """)).app();
        DataSource ds = app.database().dataSource();
        app.context().createProducerTemplate().requestBody("direct:intake", List.of("a", "b"));
        assertThat(Sql.rows(ds, "SELECT message FROM factory_error")).singleElement()
                .satisfies(r -> assertThat((String) r.get("message")).contains("Route 'intake' sends a list to"
                        + " job:prepare without the option key"));
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_waiting")).isZero();
    }

    /** A refused task that is not the factory stopping is an item's failure like any other, recorded and mailed. */
    @Test
    void a_rejected_execution_while_the_factory_runs_fails_the_item_with_its_error() throws Exception {
        var app = factory.start(factory.home(TestDatabase.H2).route("refuse.camel.yaml", """
                - route:
                    id: refuse
                    from:
                      uri: "job:refuse"
                      steps:
                        - throwException:
                            exceptionType: "java.util.concurrent.RejectedExecutionException"
                            message: "pool full"
                """)).app();
        DataSource ds = app.database().dataSource();
        app.jobStore().offer("refuse", "item-1", "v1", "d", true);
        assertThat(app.jobs().trigger("refuse", Trigger.MANUAL)).isPositive();
        assertThat(states(ds, "refuse")).extracting(State::status).containsExactly("failed");
        assertThat(Sql.rows(ds, "SELECT message FROM factory_error")).singleElement()
                .satisfies(r -> assertThat((String) r.get("message")).contains("pool full"));
        assertThat(runs(ds, "refuse")).containsExactly("succeeded/manual 1/0/1");
    }

    static final String JSON_CHAIN = """
            - route:
                id: shape
                from:
                  uri: "job:shape"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    dataFormat: json
                  steps:
                    - script:
                        simple: "${body.put('state', 'shaped')}"
                    - script:
                        simple: "${body.put('was', '${exchangeProperty.FactoryItemData[state]}')}"
            - route:
                id: ship
                from:
                  uri: "job:ship"
                  parameters:
                    upstream: shape
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - setBody:
                        simple: "${body}-shipped"
            """;

    /** With dataFormat=json the route changes the item's map in place; the next job gets it back as JSON text. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_json_job_gets_the_item_as_a_map_and_hands_the_changed_map_on_as_json(TestDatabase db) throws Exception {
        try (var running = factory.home(db).route("json.camel.yaml", JSON_CHAIN).start()) {
            var app = running.app();
            app.jobStore().offer("shape", "item-1", "v1", "{\"id\":\"item-1\",\"state\":\"offered\"}", true);
            app.jobs().trigger("shape", Trigger.MANUAL);
            app.jobs().trigger("ship", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(states(ds, "ship")).extracting(State::status, State::data).containsExactly(Tuple.tuple("done",
                    "{\"id\":\"item-1\",\"state\":\"shaped\",\"was\":\"offered\"}-shipped"));
        }
    }

    /** A body that cannot be written as the data handed on fails its item; the run and the other items go on. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_whose_result_cannot_be_written_as_json_fails_alone(TestDatabase db) throws Exception {
        String chain = JSON_CHAIN.replace("        - script:\n            simple: \"${body.put('state'",
                "        - choice:\n"
                        + "            when:\n"
                        + "              - simple: \"${header.FactoryItemKey} == 'item-2'\"\n"
                        + "                steps:\n"
                        + "                  - bean:\n"
                        + "                      beanType: \"io.factoryrunner.job.Unwritable\"\n"
                        + "                      method: \"spoil\"\n"
                        + "        - script:\n            simple: \"${body.put('state'");
        assertThat(chain).contains("Unwritable");
        try (var running = factory.home(db).route("json.camel.yaml", chain).start()) {
            var app = running.app();
            app.jobStore().offer("shape", "item-1", "v1", "{\"id\":\"item-1\"}", true);
            app.jobStore().offer("shape", "item-2", "v1", "{\"id\":\"item-2\"}", true);
            app.jobs().trigger("shape", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(states(ds, "shape")).extracting(State::key, State::status).containsExactly(
                    Tuple.tuple("item-1", "done"), Tuple.tuple("item-2", "failed"));
            assertThat(runs(ds, "shape")).containsExactly("succeeded/manual 2/1/1");
            assertThat(Sql.rows(ds, "SELECT item_key, message FROM factory_error")).singleElement()
                    .satisfies(r -> assertThat((String) r.get("message")).contains("item-2")
                            .contains("cannot be written as JSON"));
            assertThat(Sql.rows(ds, "SELECT item_key FROM job_waiting WHERE job = 'ship'"))
                    .extracting(r -> r.get("item_key")).containsExactly("item-1");
        }
    }

    /** Data a json job cannot read fails that item alone, with an error naming the job, the item and the problem. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_whose_data_is_not_json_fails_alone_in_a_json_job(TestDatabase db) throws Exception {
        try (var running = factory.home(db).route("json.camel.yaml", JSON_CHAIN).start()) {
            var app = running.app();
            app.jobStore().offer("shape", "item-1", "v1", "{\"id\":\"item-1\",\"state\":\"offered\"}", true);
            app.jobStore().offer("shape", "item-2", "v1", "{\"id\": ", true);
            app.jobStore().offer("shape", "item-3", "v1", "{\"id\":\"item-3\",\"state\":\"offered\"}", true);
            app.jobs().trigger("shape", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(states(ds, "shape")).extracting(State::key, State::status, State::data).containsExactly(
                    Tuple.tuple("item-1", "done", "{\"id\":\"item-1\",\"state\":\"shaped\",\"was\":\"offered\"}"),
                    Tuple.tuple("item-2", "failed", "{\"id\": "),
                    Tuple.tuple("item-3", "done", "{\"id\":\"item-3\",\"state\":\"shaped\",\"was\":\"offered\"}"));
            assertThat(runs(ds, "shape")).containsExactly("succeeded/manual 3/2/1");
            assertThat(Sql.rows(ds, "SELECT job, route_id, item_key, message FROM factory_error")).singleElement()
                    .satisfies(r -> {
                        assertThat(r.get("job")).isEqualTo("shape");
                        assertThat(r.get("route_id")).isEqualTo("shape");
                        assertThat(r.get("item_key")).isEqualTo("item-2");
                        assertThat((String) r.get("message")).startsWith("Job shape (dataFormat=json): the data of"
                                + " item item-2 version v1 is not valid JSON: Unexpected end-of-input")
                                .contains("at line 1, column");
                    });
        }
    }

    @Test
    void an_item_whose_data_is_json_but_not_an_object_or_array_fails_in_a_json_job() throws Exception {
        try (var running = factory.home(TestDatabase.H2).route("json.camel.yaml", JSON_CHAIN).start()) {
            var app = running.app();
            app.jobStore().offer("shape", "item-1", "v1", "\"just text\"", true);
            app.jobs().trigger("shape", Trigger.MANUAL);
            DataSource ds = app.database().dataSource();
            assertThat(states(ds, "shape")).extracting(State::status).containsExactly("failed");
            assertThat(Sql.rows(ds, "SELECT message FROM factory_error")).singleElement()
                    .satisfies(r -> assertThat(r.get("message")).isEqualTo("Job shape (dataFormat=json): the data of"
                            + " item item-1 version v1 is JSON but neither an object nor an array"));
        }
    }

    /**
     * In a cluster, a run of a node silent for longer than factory.cluster.node-timeout is declared abandoned by the
     * node whose fire it blocks: one alert names the lost node, the job's next run takes back the items the lost run
     * had claimed, and a late write of the lost run is refused without changing anything.
     */
    @Test
    void a_run_of_a_lost_node_is_taken_over_and_its_late_writes_are_refused() throws Exception {
        FactoryHome home = factory.home(TestDatabase.POSTGRESQL).property("factory.cluster.enabled", "true")
                .property("factory.cluster.node-timeout", "30s");
        var app = factory.start(home).app();
        DataSource ds = app.database().dataSource();
        JobStore store = app.jobStore();
        for (int i = 1; i <= 3; i++) {
            store.offer("prepare", "item-" + i, "v1", "d" + i, true);
        }
        Timestamp hourAgo = Timestamp.from(Instant.now().minus(Duration.ofHours(1)));
        Sql.execute(ds, "INSERT INTO job_run (job, trigger_kind, node, status, started_at)"
                + " VALUES ('prepare', 'schedule', 'node-b', 'running', ?)", hourAgo);
        long lost = Sql.count(ds, "SELECT MAX(run_id) FROM job_run WHERE node = 'node-b'");
        Sql.execute(ds, "INSERT INTO factory_node (node, started_at, last_seen_at) VALUES ('node-b', ?, ?)", hourAgo,
                hourAgo);
        // node-b claimed two items, then fell silent
        List<JobStore.Item> claimedByLost = store.claim("prepare", lost, 2).items();
        assertThat(claimedByLost).hasSize(2);

        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).as("the fire the lost run blocks").isEqualTo(-1);
        assertThat(Sql.rows(ds, "SELECT status FROM job_run WHERE run_id = " + lost)).singleElement()
                .satisfies(r -> assertThat(r.get("status")).isEqualTo("abandoned"));
        assertThat(Sql.rows(ds, "SELECT subject FROM alerts WHERE kind = 'node_lost'")).singleElement()
                .satisfies(r -> assertThat((String) r.get("subject")).contains("node-b").contains("prepare"));

        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isPositive();
        assertThat(states(ds, "prepare")).extracting(State::key, State::status).containsExactly(
                Tuple.tuple("item-1", "done"), Tuple.tuple("item-2", "done"), Tuple.tuple("item-3", "done"));

        // node-b comes back and writes its chunk: refused, nothing changed
        assertThatThrownBy(() -> store.complete("prepare", lost, List.of(new JobStore.Result(claimedByLost.get(0),
                JobStore.Outcome.FAILED, "late", "late failure", 0)), 0))
                .isInstanceOf(SQLException.class).hasMessageContaining("no longer running");
        assertThat(states(ds, "prepare")).extracting(State::status).containsOnly("done");
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'node_lost'")).isEqualTo(1);
    }

    static final String POOL = """
            - route:
                id: pool
                from:
                  uri: "job:pool"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    maxRuns: "{{job.pool.max-runs}}"
                  steps:
                    - setBody:
                        simple: "${body}-pooled"
            """;

    /** Node {@code node}'s run of job pool, going since an hour ago, with {@code claims} items claimed. */
    private static long runOf(DataSource ds, JobStore store, String node, int claims) throws Exception {
        Timestamp hourAgo = Timestamp.from(Instant.now().minus(Duration.ofHours(1)));
        Sql.execute(ds, "INSERT INTO job_run (job, trigger_kind, node, status, started_at)"
                + " VALUES ('pool', 'schedule', ?, 'running', ?)", node, hourAgo);
        long run = Sql.count(ds, "SELECT MAX(run_id) FROM job_run WHERE node = ?", node);
        assertThat(store.claim("pool", run, claims).items()).hasSize(claims);
        return run;
    }

    /**
     * A clustered factory whose job {@code pool} allows {@code maxRuns} runs and has six items waiting, beside a node
     * {@code node-b} last seen an hour ago (lost).
     */
    private FactoryApplication poolWithLostNode(int maxRuns) throws Exception {
        FactoryHome home = factory.home(TestDatabase.POSTGRESQL).property("factory.cluster.enabled", "true")
                .property("factory.cluster.node-timeout", "30s").property("job.pool.max-runs", String.valueOf(maxRuns))
                .route("pool.camel.yaml", POOL);
        var app = factory.start(home).app();
        for (int i = 1; i <= 6; i++) {
            app.jobStore().offer("pool", "item-" + i, "v1", "d" + i, true);
        }
        Timestamp hourAgo = Timestamp.from(Instant.now().minus(Duration.ofHours(1)));
        Sql.execute(app.database().dataSource(), "INSERT INTO factory_node (node, started_at, last_seen_at)"
                + " VALUES ('node-b', ?, ?)", hourAgo, hourAgo);
        return app;
    }

    /**
     * With maxRuns 2, a fire skipped while a lost node's run and a live node's run are going declares the lost one
     * abandoned and leaves the live one alone: the next run takes back the lost run's items and never the live
     * run's.
     */
    @Test
    void a_lost_nodes_run_beside_a_live_nodes_run_is_taken_over_without_touching_the_live_runs_items()
            throws Exception {
        var app = poolWithLostNode(2);
        DataSource ds = app.database().dataSource();
        Timestamp hourAgo = Timestamp.from(Instant.now().minus(Duration.ofHours(1)));
        Sql.execute(ds, "INSERT INTO factory_node (node, started_at, last_seen_at) VALUES ('node-c', ?,"
                + " CURRENT_TIMESTAMP)", hourAgo);
        long lost = runOf(ds, app.jobStore(), "node-b", 2);
        long live = runOf(ds, app.jobStore(), "node-c", 2);

        assertThat(app.jobs().trigger("pool", Trigger.MANUAL)).as("the fire the two runs hold").isEqualTo(-1);
        assertThat(Sql.rows(ds, "SELECT run_id, status FROM job_run WHERE run_id IN (?, ?) ORDER BY run_id", lost,
                live)).extracting(r -> r.get("status")).containsExactly("abandoned", "running");
        assertThat(Sql.column(ds, "SELECT subject FROM alerts WHERE kind = 'node_lost'")).singleElement()
                .satisfies(subject -> assertThat(subject).contains("node-b").doesNotContain("node-c"));

        long next = app.jobs().trigger("pool", Trigger.MANUAL);
        assertThat(next).isPositive();
        assertThat(Sql.rows(ds, "SELECT status, run_id FROM job_state WHERE job = 'pool' ORDER BY item_key"))
                .extracting(r -> r.get("status") + " " + (((Number) r.get("run_id")).longValue() == live ? "live"
                        : ((Number) r.get("run_id")).longValue() == next ? "next" : "other"))
                .containsExactlyInAnyOrder("done next", "done next", "done next", "done next", "claimed live",
                        "claimed live");
        assertThat(runs(ds, "pool")).contains("succeeded/manual 4/4/0");
    }

    /**
     * With room for another run, a run starts beside a lost node's run at once, declaring that one abandoned first,
     * and takes its items back.
     */
    @Test
    void a_run_started_beside_a_lost_nodes_run_takes_it_over_and_does_its_items() throws Exception {
        var app = poolWithLostNode(3);
        DataSource ds = app.database().dataSource();
        long lost = runOf(ds, app.jobStore(), "node-b", 2);

        assertThat(app.jobs().trigger("pool", Trigger.MANUAL)).isPositive();
        assertThat(Sql.column(ds, "SELECT status FROM job_run WHERE run_id = ?", lost)).containsExactly("abandoned");
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'node_lost'")).isEqualTo(1);
        assertThat(states(ds, "pool")).hasSize(6).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"));
        assertThat(runs(ds, "pool")).containsExactly("abandoned/schedule 0/0/0", "succeeded/manual 6/6/0");
    }

    static final String PARALLEL = """
            - route:
                id: fetch
                from:
                  uri: "job:fetch"
                  parameters:
                    cron: "0 0 0 1 1 ? 2099"
                    chunkSize: 10
                    concurrency: 4
                    transaction: "{{job.fetch.transaction}}"
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.job.Overlap"
                        method: "enter"
                    - delay:
                        constant: 100
                    - setBody:
                        simple: "${body}-fetched"
                    - bean:
                        beanType: "io.factoryrunner.job.Overlap"
                        method: "leave"
            - route:
                id: keep
                from:
                  uri: "job:keep"
                  parameters:
                    upstream: fetch
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - log: "${body}"
            """;

    /**
     * With concurrency 4, a chunk's items go through the route four at a time; the run's counts stay exact and every
     * item is handed on once, with either transaction.
     */
    @ParameterizedTest
    @CsvSource({"H2,claim", "H2,chunk", "POSTGRESQL,claim", "POSTGRESQL,chunk"})
    void items_of_a_chunk_go_through_the_route_at_once_with_exact_counts(TestDatabase db, String transaction)
            throws Exception {
        Overlap.reset();
        var app = factory.start(factory.home(db).property("job.fetch.transaction", transaction)
                .route("parallel.camel.yaml", PARALLEL)).app();
        for (int i = 1; i <= 40; i++) {
            app.jobStore().offer("fetch", String.format("item-%02d", i), "v1", "d" + i, true);
        }
        assertThat(app.jobs().trigger("fetch", Trigger.MANUAL)).isPositive();
        assertThat(app.jobs().trigger("keep", Trigger.MANUAL)).isPositive();

        DataSource ds = app.database().dataSource();
        assertThat(Overlap.MOST.get()).as("items in the route at once").isBetween(2, 4);
        assertThat(runs(ds, "fetch")).containsExactly("succeeded/manual 40/40/0");
        assertThat(runs(ds, "keep")).containsExactly("succeeded/manual 40/40/0");
        assertThat(states(ds, "keep")).hasSize(40).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"));
        assertThat(Sql.rows(ds, "SELECT data FROM job_state WHERE job = 'keep' AND item_key = 'item-07'"))
                .singleElement().satisfies(r -> assertThat(r.get("data")).isEqualTo("d7-fetched"));
    }

    static final String SHARED = """
            - route:
                id: share
                from:
                  uri: "job:share"
                  parameters:
                    cron: "{{job.share.cron}}"
                    chunkSize: 5
                    maxRuns: 2
                  steps:
                    - bean:
                        beanType: "io.factoryrunner.job.HeldRuns"
                        method: "enter"
                    - setBody:
                        simple: "${body}-shared"
            - route:
                id: keep
                from:
                  uri: "job:keep"
                  parameters:
                    upstream: share
                    cron: "0 0 0 1 1 ? 2099"
                  steps:
                    - log: "${body}"
            """;

    /**
     * With maxRuns 2, a fire while the job's run is held starts a second run on the same node, which takes the next
     * items; a third start is skipped naming maxRuns; every item is acted on once, each run's counts are its own, and
     * the downstream job takes each item once.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void fires_of_a_job_with_max_runs_two_run_at_once_on_one_node_sharing_its_items(TestDatabase db)
            throws Exception {
        HeldRuns.reset();
        try {
            var app = factory.start(factory.home(db).property("job.share.cron", "* * * * * ?")
                    .route("shared.camel.yaml", SHARED)).app();
            DataSource ds = app.database().dataSource();
            for (int i = 1; i <= 40; i++) {
                app.jobStore().offer("share", String.format("item-%02d", i), "v1", "d" + i, true);
            }
            // two fires a second apart, each run held at its first item
            await().atMost(Duration.ofSeconds(60)).until(() -> HeldRuns.RUNS.size() == 2);
            assertThat(Sql.count(ds, "SELECT COUNT(*) FROM job_run WHERE job = 'share' AND status = 'running'"))
                    .isEqualTo(2);
            assertThat(app.jobs().trigger("share", Trigger.MANUAL)).isEqualTo(-1);
            assertThat(Sql.column(ds, "SELECT error_summary FROM job_run WHERE job = 'share' AND status = 'skipped'"))
                    .contains("2 runs of share were still going (maxRuns = 2)");
            HeldRuns.release.countDown();

            await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(ds, "SELECT COUNT(*) FROM job_state"
                    + " WHERE job = 'share' AND status = 'done'") == 40 && Sql.count(ds, "SELECT COUNT(*) FROM job_run"
                    + " WHERE job = 'share' AND status = 'running'") == 0);
            assertThat(app.jobs().trigger("keep", Trigger.MANUAL)).isPositive();

            List<Map<String, Object>> worked = Sql.rows(ds, "SELECT r.run_id, r.items_taken, r.items_done,"
                    + " (SELECT COUNT(*) FROM job_state s WHERE s.job = 'share' AND s.run_id = r.run_id) AS rows_of_run"
                    + " FROM job_run r WHERE r.job = 'share' AND r.items_taken > 0");
            assertThat(worked).as("runs that took items").extracting(r -> ((Number) r.get("run_id")).longValue())
                    .containsAll(HeldRuns.RUNS);
            assertThat(worked).allSatisfy(r -> {
                assertThat(((Number) r.get("items_done")).longValue()).as("run " + r.get("run_id"))
                        .isEqualTo(((Number) r.get("items_taken")).longValue())
                        .isEqualTo(((Number) r.get("rows_of_run")).longValue());
            });
            assertThat(worked.stream().mapToLong(r -> ((Number) r.get("items_done")).longValue()).sum())
                    .isEqualTo(40);
            assertThat(states(ds, "keep")).hasSize(40).allSatisfy(s -> assertThat(s.status()).isEqualTo("done"))
                    .extracting(State::data).doesNotHaveDuplicates().contains("d7-shared");
            assertThat(runs(ds, "keep")).containsExactly("succeeded/manual 40/40/0");
        } finally {
            HeldRuns.release.countDown();
        }
    }

    /** Camel makes an endpoint for every URI naming a job; one without the upstream changes nothing of the job. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_second_endpoint_for_a_job_does_not_cut_its_hand_off(TestDatabase db) throws Exception {
        var app = factory.start(factory.home(db)).app();
        app.context().getEndpoint("job:build");
        app.context().getEndpoint("job:build?chunkSize=7");
        app.jobStore().offer("prepare", "item-1", "v1", "d1", true);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        app.jobs().trigger("build", Trigger.MANUAL);
        assertThat(states(app.database().dataSource(), "build")).extracting(State::key, State::status)
                .containsExactly(Tuple.tuple("item-1", "done"));
    }

    /**
     * A run left running by a node that stopped writing its heartbeat blocks the job: the skipped fires are one row,
     * health says which job and node, and one alert tells what to do. A node that is only slow is not reported.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_job_held_by_a_run_of_a_silent_node_is_reported_down_and_alerted_once(TestDatabase db) throws Exception {
        FactoryHome home = factory.home(db).property("factory.node.stale-after", "1m");
        int port = home.withHttpServer();
        var app = factory.start(home).app();
        DataSource ds = app.database().dataSource();
        Timestamp hourAgo = Timestamp.from(Instant.now().minus(Duration.ofHours(1)));
        Sql.execute(ds, "INSERT INTO job_run (job, trigger_kind, node, status, started_at)"
                + " VALUES ('build', 'schedule', 'node-b', 'running', ?)", hourAgo);
        Sql.execute(ds, "INSERT INTO factory_node (node, started_at, last_seen_at)"
                + " VALUES ('node-b', ?, CURRENT_TIMESTAMP)", hourAgo);
        assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(health(port)).startsWith("200");
        assertThat(Sql.count(ds, "SELECT COUNT(*) FROM alerts WHERE kind = 'job_blocked'")).isZero();

        Sql.execute(ds, "UPDATE factory_node SET last_seen_at = ? WHERE node = 'node-b'", hourAgo);
        assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isEqualTo(-1);
        assertThat(health(port)).startsWith("503").contains("job build is blocked by run")
                .contains("of node node-b");
        assertThat(Sql.rows(ds, "SELECT subject FROM alerts WHERE kind = 'job_blocked'")).singleElement()
                .satisfies(r -> assertThat((String) r.get("subject")).contains("build").contains("node-b"));
        assertThat(Sql.rows(ds, "SELECT fires_skipped FROM job_run WHERE job = 'build' AND status = 'skipped'"))
                .singleElement().satisfies(r -> assertThat(((Number) r.get("fires_skipped")).intValue())
                        .isEqualTo(3));

        Sql.execute(ds, "UPDATE job_run SET status = 'abandoned' WHERE node = 'node-b'");
        // healthy again at once, not at the job's next fire
        assertThat(health(port)).startsWith("200");
        assertThat(app.jobs().trigger("build", Trigger.MANUAL)).isPositive();
        assertThat(health(port)).startsWith("200");
    }

    private static String health(int port) throws Exception {
        HttpResponse<String> response = TestHttp.client().send(HttpRequest.newBuilder(
                URI.create("http://localhost:" + port + "/observe/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        return response.statusCode() + " " + response.body();
    }

    /**
     * A database restart kills every pooled connection while the factory is idle; a trigger at once after it runs
     * the job, on fresh connections, instead of failing on a dead one.
     */
    @Test
    void a_trigger_right_after_the_pooled_connections_were_killed_runs_the_job() throws Exception {
        var app = factory.start(factory.home(TestDatabase.POSTGRESQL).property("factory.db.pool-size", "3")).app();
        DataSource ds = app.database().dataSource();
        app.jobStore().offer("prepare", "item-1", "v1", "d1", true);
        List<Connection> pooled = new ArrayList<>();
        List<Integer> pids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Connection c = ds.getConnection();
            pooled.add(c);
            pids.add(Sql.count(c, "SELECT pg_backend_pid()"));
        }
        DataSource admin = TestDatabase.server().getPostgresDatabase();
        for (int pid : pids) {
            Sql.rows(admin, "SELECT pg_terminate_backend(?)", pid);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> Sql.count(admin,
                "SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN (?, ?, ?)", pids.toArray()) == 0);
        // back in the pool as just used, so the pool does not check them before handing them out again
        for (Connection c : pooled) {
            c.close();
        }

        assertThat(app.jobs().trigger("prepare", Trigger.MANUAL)).isPositive();
        assertThat(runs(ds, "prepare")).containsExactly("succeeded/manual 1/1/0");
    }

    /** Two items through prepare, then a build run on another thread, held by the gate at item-1. */
    private static CompletableFuture<Long> buildHeldAtItem1(FactoryApplication app)
            throws Exception {
        app.jobStore().offer("prepare", "item-1", "v1", "d1", true);
        app.jobStore().offer("prepare", "item-2", "v1", "d2", true);
        app.jobs().trigger("prepare", Trigger.MANUAL);
        Gate.reset("item-1");
        CompletableFuture<Long> run = CompletableFuture.supplyAsync(() -> app.jobs().trigger("build", Trigger.MANUAL));
        assertThat(Gate.reached.await(10, TimeUnit.SECONDS)).isTrue();
        return run;
    }

    private static EmbeddedPostgres startPostgres(Path data, int port) throws IOException {
        return EmbeddedPostgres.builder().setDataDirectory(data).setCleanDataDirectory(false).setPort(port).start();
    }
}
