-- A server set up earlier by hand with Bemi's published SQL (wal_level was set at initdb time).
CREATE ROLE bemi WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION PASSWORD 'an-old-password';
\connect shop
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bemi;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bemi;
CREATE PUBLICATION bemi FOR TABLE public.orders;
\ir ../../../tests/fixtures/bemi_manual_trigger.sql
CALL _bemi_set_replica_identity();
