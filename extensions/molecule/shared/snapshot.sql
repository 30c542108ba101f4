-- Everything the role could change, server-wide and in the current database.
SELECT json_build_object(
  'postmaster_start', pg_postmaster_start_time(),
  'auto_conf', pg_read_file('postgresql.auto.conf'),
  'hba', pg_read_file(current_setting('hba_file')),
  'roles', (SELECT json_agg(json_build_array(rolname, rolcanlogin, rolreplication, rolpassword IS NULL)
                            ORDER BY rolname) FROM pg_authid),
  'publications', (SELECT json_agg(pubname ORDER BY pubname) FROM pg_publication),
  'published', (SELECT json_agg(prrelid::regclass::text ORDER BY 1) FROM pg_publication_rel),
  'identities', (SELECT json_agg(oid::regclass::text || '=' || relreplident::text ORDER BY 1) FROM pg_class
                 WHERE relkind IN ('r', 'p') AND relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
  'table_acls', (SELECT json_agg(oid::regclass::text || '=' || coalesce(relacl::text, '') ORDER BY 1) FROM pg_class
                 WHERE relkind IN ('r', 'p') AND relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
  'schema_acls', (SELECT json_agg(nspname || '=' || coalesce(nspacl::text, '') ORDER BY 1) FROM pg_namespace),
  'default_acls', (SELECT json_agg(defaclacl::text ORDER BY 1) FROM pg_default_acl),
  'event_triggers', (SELECT json_agg(evtname ORDER BY 1) FROM pg_event_trigger),
  'functions', (SELECT json_agg(oid::regprocedure::text ORDER BY 1) FROM pg_proc WHERE proname LIKE '\_bemi%'),
  'slots', (SELECT json_agg(slot_name ORDER BY 1) FROM pg_replication_slots));
