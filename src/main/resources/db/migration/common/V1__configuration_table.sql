-- Customer- and deployment-specific values, read by the factory as property placeholders.
CREATE TABLE factory_config (
    config_key   VARCHAR(200)  NOT NULL PRIMARY KEY,
    config_value VARCHAR(4000),
    secret       BOOLEAN       DEFAULT FALSE NOT NULL,
    description  VARCHAR(1000),
    updated_by   VARCHAR(100)  NOT NULL,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL
);
