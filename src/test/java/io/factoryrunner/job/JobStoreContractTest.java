package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.factoryrunner.db.Database;
import io.factoryrunner.db.DatabaseSettings;
import io.factoryrunner.db.Jdbc;
import io.factoryrunner.job.JobStore.Claim;
import io.factoryrunner.job.JobStore.Item;
import io.factoryrunner.job.JobStore.OpenChunk;
import io.factoryrunner.job.JobStore.Outcome;
import io.factoryrunner.job.JobStore.Result;
import io.factoryrunner.testsupport.TestDatabase;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
        database = Database.open(new DatabaseSettings(db.newDatabase(dir), db.user(), db.password(), 4,
                Duration.ofSeconds(10)));
        database.migrate();
        store = new JobStore(database.dataSource(), Clock.systemUTC(), database.dialect());
        jdbc = Jdbc.of(database.dataSource());
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void an_offered_item_is_claimed_finished_and_handed_to_the_downstream_inbox(TestDatabase db) throws Exception {
        open(db);
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
                List.of("build", "check"), 0);

        assertThat(written).isEqualTo(1);
        assertThat(states("prepare")).containsExactly("item-1/v1 done prepared");
        assertThat(inbox("prepare")).isEmpty();
        assertThat(inbox("build")).containsExactly("item-1/v1 prepared");
        assertThat(inbox("check")).containsExactly("item-1/v1 prepared");
        assertThat(counts(run)).isEqualTo("taken 1, done 1, failed 0");
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void a_chunk_taken_and_committed_writes_its_results_and_hands_the_done_items_on(TestDatabase db)
            throws Exception {
        open(db);
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
                    new Result(items.get(2), Outcome.DONE, "prepared3", null, 0)), List.of("build"), List.of());
        }

        assertThat(states("prepare")).containsExactly("item-1/v1 done prepared1", "item-2/v1 failed raw2",
                "item-3/v1 done prepared3");
        assertThat(inbox("prepare")).isEmpty();
        assertThat(inbox("build")).containsExactly("item-1/v1 prepared1", "item-3/v1 prepared3");
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
    void an_item_handed_on_again_after_the_job_acted_on_it_is_taken_from_the_inbox_and_dropped(TestDatabase db)
            throws Exception {
        open(db);
        store.offer("build", "item-1", "v1", "prepared", true);
        long run = store.startRun("build", Trigger.MANUAL, "node-1", null);
        Item item = store.claim("build", run, 10).items().get(0);
        store.complete("build", run, List.of(new Result(item, Outcome.DONE, "built", null, 0)), List.of(), 0);
        // the upstream job hands the same version on again (its item was redriven and done once more)
        jdbc.update("""
                INSERT INTO job_inbox (job, item_key, item_version, complete, data, enqueued_at)
                VALUES ('build', 'item-1', 'v1', TRUE, 'prepared again', CURRENT_TIMESTAMP)""");

        try (OpenChunk chunk = store.openChunk("build", 10, Clock.systemUTC().instant())) {
            assertThat(chunk.taken()).isEqualTo(1);
            assertThat(chunk.items()).isEmpty();
            store.commitChunk(chunk, "build", run, List.of(), List.of(), List.of());
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
        store.complete("prepare", run, List.of(new Result(item, Outcome.FAILED, "raw", "no such customer", 0)),
                List.of("build"), 0);
        store.finishRun(run, RunStatus.FAILED, "1 item failed");

        assertThat(states("prepare")).containsExactly("item-1/v1 failed raw");
        assertThat(inbox("build")).isEmpty();
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

    private String counts(long runId) throws SQLException {
        return jdbc.queryFirst("SELECT items_taken, items_done, items_failed FROM job_run WHERE run_id = ?",
                rs -> "taken " + rs.getInt(1) + ", done " + rs.getInt(2) + ", failed " + rs.getInt(3), runId)
                .orElseThrow();
    }
}
