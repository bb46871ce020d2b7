-- Only done rows carry a feed number: the index holds them alone.
DROP INDEX job_state_feed;
CREATE INDEX job_state_feed ON job_state (job, done_seq) WHERE done_seq IS NOT NULL;
