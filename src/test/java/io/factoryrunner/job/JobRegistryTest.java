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
}
