package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import io.factoryrunner.db.Database;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Item;
import io.factoryrunner.job.JobStore.OpenChunk;
import io.factoryrunner.job.JobStore.Outcome;
import io.factoryrunner.job.JobStore.Result;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The job store on a bare, freshly migrated database, without Camel: what every database must do the same way,
 * whichever statements it takes to do it.
 */
class JobStoreContractTest {

    @TempDir
    Path dir;

    private Database database;
    private JobStore store;
    private Jdbc jdbc;

    @AfterEach
    void close() {
        if (database != null) {
            database.close();
        }
    }

    private void open(TestDatabase db) {
        database = db.open(dir);
        store = new JobStore(database.dataSource(), Clock.systemUTC(), database.dialect());
        jdbc = Jdbc.of(database.dataSource());
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_offered_item_is_claimed_finished_and_handed_to_the_downstream_jobs(TestDatabase db) throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        store.declareFeed("check", "prepare");
        assertThat(store.offer("prepare", "item-1", "v1", "raw", true)).isTrue();
        long run = store.startRun("prepare", Trigger.MANUAL, "node-1", null);

        Claim claim = store.claim("prepare", run, 10);
        assertThat(claim.taken()).isEqualTo(1);
        assertThat(claim.items()).singleElement()
                .satisfies(item -> assertThat(item.data()).isEqualTo("raw"))
                .satisfies(item -> assertThat(item.attempts()).isEqualTo(1));
        assertThat(states("prepare")).containsExactly("item-1/v1 claimed raw");

        Item item = claim.items().get(0);
        int written = store.complete("prepare", run, List.of(new Result(item, Outcome.DONE, "prepared", null, 0)),
                0);

        assertThat(written).isEqualTo(1);
        assertThat(states("prepare")).containsExactly("item-1/v1 done prepared");
        assertThat(waiting("prepare")).isEmpty();
        assertThat(waiting("build")).containsExactly("item-1/v1 prepared");
        assertThat(waiting("check")).containsExactly("item-1/v1 prepared");
        assertThat(inbox("build")).as("a hand-on writes no row of its own").isEmpty();
        assertThat(counts(run)).isEqualTo("taken 1, done 1, failed 0");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_chunk_taken_and_committed_writes_its_results_and_hands_the_done_items_on(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        for (int i = 1; i <= 3; i++) {
            store.offer("prepare", "item-" + i, "v1", "raw" + i, true);
        }
        long run = store.startRun("prepare", Trigger.MANUAL, "node-1", null);

        try (OpenChunk chunk = store.openChunk("prepare", 10, Clock.systemUTC().instant())) {
            assertThat(chunk.taken()).isEqualTo(3);
            List<Item> items = chunk.items();
            assertThat(items).extracting(Item::key).containsExactly("item-1", "item-2", "item-3");
            store.commitChunk(chunk, "prepare", run, List.of(
                    new Result(items.get(0), Outcome.DONE, "prepared1", null, 0),
                    new Result(items.get(1), Outcome.FAILED, items.get(1).data(), "no such customer", 2),
                    new Result(items.get(2), Outcome.DONE, "prepared3", null, 0)), List.of());
        }

        assertThat(states("prepare")).containsExactly("item-1/v1 done prepared1", "item-2/v1 failed raw2",
                "item-3/v1 done prepared3");
        assertThat(waiting("prepare")).isEmpty();
        assertThat(waiting("build")).containsExactly("item-1/v1 prepared1", "item-3/v1 prepared3");
        assertThat(counts(run)).isEqualTo("taken 3, done 2, failed 1");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_chunk_closed_without_a_commit_leaves_its_items_waiting(TestDatabase db) throws Exception {
        open(db);
        store.offer("prepare", "item-1", "v1", "raw", true);

        try (OpenChunk chunk = store.openChunk("prepare", 10, Clock.systemUTC().instant())) {
            assertThat(chunk.items()).hasSize(1);
        }

        assertThat(inbox("prepare")).containsExactly("item-1/v1 raw");
        assertThat(states("prepare")).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_downstream_job_takes_its_upstreams_done_items_in_the_order_they_were_committed(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2", "item-3"), List.of("item-2"));
        finish("prepare", List.of("item-4", "item-5"), List.of());

        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        Claim first = store.claim("build", run, 3);
        assertThat(first.items()).extracting(Item::key).containsExactly("item-1", "item-3", "item-4");
        assertThat(first.items()).allSatisfy(item -> assertThat(item.attempts()).isEqualTo(1));
        assertThat(first.items()).extracting(Item::data).containsExactly("item-1 done", "item-3 done", "item-4 done");
        assertThat(waiting("build")).containsExactly("item-5/v1 item-5 done");

        try (OpenChunk chunk = store.openChunk("build", 10, Clock.systemUTC().instant())) {
            assertThat(chunk.items()).extracting(Item::key).containsExactly("item-5");
            store.commitChunk(chunk, "build", run, List.of(
                    new Result(chunk.items().get(0), Outcome.DONE, "built", null, 0)), List.of());
        }
        assertThat(waiting("build")).isEmpty();
        assertThat(store.claim("build", run, 10).taken()).isZero();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_chunk_of_the_feed_rolled_back_leaves_its_items_waiting_and_the_next_chunk_goes_on_from_the_last(
            TestDatabase db) throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2", "item-3", "item-4"), List.of());
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);

        try (OpenChunk chunk = store.openChunk("build", 2, Clock.systemUTC().instant())) {
            assertThat(chunk.items()).extracting(Item::key).containsExactly("item-1", "item-2");
        }
        assertThat(waiting("build")).hasSize(4);

        OpenChunk first = store.openChunk("build", 2, Clock.systemUTC().instant());
        // the next chunk is taken from where the first one ends, before the first is committed
        OpenChunk second = store.openChunk("build", 2, Clock.systemUTC().instant(), first.feed());
        assertThat(second.items()).extracting(Item::key).containsExactly("item-3", "item-4");
        try (first; second) {
            store.commitChunk(first, "build", run, done(first.items()), List.of());
            store.commitChunk(second, "build", run, done(second.items()), List.of());
        }
        assertThat(waiting("build")).isEmpty();
        assertThat(states("build")).hasSize(4);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_chunk_whose_feed_another_run_moved_meanwhile_is_refused_and_writes_nothing(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2"), List.of());
        long stale = store.startRun("build", Trigger.MANUAL, "node-1", null);

        OpenChunk chunk = store.openChunk("build", 10, Clock.systemUTC().instant());
        // meanwhile another run (the node of the first was declared dead) takes the same items and commits
        assertThat(store.claim("build", stale + 1000, 10).items()).hasSize(2);
        try (chunk) {
            assertThatThrownBy(() -> store.commitChunk(chunk, "build", stale, done(chunk.items()), List.of()))
                    .isInstanceOf(SQLException.class).hasMessageContaining("moved by another run");
        }
        assertThat(states("build")).containsExactly("item-1/v1 claimed item-1 done", "item-2/v1 claimed item-2 done");
    }

    /** An item offered to a job by hand that its upstream also hands on, both in one claim, is claimed once. */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_in_the_inbox_and_in_the_feed_of_one_claim_is_claimed_once(TestDatabase db) throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2"), List.of());
        store.offer("build", "item-1", "v1", "by hand", true);
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);

        Claim claim = store.claim("build", run, 10);

        assertThat(claim.taken()).isEqualTo(3);
        assertThat(claim.items()).extracting(Item::key, Item::data)
                .containsExactly(tuple("item-1", "by hand"), tuple("item-2", "item-2 done"));
        assertThat(states("build")).containsExactly("item-1/v1 claimed by hand", "item-2/v1 claimed item-2 done");
        assertThat(waiting("build")).isEmpty();
    }

    /**
     * A chunk's write inserts its state rows without a conflict clause and goes back over them when another run wrote
     * one of its items meanwhile: that item's row stays as the other run wrote it, and the chunk's others are written
     * and counted. On PostgreSQL only: there the other run's claim skips the inbox rows the chunk holds, where H2
     * waits for the chunk to end.
     */
    @ParameterizedTest
    @EnumSource(value = TestDatabase.class, names = "POSTGRESQL")
    void a_chunk_leaves_an_item_another_run_wrote_meanwhile_as_it_is_and_writes_the_others(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1"), List.of());
        // offered by hand too: a chunk of two takes these and leaves the feed
        store.offer("build", "item-1", "v1", "by hand", true);
        store.offer("build", "item-2", "v1", "by hand", true);
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);

        try (OpenChunk chunk = store.openChunk("build", 2, Clock.systemUTC().instant())) {
            assertThat(chunk.items()).extracting(Item::key).containsExactly("item-1", "item-2");
            // meanwhile another run (its node thought this one dead) claims item-1 from the feed
            assertThat(store.claim("build", run + 1000, 10).items()).extracting(Item::key).containsExactly("item-1");
            assertThat(store.commitChunk(chunk, "build", run, List.of(
                    new Result(chunk.items().get(0), Outcome.DONE, "built 1", null, 0),
                    new Result(chunk.items().get(1), Outcome.DONE, "built 2", null, 0)), List.of())).isEqualTo(1);
        }

        assertThat(states("build")).containsExactly("item-1/v1 claimed item-1 done", "item-2/v1 done built 2");
        assertThat(waiting("build")).isEmpty();
        assertThat(counts(run)).isEqualTo("taken 1, done 1, failed 0");
    }

    /**
     * On PostgreSQL a run writes a chunk while the chunk before it commits: the write waits in the database for that
     * commit, then goes on from where that chunk left the feed, the run's counts and the job's numbering.
     */
    @ParameterizedTest
    @EnumSource(value = TestDatabase.class, names = "POSTGRESQL")
    void a_chunk_written_while_the_one_before_commits_waits_for_it_and_goes_on_from_where_it_left_the_feed(
            TestDatabase db) throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        store.declareFeed("check", "build");
        finish("prepare", List.of("item-1", "item-2", "item-3", "item-4"), List.of());
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (OpenChunk first = store.openChunk("build", 2, Clock.systemUTC().instant());
                OpenChunk second = store.openChunk("build", 2, Clock.systemUTC().instant(), first.feed())) {
            Future<Integer> secondWrite = writeBehind(first, second, run, writer);

            store.commitChunk(first);
            assertThat(secondWrite.get(30, TimeUnit.SECONDS)).isEqualTo(2);
            store.commitChunk(second);
        } finally {
            writer.shutdownNow();
        }

        assertThat(waiting("build")).isEmpty();
        assertThat(counts(run)).isEqualTo("taken 4, done 4, failed 0");
        long check = store.startRun("check", Trigger.MANUAL, "node-1", null);
        assertThat(store.claim("check", check, 10).items()).extracting(Item::key)
                .containsExactly("item-1", "item-2", "item-3", "item-4");
    }

    /**
     * A chunk written while the one before commits, whose transaction is rolled back instead, finds the feed where
     * that one took it from and is refused: every item of both waits again.
     */
    @ParameterizedTest
    @EnumSource(value = TestDatabase.class, names = "POSTGRESQL")
    void a_chunk_written_while_the_one_before_is_rolled_back_is_refused_and_every_item_waits_again(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2", "item-3", "item-4"), List.of());
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (OpenChunk first = store.openChunk("build", 2, Clock.systemUTC().instant());
                OpenChunk second = store.openChunk("build", 2, Clock.systemUTC().instant(), first.feed())) {
            Future<Integer> secondWrite = writeBehind(first, second, run, writer);

            // closed without a commit: rolled back
            first.close();
            assertThatThrownBy(() -> secondWrite.get(30, TimeUnit.SECONDS)).cause()
                    .isInstanceOf(SQLException.class).hasMessageContaining("moved by another run");
        } finally {
            writer.shutdownNow();
        }

        assertThat(states("build")).isEmpty();
        assertThat(waiting("build")).hasSize(4);
        assertThat(counts(run)).isEqualTo("taken 0, done 0, failed 0");
    }

    /**
     * Writes build's {@code first} chunk, then its {@code second} on {@code writer}, and answers that write once it
     * waits for the first chunk's transaction, which holds the job's head row.
     */
    private Future<Integer> writeBehind(OpenChunk first, OpenChunk second, long run, ExecutorService writer)
            throws SQLException {
        assertThat(store.writeChunk(first, "build", run, done(first.items()), List.of())).isEqualTo(2);
        Future<Integer> secondWrite = writer.submit(
                () -> store.writeChunk(second, "build", run, done(second.items()), List.of()));
        await().atMost(Duration.ofSeconds(30)).until(this::lockWaits, waits -> waits == 1);
        assertThat(secondWrite).isNotDone();
        return secondWrite;
    }

    /** How many of this database's sessions wait for a lock. */
    private int lockWaits() throws SQLException {
        return jdbc.queryFirst("""
                SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                """, rs -> rs.getInt(1)).orElseThrow();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_job_declared_after_its_upstream_finished_items_takes_only_what_is_finished_from_then_on(TestDatabase db)
            throws Exception {
        open(db);
        finish("prepare", List.of("item-1"), List.of());
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-2"), List.of());

        assertThat(waiting("build")).containsExactly("item-2/v1 item-2 done");
        // a downstream job the upstream's run gives a feed before it writes (declared while the database was away)
        store.ensureFeeds("prepare", List.of("check"));
        finish("prepare", List.of("item-3"), List.of());
        assertThat(waiting("check")).containsExactly("item-3/v1 item-3 done");
        assertThat(waiting("build")).containsExactly("item-2/v1 item-2 done", "item-3/v1 item-3 done");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_redriven_upstream_and_done_again_is_dropped_by_the_downstream_job_that_acted_on_it(
            TestDatabase db) throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        finish("prepare", List.of("item-1", "item-2"), List.of("item-2"));
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        store.complete("build", run, done(store.claim("build", run, 10).items()), 0);

        assertThat(store.redrive("prepare", "item-2", "v1")).isTrue();
        finish("prepare", List.of("item-2"), List.of());
        assertThat(waiting("build")).containsExactly("item-2/v1 item-2 done");
        assertThat(store.claim("build", run, 10).items()).extracting(Item::key).containsExactly("item-2");
        assertThat(waiting("build")).isEmpty();
    }

    /**
     * Items in parallel claim the next chunk before the current one is written, and write whichever chunk ends first:
     * a chunk written before an earlier one is counted and handed on at once, and a crash that leaves the earlier
     * chunk claimed gives only its items to the next run, which takes nothing written again.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_run_writes_its_chunks_in_any_order_and_a_crash_leaves_only_the_unwritten_ones_claimed(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        for (int i = 1; i <= 5; i++) {
            store.offer("prepare", "item-" + i, "v1", "raw" + i, true);
        }
        long run = store.startRun("prepare", Trigger.MANUAL, "node-1", null);
        List<Item> first = store.claim("prepare", run, 2).items();
        List<Item> second = store.claim("prepare", run, 2).items();
        assertThat(first).extracting(Item::key).containsExactly("item-1", "item-2");
        assertThat(second).extracting(Item::key).containsExactly("item-3", "item-4");

        store.complete("prepare", run, List.of(new Result(second.get(0), Outcome.DONE, "prepared3", null, 0),
                new Result(second.get(1), Outcome.FAILED, "raw4", "no such customer", 0)), 0);
        assertThat(counts(run)).isEqualTo("taken 2, done 1, failed 1");
        assertThat(waiting("build")).containsExactly("item-3/v1 prepared3");

        // the process dies with the first chunk claimed; the next run takes back its items only
        store.abandonRunsOf("node-1");
        long next = store.startRun("prepare", Trigger.MANUAL, "node-1", null);
        assertThat(store.reclaim("prepare", next)).isEqualTo(2);
        List<Item> takenBack = store.claimedBy("prepare", next, 10);
        assertThat(takenBack).extracting(Item::key, Item::attempts)
                .containsExactly(tuple("item-1", 2), tuple("item-2", 2));
        store.complete("prepare", next, done(takenBack), 0);
        store.complete("prepare", next, done(store.claim("prepare", next, 10).items()), 0);

        assertThat(states("prepare")).containsExactly("item-1/v1 done raw1", "item-2/v1 done raw2",
                "item-3/v1 done prepared3", "item-4/v1 failed raw4", "item-5/v1 done raw5");
        assertThat(counts(run)).isEqualTo("taken 2, done 1, failed 1");
        assertThat(counts(next)).isEqualTo("taken 3, done 3, failed 0");
        long build = store.startRun("build", Trigger.MANUAL, "node-1", null);
        assertThat(store.claim("build", build, 10).items()).extracting(Item::key)
                .containsExactly("item-3", "item-1", "item-2", "item-5");
    }

    /** Offers the keys to a job and runs them through it, the {@code failing} ones failed, the others done. */
    private void finish(String job, List<String> keys, List<String> failing) throws SQLException {
        for (String key : keys) {
            store.offer(job, key, "v1", key, true);
        }
        long run = store.startRun(job, Trigger.MANUAL, "node-1", null);
        List<Result> results = new ArrayList<>();
        for (Item item : store.claim(job, run, keys.size()).items()) {
            results.add(failing.contains(item.key())
                    ? new Result(item, Outcome.FAILED, item.data(), "failed on purpose", 0)
                    : new Result(item, Outcome.DONE, item.key() + " done", null, 0));
        }
        store.complete(job, run, results, 0);
        store.finishRun(run, RunStatus.SUCCEEDED, null);
    }

    private static List<Result> done(List<Item> items) {
        return items.stream().map(item -> new Result(item, Outcome.DONE, item.data(), null, 0)).toList();
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_item_handed_on_again_after_the_job_acted_on_it_is_taken_from_the_inbox_and_dropped(TestDatabase db)
            throws Exception {
        open(db);
        store.offer("build", "item-1", "v1", "prepared", true);
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        Item item = store.claim("build", run, 10).items().get(0);
        store.complete("build", run, List.of(new Result(item, Outcome.DONE, "built", null, 0)), 0);
        // the upstream job hands the same version on again (its item was redriven and done once more)
        jdbc.update("""
                INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
                VALUES ('build', 'item-1', 'v1', TRUE, 'prepared again', CURRENT_TIMESTAMP)""");

        try (OpenChunk chunk = store.openChunk("build", 10, Clock.systemUTC().instant())) {
            assertThat(chunk.taken()).isEqualTo(1);
            assertThat(chunk.items()).isEmpty();
            store.commitChunk(chunk, "build", run, List.of(), List.of());
        }

        assertThat(inbox("build")).isEmpty();
        assertThat(states("build")).containsExactly("item-1/v1 done built");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_failed_item_is_not_taken_again_until_redriven(TestDatabase db) throws Exception {
        open(db);
        store.offer("prepare", "item-1", "v1", "raw", true);
        long run = store.startRun("prepare", Trigger.MANUAL, "node-1", null);
        Item item = store.claim("prepare", run, 10).items().get(0);
        store.declareFeed("build", "prepare");
        store.complete("prepare", run, List.of(new Result(item, Outcome.FAILED, "raw", "no such customer", 0)), 0);
        store.finishRun(run, RunStatus.FAILED, "1 item failed");

        assertThat(states("prepare")).containsExactly("item-1/v1 failed raw");
        assertThat(waiting("build")).isEmpty();
        assertThat(store.offer("prepare", "item-1", "v1", "raw again", true)).as("offered again").isFalse();
        long second = store.startRun("prepare", Trigger.MANUAL, "node-1", null);
        assertThat(store.claim("prepare", second, 10).items()).isEmpty();

        assertThat(store.redrive("prepare", "item-1", "v1")).isTrue();
        assertThat(store.redrive("prepare", "item-1", "v1")).as("redriven twice").isFalse();

        assertThat(states("prepare")).isEmpty();
        assertThat(store.claim("prepare", second, 10).items()).singleElement()
                .satisfies(again -> assertThat(again.data()).isEqualTo("raw"));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_incomplete_item_waits_until_it_is_offered_complete(TestDatabase db) throws Exception {
        open(db);
        assertThat(store.offer("prepare", "item-1", "v1", null, false)).isTrue();
        long run = store.startRun("prepare", Trigger.MANUAL, "node-1", null);
        assertThat(store.claim("prepare", run, 10).taken()).isZero();

        assertThat(store.offer("prepare", "item-1", "v1", "whole", true)).isTrue();

        assertThat(inbox("prepare")).containsExactly("item-1/v1 whole");
        assertThat(store.claim("prepare", run, 10).items()).extracting(Item::data).containsExactly("whole");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void two_runs_claiming_at_once_never_take_the_same_item(TestDatabase db) throws Exception {
        open(db);
        int offered = 300;
        for (int i = 1; i <= offered; i++) {
            store.offer("prepare", "item-" + i, "v1", "raw", true);
        }
        // a node declared dead goes on claiming while the run that replaced it claims too
        long stale = store.startRun("prepare", Trigger.SCHEDULE, "node-1", null);
        store.abandonRunsOf("node-1");
        long current = store.startRun("prepare", Trigger.SCHEDULE, "node-2", null);

        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<String>> first = pool.submit(claimAll(stale, together));
            Future<List<String>> second = pool.submit(claimAll(current, together));
            List<String> claimed = new ArrayList<>(first.get());
            claimed.addAll(second.get());

            assertThat(claimed).doesNotHaveDuplicates().hasSize(offered);
        } finally {
            pool.shutdownNow();
        }
        assertThat(inbox("prepare")).isEmpty();
        assertThat(states("prepare")).hasSize(offered);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void two_runs_of_a_job_going_at_once_share_its_inbox_and_its_feed_without_taking_an_item_twice(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        List<String> upstream = new ArrayList<>();
        for (int i = 1; i <= 200; i++) {
            upstream.add(String.format("item-%03d", i));
        }
        finish("prepare", upstream, List.of());
        for (int i = 201; i <= 300; i++) {
            store.offer("build", String.format("item-%03d", i), "v1", "offered", true);
        }
        long first = store.startRun("build", Trigger.SCHEDULE, "node-1", null, 2);
        long second = store.startRun("build", Trigger.SCHEDULE, "node-2", null, 2);
        assertThat(List.of(first, second)).allSatisfy(run -> assertThat(run).isPositive());

        // both runs have claimed a chunk before either goes on: their claims and commits interleave from there
        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<String>> byFirst = pool.submit(workAll("build", first, together));
            Future<List<String>> bySecond = pool.submit(workAll("build", second, together));
            List<String> claimed = new ArrayList<>(byFirst.get());
            claimed.addAll(bySecond.get());

            assertThat(claimed).doesNotHaveDuplicates().hasSize(300);
            assertThat(counts(first)).isEqualTo("taken " + byFirst.get().size() + ", done " + byFirst.get().size()
                    + ", failed 0");
            assertThat(counts(second)).isEqualTo("taken " + bySecond.get().size() + ", done "
                    + bySecond.get().size() + ", failed 0");
        } finally {
            pool.shutdownNow();
        }
        assertThat(waiting("build")).isEmpty();
        assertThat(states("build")).hasSize(300).allSatisfy(state -> assertThat(state).contains(" done "));
    }

    /**
     * Claims chunks of 7 for the run and finishes them until nothing waits for the job; meets the other run at
     * {@code together} after its first claim. The keys it claimed.
     */
    private Callable<List<String>> workAll(String job, long runId, CyclicBarrier together) {
        return () -> {
            List<String> keys = new ArrayList<>();
            boolean first = true;
            while (true) {
                Claim claim = store.claim(job, runId, 7);
                if (first) {
                    together.await();
                    first = false;
                }
                if (claim.taken() == 0) {
                    return keys;
                }
                claim.items().forEach(item -> keys.add(item.key()));
                assertThat(store.complete(job, runId, done(claim.items()), 0)).isEqualTo(claim.items().size());
            }
        };
    }

    /**
     * A claim that meets the inbox rows another run's claim is taking goes on to the next ones: PostgreSQL skips the
     * locked rows, H2 waits for them and reads on past those the other claim took.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_claim_beside_another_runs_claim_takes_the_next_waiting_items(TestDatabase db) throws Exception {
        open(db);
        for (int i = 1; i <= 20; i++) {
            store.offer("prepare", String.format("item-%02d", i), "v1", "d" + i, true);
        }
        long run = store.startRun("prepare", Trigger.SCHEDULE, "node-1", null, 2);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Connection other = database.dataSource().getConnection()) {
            // the other run's claim has taken the seven oldest rows and not committed yet
            other.setAutoCommit(false);
            try (Statement s = other.createStatement()) {
                s.executeUpdate("DELETE FROM job_inbox WHERE job = 'prepare' AND item_key <= 'item-07'");
            }
            Future<Claim> claim = pool.submit(() -> store.claim("prepare", run, 7));
            String waitingOnLock = db == TestDatabase.H2
                    ? "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SESSIONS WHERE BLOCKER_ID IS NOT NULL"
                    : "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            + " AND datname = current_database()";
            await().atMost(Duration.ofSeconds(30)).until(() -> claim.isDone()
                    || jdbc.queryFirst(waitingOnLock, rs -> rs.getInt(1)).orElse(0) > 0);
            other.commit();

            assertThat(claim.get(30, TimeUnit.SECONDS).items()).extracting(Item::key).containsExactly("item-08",
                    "item-09", "item-10", "item-11", "item-12", "item-13", "item-14");
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void starts_of_a_job_at_the_same_instant_open_no_more_runs_than_its_max_runs(TestDatabase db) throws Exception {
        open(db);
        int nodes = 5;
        int rounds = 8;
        ExecutorService pool = Executors.newFixedThreadPool(nodes);
        try {
            for (int round = 0; round < rounds; round++) {
                CyclicBarrier together = new CyclicBarrier(nodes);
                List<Future<Long>> starts = new ArrayList<>();
                for (int n = 0; n < nodes; n++) {
                    String node = "node-" + n;
                    starts.add(pool.submit(() -> {
                        together.await();
                        return store.startRun("prepare", Trigger.SCHEDULE, node, null, 2);
                    }));
                }
                List<Long> opened = new ArrayList<>();
                for (Future<Long> start : starts) {
                    long run = start.get(30, TimeUnit.SECONDS);
                    if (run >= 0) {
                        opened.add(run);
                    }
                }
                assertThat(opened).as("runs opened in round " + round).hasSize(2);
                for (long run : opened) {
                    store.finishRun(run, RunStatus.SUCCEEDED, null);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(jdbc.query("SELECT error_summary, fires_skipped FROM job_run WHERE job = 'prepare'"
                + " AND status = 'skipped'", rs -> rs.getString(1) + " x" + rs.getInt(2)))
                .as("consecutive skips for the same reason share a row").isNotEmpty()
                .allSatisfy(row -> assertThat(row).startsWith("2 runs of prepare were still going (maxRuns = 2)"));
        assertThat(jdbc.queryFirst("SELECT SUM(fires_skipped) FROM job_run WHERE job = 'prepare'"
                + " AND status = 'skipped'", rs -> rs.getInt(1)).orElseThrow()).isEqualTo(rounds * (nodes - 2));
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_run_takes_back_the_items_of_runs_that_ended_but_never_those_of_a_run_still_going(TestDatabase db)
            throws Exception {
        open(db);
        for (int i = 1; i <= 6; i++) {
            store.offer("prepare", "item-" + i, "v1", "d" + i, true);
        }
        long ended = store.startRun("prepare", Trigger.SCHEDULE, "node-1", null, 2);
        List<Item> ofEnded = store.claim("prepare", ended, 2).items();
        long going = store.startRun("prepare", Trigger.SCHEDULE, "node-2", null, 2);
        List<Item> ofGoing = store.claim("prepare", going, 2).items();
        // node-1's run stopped with two items claimed
        store.finishRun(ended, RunStatus.ABANDONED, "node-1 stopped");

        long next = store.startRun("prepare", Trigger.SCHEDULE, "node-3", null, 2);
        assertThat(next).isPositive();
        assertThat(store.reclaim("prepare", next)).isEqualTo(2);

        assertThat(store.claimedBy("prepare", next, 10)).extracting(Item::key)
                .containsExactlyInAnyOrderElementsOf(ofEnded.stream().map(Item::key).toList());
        assertThat(store.claimedBy("prepare", going, 10)).extracting(Item::key)
                .containsExactlyInAnyOrderElementsOf(ofGoing.stream().map(Item::key).toList());
        assertThat(store.complete("prepare", going, done(ofGoing), 0)).as("the run still going owns its items")
                .isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_node_joins_the_runs_of_other_nodes_only_while_one_is_going_and_room_is_left(TestDatabase db)
            throws Exception {
        open(db);
        store.declareFeed("build", "prepare");
        assertThat(store.hasWaiting("prepare", Clock.systemUTC().instant())).isFalse();
        store.offer("prepare", "item-1", "v1", "d1", true);
        assertThat(store.hasWaiting("prepare", Clock.systemUTC().instant())).isTrue();
        assertThat(store.joinRun("prepare", "node-2", null, 2)).as("no run to join").isEqualTo(-1);

        long fired = store.startRun("prepare", Trigger.SCHEDULE, "node-1", null, 2);
        assertThat(store.joinRun("prepare", "node-1", null, 2)).as("the node of the run going").isEqualTo(-1);
        long joined = store.joinRun("prepare", "node-2", null, 2);
        assertThat(joined).isPositive();
        assertThat(store.joinRun("prepare", "node-3", null, 2)).as("no room left").isEqualTo(-1);
        assertThat(jdbc.query("SELECT node, trigger_kind, status FROM job_run WHERE job = 'prepare' ORDER BY run_id",
                rs -> rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3)))
                .as("a join that found no room records nothing")
                .containsExactly("node-1 schedule running", "node-2 join running");

        store.complete("prepare", fired, done(store.claim("prepare", fired, 10).items()), 0);
        assertThat(store.hasWaiting("prepare", Clock.systemUTC().instant())).isFalse();
        assertThat(store.hasWaiting("build", Clock.systemUTC().instant())).as("fed by prepare").isTrue();
    }

    /** Claims small chunks for the run until the inbox is empty; the keys it claimed. */
    private Callable<List<String>> claimAll(long runId, CyclicBarrier together) {
        return () -> {
            together.await();
            List<String> keys = new ArrayList<>();
            while (!inbox("prepare").isEmpty()) {
                store.claim("prepare", runId, 7).items().forEach(item -> keys.add(item.key()));
            }
            return keys;
        };
    }

    private List<String> states(String job) throws SQLException {
        return jdbc.query("""
                SELECT item_key, item_version, status, data FROM job_state WHERE job = ? ORDER BY item_key""",
                rs -> rs.getString(1) + "/" + rs.getString(2) + " " + rs.getString(3) + " " + rs.getString(4), job);
    }

    private List<String> inbox(String job) throws SQLException {
        return jdbc.query("""
                SELECT item_key, item_version, data FROM job_inbox WHERE job = ? ORDER BY seq""",
                rs -> rs.getString(1) + "/" + rs.getString(2) + " " + rs.getString(3), job);
    }

    /** What waits for the job: its inbox rows and its upstream's done items it has not read. */
    private List<String> waiting(String job) throws SQLException {
        return jdbc.query("""
                SELECT item_key, item_version, data FROM job_waiting WHERE job = ? ORDER BY item_key""",
                rs -> rs.getString(1) + "/" + rs.getString(2) + " " + rs.getString(3), job);
    }

    private String counts(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT items_taken, items_done, items_failed FROM job_run WHERE run_id = ?",
                rs -> "taken " + rs.getInt(1) + ", done " + rs.getInt(2) + ", failed " + rs.getInt(3), runId)
                .orElseThrow();
    }
}
