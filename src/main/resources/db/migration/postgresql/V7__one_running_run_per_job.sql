-- At most one running run per job, whichever node opens it: the database refuses a second one, so nodes that fire
-- the same job at the same instant cannot both start it. Runs that raced past the earlier check are closed
-- first, keeping the newest of each job.
UPDATE job_run
   SET status = 'abandoned', ended_at = CURRENT_TIMESTAMP,
       error_summary = 'closed at upgrade: another run of the job was running at the same time'
 WHERE status = 'running'
   AND run_id NOT IN (SELECT MAX(run_id) FROM job_run WHERE status = 'running' GROUP BY job);
CREATE UNIQUE INDEX job_run_one_running ON job_run (job) WHERE status = 'running';
