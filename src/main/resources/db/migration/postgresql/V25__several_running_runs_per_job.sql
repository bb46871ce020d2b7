-- A job may allow several runs at once (its maxRuns): a run now starts after counting the job's running runs under
-- the lock of the job's row of job_head, in the transaction that inserts it, which keeps one run per job for a job
-- that allows one, whatever the nodes. The unique index that allowed one running run per job goes; counting the
-- running runs of a job is an index range of job_run_by_status (status, job).
DROP INDEX job_run_one_running;
