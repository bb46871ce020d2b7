-- A fingerprint's latest error (the sample message of the error list) is read by this index backwards, a few rows,
-- instead of walking the whole table's key.
DROP INDEX factory_error_by_fingerprint;
CREATE INDEX factory_error_by_fingerprint ON factory_error (fingerprint, error_id);
