-- An item a job put back for a later run (a build still running, a transient failure that outlasted its retries)
-- waits in the inbox until available_at; its attempts so far go with it.
ALTER TABLE job_inbox ADD COLUMN available_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE job_inbox ADD COLUMN attempts INTEGER DEFAULT 0 NOT NULL;
ALTER TABLE job_run ADD COLUMN items_deferred INTEGER DEFAULT 0 NOT NULL;
