-- Nodes sharing the database send each alert once: a node claims due alerts before it mails them, until
-- claimed_until (the database's time). A node that dies holding a claim leaves it to expire, and any node takes
-- the alerts then. claimed_by stays on a sent alert: the node that mailed it.
ALTER TABLE alerts ADD COLUMN claimed_by VARCHAR(200);
ALTER TABLE alerts ADD COLUMN claimed_until TIMESTAMP WITH TIME ZONE;

-- This installation's name in every mail's Message-ID (<alert-<id>.<installation_id>@factory-runner>): alert ids
-- start at 1 in every installation. One row, written by the first node that mails an alert.
CREATE TABLE factory_installation (
    id              INTEGER      NOT NULL PRIMARY KEY CHECK (id = 1),
    installation_id VARCHAR(36)  NOT NULL,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL
);
