-- What each node runs and how far its clock is from the database's, for GET /api/nodes: the factory's version it
-- started with, and the node's clock minus the database's at its last heartbeat (Quartz's clustering needs the
-- nodes' clocks within about a second of each other).
ALTER TABLE factory_node ADD COLUMN version VARCHAR(100);
ALTER TABLE factory_node ADD COLUMN clock_offset_ms BIGINT;
