-- What per-table tracking decides in database app, as one JSON object.
SELECT json_build_object(
  'all_tables', (SELECT puballtables FROM pg_publication WHERE pubname = 'bemi'),
  'published', (SELECT coalesce(json_agg(prrelid::regclass::text ORDER BY prrelid::regclass::text), '[]') FROM pg_publication_rel),
  'identities', (SELECT json_object_agg(c.oid::regclass::text, c.relreplident) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 's2')),
  'select', (SELECT coalesce(json_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text), '[]') FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 's2')
               AND has_table_privilege('bemi', c.oid, 'SELECT')),
  -- Granted to bemi itself (PUBLIC may have USAGE on public).
  'usage', (SELECT coalesce(json_agg(n.nspname ORDER BY n.nspname), '[]') FROM pg_namespace n
            WHERE EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a
                          WHERE a.grantee = 'bemi'::regrole AND a.privilege_type = 'USAGE')),
  'default_acls', (SELECT count(*) FROM pg_default_acl),
  'event_triggers', (SELECT count(*) FROM pg_event_trigger),
  'role', (SELECT json_build_object('login', rolcanlogin, 'replication', rolreplication, 'superuser', rolsuper,
                                    'createdb', rolcreatedb, 'createrole', rolcreaterole)
           FROM pg_roles WHERE rolname = 'bemi'));
