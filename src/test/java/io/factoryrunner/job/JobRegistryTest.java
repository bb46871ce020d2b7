package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class JobRegistryTest {

    @Test
    void jobs_in_chain_order_put_every_job_after_the_job_that_feeds_it() {
        JobRegistry jobs = new JobRegistry();
        jobs.declare("report", "score");
        jobs.declare("score", "load");
        jobs.declare("archive", "load");
        jobs.declare("load", null);
        jobs.declare("cleanup", null);
        jobs.declare("orphan", "gone");

        assertThat(jobs.inChainOrder()).containsExactly("cleanup", "load", "archive", "score", "report", "orphan");
    }

    @Test
    void jobs_feeding_each_other_in_a_ring_are_listed_last_in_name_order() {
        JobRegistry jobs = new JobRegistry();
        jobs.declare("b", "a");
        jobs.declare("a", "b");
        jobs.declare("start", null);

        assertThat(jobs.inChainOrder()).containsExactly("start", "a", "b");
    }

    @Test
    void a_chunk_run_works_ahead_only_while_the_chunk_runs_going_leave_two_cores_each() {
        JobRegistry jobs = new JobRegistry();
        jobs.sharedCores(4);
        assertThat(jobs.roomToWorkAhead()).isTrue();
        jobs.chunkRunStarted();
        jobs.chunkRunStarted();
        assertThat(jobs.roomToWorkAhead()).as("two runs on four cores").isTrue();
        jobs.chunkRunStarted();
        assertThat(jobs.roomToWorkAhead()).as("three runs on four cores").isFalse();
        jobs.chunkRunEnded();
        assertThat(jobs.roomToWorkAhead()).as("one of them ended").isTrue();

        jobs.sharedCores(2);
        assertThat(jobs.roomToWorkAhead()).as("two runs on two cores").isFalse();
        jobs.chunkRunEnded();
        assertThat(jobs.roomToWorkAhead()).as("one run on two cores").isTrue();
    }
}
