-- An alert that must be written once whichever node sees its cause first (a job blocked by a run, a node lost, a job
-- overdue and back on time) carries a key of its own: two nodes that both found none written cannot both write it.
-- Other alerts leave it empty.
ALTER TABLE alerts ADD COLUMN once_key VARCHAR(300);
CREATE UNIQUE INDEX alerts_once ON alerts (once_key);
