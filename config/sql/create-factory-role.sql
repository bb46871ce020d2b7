-- Creates the database role the factory runs as: it owns a schema of its own, where the factory's migrations create
-- every table, view and index of the factory (and Quartz's QRTZ_ tables of a cluster), and it is given nothing else.
-- Run it once, as an administrator (a superuser, or a role with CREATEROLE that may create schemas in the database),
-- connected to the factory's database:
--
--   psql -h db.example.com -U postgres -d factory \
--        -v role=factory -v password='the-password' -v schema=factory \
--        -f config/sql/create-factory-role.sql
--
-- then run every node as that role: factory.db.user = factory, FACTORY_DB_PASSWORD = the-password. The role's
-- search_path is its schema, so the factory finds its tables there without naming the schema.
--
-- The role may not read or write a table of any other schema: it is granted nothing there. What PostgreSQL gives
-- every role (PUBLIC) stays as the database has it: CONNECT and TEMPORARY on the database, and, on PostgreSQL 14 and
-- earlier, CREATE in schema public (REVOKE CREATE ON SCHEMA public FROM PUBLIC takes it from every role, as
-- PostgreSQL 15 does by default). A customer table the factory must read or write is granted to the role by its
-- owner: GRANT SELECT ON shop.orders TO factory.

\set ON_ERROR_STOP on

CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE SCHEMA :"schema" AUTHORIZATION :"role";
ALTER ROLE :"role" SET search_path = :"schema";
