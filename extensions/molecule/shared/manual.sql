-- A server set up earlier by hand with Bemi's published SQL (wal_level was set at initdb time).
CREATE ROLE bemi WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION PASSWORD 'an-old-password';
\connect shop
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bemi;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bemi;
CREATE PUBLICATION bemi FOR TABLE public.orders;
CREATE OR REPLACE PROCEDURE _bemi_set_replica_identity() AS $$
DECLARE current_tablename TEXT;
BEGIN
  FOR current_tablename IN
    SELECT t.tablename FROM pg_tables t
    LEFT JOIN pg_class c ON t.tablename = c.relname
    WHERE t.schemaname = 'public' AND c.relreplident <> 'f'
  LOOP
    EXECUTE format('ALTER TABLE %I REPLICA IDENTITY FULL', current_tablename);
  END LOOP;
END $$ LANGUAGE plpgsql;
CALL _bemi_set_replica_identity();
CREATE OR REPLACE FUNCTION _bemi_set_replica_identity_func() RETURNS event_trigger AS $$
BEGIN
  CALL _bemi_set_replica_identity();
END $$ LANGUAGE plpgsql;
CREATE EVENT TRIGGER _bemi_set_replica_identity_trigger ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION _bemi_set_replica_identity_func();
