-- Consecutive fires of a job skipped for the same reason are one skipped run: how many, first (started_at) and
-- last (ended_at).
ALTER TABLE job_run ADD COLUMN fires_skipped INTEGER DEFAULT 0 NOT NULL;

-- Each node writes when it was last seen, by the database's clock, so that a run held by a node that died is told
-- apart from a run that is only long.
CREATE TABLE factory_node (
    node          VARCHAR(200) NOT NULL PRIMARY KEY,
    started_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
