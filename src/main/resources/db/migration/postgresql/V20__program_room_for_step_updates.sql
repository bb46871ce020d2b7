-- A running program's row is written at each step (step, job data, last result), none of them an indexed column:
-- with room left in its page, PostgreSQL writes the new version beside the old one (a HOT update) and touches none of
-- the table's four indexes. Rows are inserted full pages apart from that room.
ALTER TABLE program SET (fillfactor = 50);
