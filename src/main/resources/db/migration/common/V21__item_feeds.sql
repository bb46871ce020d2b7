-- A job's done items are the input of its downstream jobs as they stand, without a row written per hand-on: each
-- done state row gets a number in the order its job committed them (done_seq, given under the row of job_head that
-- the writing transaction holds, so a reader never sees a number before the smaller ones are committed), and each
-- downstream job keeps how far it has read its upstream's done rows (job_feed.read_seq). job_inbox keeps what comes
-- from elsewhere: offers, redrives, items put back for a later run and items handed on before this version.
ALTER TABLE job_state ADD COLUMN done_seq BIGINT;
CREATE INDEX job_state_feed ON job_state (job, done_seq);

CREATE TABLE job_head (
    job      VARCHAR(100) PRIMARY KEY,
    last_seq BIGINT       NOT NULL
);

CREATE TABLE job_feed (
    job      VARCHAR(100) NOT NULL,
    upstream VARCHAR(100) NOT NULL,
    read_seq BIGINT       NOT NULL,
    PRIMARY KEY (job, upstream)
);

-- What waits for each job: its inbox rows and its upstream's done items it has not read yet.
CREATE VIEW job_waiting AS
SELECT job, item_key, item_version, complete, data, enqueued_at, available_at, attempts, failing_since
  FROM job_inbox
UNION ALL
SELECT f.job, s.item_key, s.item_version, TRUE, s.data, s.updated_at, CAST(NULL AS TIMESTAMP WITH TIME ZONE), 0,
       CAST(NULL AS TIMESTAMP WITH TIME ZONE)
  FROM job_feed f
  JOIN job_state s ON s.job = f.upstream AND s.done_seq > f.read_seq;
