-- How far a source has been read (the newest change a prepare intake has offered), so a restart neither
-- skips nor repeats a batch window.
CREATE TABLE factory_watermark (
    name        VARCHAR(200) NOT NULL PRIMARY KEY,
    mark        VARCHAR(200) NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
