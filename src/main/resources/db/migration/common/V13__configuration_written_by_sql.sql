-- An operator writes configuration with plain SQL: INSERT INTO factory_config (config_key, config_value) VALUES
-- (...) records the database user who wrote the row and when, as the factory does for what it writes itself.
ALTER TABLE factory_config ALTER COLUMN updated_by SET DEFAULT CURRENT_USER;
ALTER TABLE factory_config ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;
