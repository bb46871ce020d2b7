-- A digest stands for one fire of factory.digest.cron (its scheduled time), and every node fires it: the first
-- node to write the digest of a slot wins, the others find the slot taken. Other alerts have no slot.
ALTER TABLE alerts ADD COLUMN slot_at TIMESTAMP WITH TIME ZONE;
CREATE UNIQUE INDEX alerts_one_per_slot ON alerts (kind, slot_at);
