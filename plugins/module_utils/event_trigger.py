# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The DDL event trigger that gives tables created later REPLICA IDENTITY FULL.

Bemi's three names are kept (so a server set up by hand with Bemi's SQL is
adopted), the bodies are not (see DESIGN.md, "Known defects of the manual SQL"):

- the function reads only ``pg_event_trigger_ddl_commands()`` (and, for the
  command's own tables when they were not created in a tracked schema, their
  catalog rows), so its cost does not grow with the number of tables and it
  never touches another table;
- it covers every way a table enters a tracked schema: CREATE TABLE, CREATE
  TABLE AS, SELECT INTO, CREATE SCHEMA ... CREATE TABLE, ALTER TABLE ... SET
  SCHEMA and ALTER TABLE ... ATTACH PARTITION. Any other ALTER TABLE (ADD
  COLUMN, REPLICA IDENTITY DEFAULT, ...) costs two index lookups and changes
  nothing; its own ALTER TABLE returns at once;
- ``search_path`` is pinned and every name is schema-qualified, so any caller's
  ``search_path`` (including pg_dump's empty one) works;
- SECURITY DEFINER (owned by the superuser who installs it), so a role that does
  not own some other table never gets "must be owner". Owned by a managed
  service's admin that is not a superuser, it can alter only the tables of the
  roles that admin is a member of (the module warns);
- every ALTER is wrapped so that a failure is a WARNING, never a failed DDL.

The procedure, called by hand, commits after each table (PostgreSQL allows that
only in a SECURITY INVOKER procedure without SET clauses, so it runs with the
caller's rights).

The function source carries a version marker and the tracked schemas (as a JSON
list), which is how bemi_info and later runs recognise it and compare it. The
stored text is built from scalar string literals only, so that it is the same
whatever the driver (psycopg2 and psycopg 3 render arrays and backslashes
differently): a fleet with both never replaces it back and forth.
"""

from __future__ import annotations

import json

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import (
    ALL_SCHEMAS,
    SYSTEM_SCHEMA_PARAMS,
    USER_SCHEMA_CONDITION,
    user_schema_test,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table, quote_ident

SCHEMA = 'public'
PROCEDURE = '_bemi_set_replica_identity'
FUNCTION = '_bemi_set_replica_identity_func'
TRIGGER = '_bemi_set_replica_identity_trigger'
EVENT = 'ddl_command_end'
# ALTER TABLE for SET SCHEMA and ATTACH PARTITION (the tag does not tell them from ADD COLUMN: the body does).
TAGS = ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE SCHEMA', 'ALTER TABLE')
# v2: CREATE SCHEMA, SET SCHEMA, ATTACH PARTITION; driver-independent text; the procedure commits per table.
# v3: a table it already set FULL in this transaction is left to later commands (an explicit identity wins).
# v4: partition trees: new partitions, at any depth, of listed partitioned tables (list mode tracks no schema).
MARKER = '-- bemi.postgresql event trigger v4'
SCHEMAS_PREFIX = '-- bemi.postgresql tracked schemas: '
TREES_PREFIX = '-- bemi.postgresql tracked partition trees: '
SEARCH_PATH = 'pg_catalog, pg_temp'
# The function's SET clauses, in order. A generic plan for its queries: their parameter (the
# new tables' OIDs) made PostgreSQL plan them anew on every CREATE TABLE, which cost more than
# running them (about 1 ms with 10,000 tables; see docs/benchmarks.md).
FUNCTION_SETTINGS = (('search_path', SEARCH_PATH), ('plan_cache_mode', 'force_generic_plan'))
# Set while the function runs, so that its own ALTER TABLE does not run it again.
GUARD_SETTING = 'bemi.set_replica_identity'
# The tables it set FULL in this transaction (OIDs, comma-separated, transaction-local): a later
# ALTER TABLE of the same transaction (a migration's REPLICA IDENTITY USING INDEX) is then the
# user's to decide, as it is in a later transaction.
HANDLED_SETTING = 'bemi.replica_identity_set'
# The procedure's lock_timeout and retries, as bemi_replica_identity's defaults.
PROCEDURE_LOCK_TIMEOUT = '2s'
PROCEDURE_RETRIES = 5

# Roles of managed services that may be allowed to create event triggers without
# being superuser; the attempt is then made, and a refusal explained.
PROVIDER_ADMIN_ROLES = ('rds_superuser', 'supabase_admin', 'neon_superuser', 'azure_pg_admin', 'cloudsqlsuperuser')

# Which tables count as tracked, shared by the function and the procedure: a
# table in a tracked schema, or a partition whose root is in one (replica
# identity is not inherited, and a partition may live in another schema), or a
# partition, at any depth, of a tracked partition tree (a listed partitioned
# table publishes its new partitions although its schema is not tracked).
_TRACKED_CONDITION = """(
      {schema_test_n}
      OR (c.relispartition AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_class AS root
            JOIN pg_catalog.pg_namespace AS rn ON rn.oid = root.relnamespace
            WHERE root.oid = pg_catalog.pg_partition_root(c.oid)
              AND {schema_test_rn})){trees})"""
_IN_TREES = """
      OR (c.relispartition AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_partition_ancestors(c.oid) AS up
            JOIN pg_catalog.pg_class AS ac ON ac.oid = up.relid
            JOIN pg_catalog.pg_namespace AS an ON an.oid = ac.relnamespace
            WHERE up.relid OPERATOR(pg_catalog.<>) c.oid AND ({tree_test})))"""

_FUNCTION_BODY = """
{marker}
{schemas_line}
{trees_line}
-- Sets REPLICA IDENTITY FULL on the tables the current command brought into a tracked schema, and on
-- nothing else: those it created, moved in (ALTER TABLE ... SET SCHEMA) or attached (ATTACH PARTITION),
-- with their partitions. A table created in a tracked schema is altered at once, by the name the
-- command reports (it is new, so at DEFAULT): no catalog query, which halves the cost of a CREATE
-- TABLE. One created elsewhere may be a partition of a tracked table or tree, and is looked up. The ALTER
-- TABLE tag does not say which kind an ALTER TABLE was: a table was moved in when this command wrote
-- its pg_class row and its schema dependency (the same xmin), attached when it wrote its pg_class row
-- and its pg_inherits row. ADD COLUMN, REPLICA IDENTITY DEFAULT and the like write neither, and change
-- nothing. Within one transaction those rows all share its xmin, so the tables this function already
-- set FULL in it are remembered ({handled}) and left alone: an identity set later, in the same
-- transaction or another, wins. Every lookup is by OID, through an index, whatever the number of tables.
DECLARE
  cmd record;
  handled pg_catalog.oid[] := pg_catalog.string_to_array(
    COALESCE(pg_catalog.current_setting({handled}, true), ''), ',')::pg_catalog.oid[];
  obj record;
  entered pg_catalog.oid[] := ARRAY[]::pg_catalog.oid[];
  moved pg_catalog.oid[];
BEGIN
  IF pg_catalog.current_setting({guard}, true) = 'on' THEN
    RETURN;  -- our own ALTER TABLE below
  END IF;
  FOR cmd IN
    SELECT d.objid, d.command_tag, d.object_identity, {schema_test_d} AS in_tracked_schema
    FROM pg_catalog.pg_event_trigger_ddl_commands() AS d
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.object_type = 'table' AND NOT d.in_extension
  LOOP
    IF cmd.command_tag <> 'ALTER TABLE' THEN
      IF NOT cmd.in_tracked_schema THEN
        entered := entered || cmd.objid;
        CONTINUE;
      END IF;
      PERFORM pg_catalog.set_config({guard}, 'on', true);
      BEGIN
        EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', cmd.object_identity);
        handled := handled || cmd.objid;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'bemi.postgresql: could not set REPLICA IDENTITY FULL on %: %', cmd.object_identity, SQLERRM;
      END;
      CONTINUE;
    END IF;
    moved := ARRAY(
      SELECT c.oid FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_depend AS dep ON dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND dep.objid = c.oid AND dep.objsubid = 0
        AND dep.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
      WHERE c.oid = cmd.objid AND dep.xmin OPERATOR(pg_catalog.=) c.xmin
      UNION ALL
      SELECT c.oid FROM pg_catalog.pg_inherits AS i
      JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
      WHERE i.inhparent = cmd.objid AND i.xmin OPERATOR(pg_catalog.=) c.xmin);
    IF pg_catalog.cardinality(moved) > 0 THEN
      -- With their partitions, at every level.
      entered := entered || moved || ARRAY(
        SELECT tree.relid::pg_catalog.oid FROM pg_catalog.unnest(moved) AS m(oid), pg_catalog.pg_partition_tree(m.oid) AS tree);
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(entered) > 0 THEN
    PERFORM pg_catalog.set_config({guard}, 'on', true);
    FOR obj IN
      SELECT DISTINCT c.oid, n.nspname, c.relname
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      WHERE c.oid = ANY (entered)
        AND c.relkind IN ('r', 'p')
        AND c.relpersistence <> 't'
        AND c.relreplident <> 'f'
        AND NOT c.oid OPERATOR(pg_catalog.=) ANY (handled)
        AND {tracked}
    LOOP
      BEGIN
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', obj.nspname, obj.relname);
        handled := handled || obj.oid;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'bemi.postgresql: could not set REPLICA IDENTITY FULL on %.%: %', obj.nspname, obj.relname, SQLERRM;
      END;
    END LOOP;
  END IF;
  PERFORM pg_catalog.set_config({handled}, pg_catalog.array_to_string(handled, ','), true);
  PERFORM pg_catalog.set_config({guard}, '', true);
END
"""

# SECURITY INVOKER and no SET clause: PostgreSQL forbids COMMIT in a procedure with either.
_PROCEDURE_BODY = """
{marker}
-- Sets REPLICA IDENTITY FULL on every tracked table (see {function}); run it by hand with CALL.
-- Called on its own it commits after each table, so that no table stays locked longer than its
-- ALTER; inside a transaction block it cannot, and every table stays locked until that block ends.
-- Each ALTER waits at most lock_timeout {lock_timeout} for its lock, and is retried {retries} times with
-- back-off; a table still busy, or that cannot be altered, is a WARNING and the others go on.
DECLARE
  obj record;
  attempt integer;
  -- now() is when the transaction began: the CALL's own start only when the CALL began it.
  own_transaction boolean := pg_catalog.now() OPERATOR(pg_catalog.=) pg_catalog.statement_timestamp();
  old_timeout text := pg_catalog.current_setting('lock_timeout');
  altered integer := 0;
  skipped integer := 0;
BEGIN
  IF NOT own_transaction THEN
    RAISE NOTICE 'bemi.postgresql: called inside a transaction block, so every altered table stays locked until it ends';
  END IF;
  FOR obj IN
    SELECT n.nspname, c.relname
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND c.relpersistence <> 't'
      AND c.relreplident <> 'f'
      AND {user_schema}
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND d.objid = c.oid AND d.deptype = 'e')
      AND {tracked}
    ORDER BY 1, 2
  LOOP
    attempt := 0;
    LOOP
      BEGIN
        PERFORM pg_catalog.set_config('lock_timeout', {lock_timeout_literal}, true);
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', obj.nspname, obj.relname);
        altered := altered + 1;
        EXIT;
      EXCEPTION
        WHEN lock_not_available OR deadlock_detected THEN
          IF attempt >= {retries} THEN
            RAISE WARNING 'bemi.postgresql: %.% stayed locked after % retries and was not changed; CALL again later',
              obj.nspname, obj.relname, attempt;
            skipped := skipped + 1;
            EXIT;
          END IF;
          PERFORM pg_catalog.pg_sleep(pg_catalog.random() * LEAST(5, 0.1 * pg_catalog.power(2, attempt)));
          attempt := attempt + 1;
        WHEN OTHERS THEN
          RAISE WARNING 'bemi.postgresql: could not set REPLICA IDENTITY FULL on %.%: %', obj.nspname, obj.relname, SQLERRM;
          skipped := skipped + 1;
          EXIT;
      END;
    END LOOP;
    IF own_transaction THEN
      COMMIT;
    END IF;
  END LOOP;
  PERFORM pg_catalog.set_config('lock_timeout', old_timeout, true);
  RAISE NOTICE 'bemi.postgresql: % tables set to REPLICA IDENTITY FULL, % not changed', altered, skipped;
END
"""


def schemas_line(schemas):
    return SCHEMAS_PREFIX + json.dumps(sorted(schemas))


def trees_line(trees):
    """``trees``: (schema, table) pairs of the tracked partitioned tables."""
    return TREES_PREFIX + json.dumps(sorted([list(pair) for pair in trees]))


def _parse_json_line(source, prefix, valid):
    for line in (source or '').splitlines():
        line = line.strip()
        if line.startswith(prefix.strip()):
            try:
                value = json.loads(line[len(prefix.strip()):])
            except ValueError:
                return None
            return value if isinstance(value, list) and all(valid(item) for item in value) else None
    return None


def parse_schemas_line(source):
    """The tracked schemas written in a function source, or None when there is no valid line."""
    return _parse_json_line(source, SCHEMAS_PREFIX, lambda item: isinstance(item, str))


def parse_trees_line(source):
    """The tracked partition trees, sorted (schema, table) pairs, written in a function source, or None."""
    value = _parse_json_line(source, TREES_PREFIX, lambda item: isinstance(item, list) and len(item) == 2
                             and all(isinstance(part, str) for part in item))
    return None if value is None else sorted(tuple(item) for item in value)


def is_ours(source):
    """Whether the source is this version's; an older version's marker counts as outdated."""
    return any(line.strip() == MARKER for line in (source or '').splitlines())


def text_literal(value):
    """A SQL string literal whose text is the same whatever the driver.

    The drivers differ only for a backslash (psycopg 3 then writes an E'' literal with it
    doubled), so a backslash is written as ``pg_catalog.chr(92)`` between literals that hold none.
    """
    parts = [sql.Literal(part) for part in value.split('\\')]
    return sql.SQL(' || pg_catalog.chr(92) || ').join(parts) if len(parts) > 1 else parts[0]


def _schema_test(expr, schemas):
    """SQL that is true when the schema name ``expr`` is tracked (scalar literals only, see text_literal)."""
    if list(schemas) == [ALL_SCHEMAS]:
        return user_schema_test(expr)
    if not schemas:
        # List mode with partition trees only: no schema is tracked.
        return sql.SQL('false')
    return sql.SQL('{}::text IN ({})').format(
        sql.SQL(expr), sql.SQL(', ').join(text_literal(name) for name in sorted(schemas)))


def _tracked(schemas, trees):
    trees_test = sql.SQL('')
    if trees:
        # By name, as the tracked schemas are: a listed table renamed is tracked again by the next run.
        tree_test = sql.SQL(' OR ').join(
            sql.SQL('(an.nspname::text = {} AND ac.relname::text = {})').format(text_literal(schema), text_literal(table))
            for schema, table in sorted(trees))
        trees_test = sql.SQL(_IN_TREES).format(tree_test=tree_test)
    return sql.SQL(_TRACKED_CONDITION).format(
        schema_test_n=_schema_test('n.nspname', schemas), schema_test_rn=_schema_test('rn.nspname', schemas),
        trees=trees_test)


def function_body(conn, schemas, trees=()):
    """The exact source text (prosrc) of the trigger function for these tracked schemas and partition trees."""
    return sql.SQL(_FUNCTION_BODY).format(
        marker=sql.SQL(MARKER), schemas_line=sql.SQL(schemas_line(schemas)), trees_line=sql.SQL(trees_line(trees)),
        tracked=_tracked(schemas, trees),
        schema_test_d=_schema_test('d.schema_name', schemas), guard=sql.Literal(GUARD_SETTING),
        handled=sql.Literal(HANDLED_SETTING)).as_string(conn)


def procedure_body(conn, schemas, trees=()):
    return sql.SQL(_PROCEDURE_BODY).format(
        marker=sql.SQL(MARKER), function=sql.SQL(FUNCTION), tracked=_tracked(schemas, trees),
        user_schema=user_schema_test('n.nspname'), lock_timeout=sql.SQL(PROCEDURE_LOCK_TIMEOUT),
        lock_timeout_literal=sql.Literal(PROCEDURE_LOCK_TIMEOUT),
        retries=sql.SQL(str(int(PROCEDURE_RETRIES)))).as_string(conn)


def _dollar_tag(body):
    """A dollar-quote tag that does not occur in ``body`` (schema names are user data)."""
    tag, number = '$bemi$', 0
    while tag in body:
        number += 1
        tag = '$bemi%d$' % number
    return tag


def _quoted_body(body):
    tag = _dollar_tag(body)
    return sql.SQL(tag + body + tag)


def create_function(body):
    settings = sql.SQL(' ').join(sql.SQL('SET {} = {}').format(sql.SQL(name), sql.SQL(value))
                                 for name, value in FUNCTION_SETTINGS)
    return sql.SQL(
        'CREATE OR REPLACE FUNCTION {}.{}() RETURNS event_trigger LANGUAGE plpgsql '
        'SECURITY DEFINER {} AS {}').format(
            sql.Identifier(SCHEMA), sql.Identifier(FUNCTION), settings, _quoted_body(body))


def create_procedure(body):
    # SECURITY INVOKER without SET: only such a procedure may COMMIT (every name in it is qualified).
    return sql.SQL(
        'CREATE OR REPLACE PROCEDURE {}.{}() LANGUAGE plpgsql AS {}').format(
            sql.Identifier(SCHEMA), sql.Identifier(PROCEDURE), _quoted_body(body))


def create_trigger():
    return sql.SQL('CREATE EVENT TRIGGER {} ON {} WHEN TAG IN ({}) EXECUTE FUNCTION {}.{}()').format(
        sql.Identifier(TRIGGER), sql.SQL(EVENT), sql.SQL(', ').join(sql.Literal(tag) for tag in TAGS),
        sql.Identifier(SCHEMA), sql.Identifier(FUNCTION))


def drop_trigger():
    return sql.SQL('DROP EVENT TRIGGER {}').format(sql.Identifier(TRIGGER))


def drop_routine(kind, name):
    return sql.SQL('DROP {} {}.{}()').format(sql.SQL(kind), sql.Identifier(SCHEMA), sql.Identifier(name))


def owner_to_current_user(kind, name):
    return sql.SQL('ALTER {} {}.{}() OWNER TO CURRENT_USER').format(
        sql.SQL(kind), sql.Identifier(SCHEMA), sql.Identifier(name))


def revoke_from_public(name):
    # SECURITY DEFINER: only its owner (and superusers) should run the procedure by hand.
    return sql.SQL('REVOKE ALL ON PROCEDURE {}.{}() FROM PUBLIC').format(sql.Identifier(SCHEMA), sql.Identifier(name))


# The procedure and the function are read alike; only the procedure can be
# executed by PUBLIC by default (a function returning event_trigger cannot be called).
_ROUTINE_STATE = """
  (SELECT pg_catalog.json_build_object(
            'kind', p.prokind, 'source', p.prosrc, 'definer', p.prosecdef, 'config', p.proconfig,
            'owner', o.rolname, 'owner_super', o.rolsuper, 'public_execute', {public_execute},
            'returns', p.prorettype::pg_catalog.regtype::text, 'language', l.lanname)
   FROM pg_catalog.pg_proc AS p
   JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
   JOIN pg_catalog.pg_roles AS o ON o.oid = p.proowner
   JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
   WHERE n.nspname = %(schema)s AND p.proname = %({name})s AND p.pronargs = 0) AS {name},"""

STATE_QUERY = "SELECT" + _ROUTINE_STATE.format(
    name='procedure',
    public_execute="p.proacl IS NULL\n              OR pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')",
) + _ROUTINE_STATE.format(name='function', public_execute='false') + """
  (SELECT pg_catalog.json_build_object(
            'event', e.evtevent, 'tags', e.evttags, 'enabled', e.evtenabled,
            'function_schema', fn.nspname, 'function_name', f.proname)
   FROM pg_catalog.pg_event_trigger AS e
   JOIN pg_catalog.pg_proc AS f ON f.oid = e.evtfoid
   JOIN pg_catalog.pg_namespace AS fn ON fn.oid = f.pronamespace
   WHERE e.evtname = %(trigger)s) AS trigger,
  (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) AS superuser,
  current_user::text AS current_user,
  (SELECT pg_catalog.array_agg(a.rolname::text ORDER BY a.rolname)
   FROM pg_catalog.pg_roles AS a
   WHERE a.rolname = ANY (%(provider_roles)s)
     AND pg_catalog.pg_has_role(current_user, a.oid, 'MEMBER')) AS provider_roles,
  (SELECT pg_catalog.array_agg(s.name::text) FROM pg_catalog.pg_settings AS s
   WHERE s.name ~ '^(rds|supabase|neon|cloudsql|azure)[.]') AS provider_settings
"""


def read_state(conn, query_one):
    """One catalog query: the three objects as they are, and who we are."""
    return query_one(conn, STATE_QUERY, {
        'schema': SCHEMA, 'procedure': PROCEDURE, 'function': FUNCTION, 'trigger': TRIGGER,
        'provider_roles': list(PROVIDER_ADMIN_ROLES)})


# What each routine must be besides its body: the function runs as its owner with a pinned
# search_path; the procedure runs as its caller, without SET clauses, so that it may COMMIT.
_WANTED = {
    'FUNCTION': {'definer': True, 'config': ['%s=%s' % setting for setting in FUNCTION_SETTINGS]},
    'PROCEDURE': {'definer': False, 'config': None},
}


def _routine_steps(routine, body, kind, current_user):
    """CREATE OR REPLACE when the definition differs; for the function, a new owner when needed (see new_owner)."""
    steps = []
    wanted = _WANTED[kind]
    if routine is None or routine['source'] != body or routine['definer'] is not wanted['definer'] \
            or routine['config'] != wanted['config'] or routine['language'] != 'plpgsql':
        steps.append(create_procedure(body) if kind == 'PROCEDURE' else create_function(body))
    if kind == 'FUNCTION' and needs_new_owner(routine, current_user):
        steps.append(owner_to_current_user(kind, FUNCTION))
    return steps


def needs_new_owner(function, current_user):
    """Whether the function should be given to the login user.

    SECURITY DEFINER must run as a superuser to alter tables that other roles own; a function
    owned by some other role that is not one is taken over. One that the login user owns
    already stays so, also when that user is a managed service's admin, which is no
    superuser either (re-runs then plan nothing).
    """
    return function is not None and not function['owner_super'] and function.get('owner') != current_user


def function_owner_after(state):
    """(owner, is superuser) of the trigger function once plan_install's steps have run."""
    function = state.get('function')
    if function is None or function['kind'] != 'f' or function['returns'] != 'event_trigger' \
            or needs_new_owner(function, state.get('current_user')):
        return state.get('current_user'), bool(state.get('superuser'))
    return function['owner'], bool(function['owner_super'])


# Roles that own tracked schemas or tables in them, and whose tables the trigger function's owner
# may not alter (ALTER TABLE needs the table owner's privileges). Left out: pg_database_owner, the
# owner of public since PostgreSQL 15, which cannot be granted and creates no tables; and superusers,
# which a managed service does not let its customers be (and whose membership is no fix to give).
_OWNERS_QUERY = """
SELECT DISTINCT r.rolname::text AS name
FROM (SELECT c.relowner AS owner
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND {schemas}
      UNION
      SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE {schemas}) AS o
JOIN pg_catalog.pg_roles AS r ON r.oid = o.owner
WHERE NOT pg_catalog.pg_has_role(%(owner)s, o.owner, 'USAGE')
  AND NOT r.rolsuper AND r.rolname <> 'pg_database_owner'
ORDER BY 1
"""


def unreachable_owners(conn, query, owner, schemas):
    """The roles whose tables in ``schemas`` a function owned by ``owner`` (no superuser) cannot alter."""
    args = dict(SYSTEM_SCHEMA_PARAMS, owner=owner, schemas=[name for name in schemas if name != ALL_SCHEMAS])
    test = USER_SCHEMA_CONDITION if list(schemas) == [ALL_SCHEMAS] else 'n.nspname = ANY (%(schemas)s)'
    return [row['name'] for row in query(conn, _OWNERS_QUERY.format(schemas=test), args)]


def owner_warning(owner, roles):
    return ('The event trigger function runs as %s, which is not a superuser (a managed service\'s admin role, '
            'for example) and may not alter tables owned by %s: tables they create later in the tracked schemas '
            'stay at REPLICA IDENTITY DEFAULT, with only a WARNING in the server log. Fix: GRANT %s TO %s (so that '
            '%s acts for them), or re-run bemi_replica_identity after each migration.'
            % (quote_ident(owner), ', '.join(roles), ', '.join(quote_ident(role) for role in roles),
               quote_ident(owner), quote_ident(owner)))


def trigger_ok(trigger):
    return bool(trigger) and trigger['event'] == EVENT and sorted(trigger['tags'] or []) == sorted(TAGS) \
        and trigger['enabled'] == 'O' and trigger['function_schema'] == SCHEMA and trigger['function_name'] == FUNCTION


def describe(state):
    """The installed trigger as reported in results and diffs."""
    function = state.get('function')
    trigger = state.get('trigger')
    if not function and not trigger and not state.get('procedure'):
        return {'state': 'absent'}
    source = function['source'] if function else None
    trees = parse_trees_line(source) if is_ours(source) else None
    return {
        'state': 'present' if trigger else 'incomplete',
        'ours': is_ours(source),
        'schemas': parse_schemas_line(source) if is_ours(source) else None,
        'partition_trees': None if trees is None else [display_table(*pair) for pair in trees],
        'tags': sorted(trigger['tags'] or []) if trigger else [],
        'enabled': trigger['enabled'] if trigger else None,
    }


def describe_wanted(schemas, present, trees=()):
    if not present:
        return {'state': 'absent'}
    return {'state': 'present', 'ours': True, 'schemas': sorted(schemas),
            'partition_trees': [display_table(*pair) for pair in sorted(trees)], 'tags': sorted(TAGS), 'enabled': 'O'}


def plan_install(state, function_src, procedure_src):
    """Statements (composables) that make the three objects exactly ours; [] when they already are.

    ``function_src`` and ``procedure_src`` are the wanted bodies (see function_body).
    """
    steps = []
    procedure = state.get('procedure')
    function = state.get('function')
    trigger = state.get('trigger')
    if procedure and procedure['kind'] != 'p':
        steps.append(drop_routine('FUNCTION', PROCEDURE))
        procedure = None
    steps.extend(_routine_steps(procedure, procedure_src, 'PROCEDURE', state.get('current_user')))
    if procedure is None or procedure['public_execute']:
        steps.append(revoke_from_public(PROCEDURE))
    if function and (function['kind'] != 'f' or function['returns'] != 'event_trigger'):
        # Another routine squats the name; the trigger (if any) depends on the old one.
        if trigger:
            steps.append(drop_trigger())
            trigger = None
        steps.append(drop_routine('ROUTINE', FUNCTION))
        function = None
    steps.extend(_routine_steps(function, function_src, 'FUNCTION', state.get('current_user')))
    if trigger and not trigger_ok(trigger):
        # Tags and the function cannot be altered in place; enabled state could, but recreate is simpler.
        steps.append(drop_trigger())
        trigger = None
    if not trigger:
        steps.append(create_trigger())
    return steps


def plan_remove(state):
    steps = []
    if state.get('trigger'):
        steps.append(drop_trigger())
    function = state.get('function')
    if function:
        steps.append(drop_routine('ROUTINE', FUNCTION))
    if state.get('procedure'):
        steps.append(drop_routine('ROUTINE', PROCEDURE))
    return steps


def privilege_problem(state, login_user):
    """A message with hints when this login surely cannot create event triggers, else None."""
    if state.get('superuser') or state.get('provider_roles'):
        return None
    return ('Creating the event trigger needs a superuser, and %s is not one. %s' % (login_user, privilege_hints(state)))


def privilege_hints(state):
    settings = ' '.join(state.get('provider_settings') or [])
    hints = ['Fix: run this task as a superuser, or set track_new_tables: false and re-run it after every migration '
             'that creates tables.']
    if 'rds.' in settings or 'rds' in settings:
        hints.append('On Amazon RDS and Aurora, connect as the master user (a member of rds_superuser), which may '
                     'create event triggers; other roles cannot.')
    elif 'supabase' in settings:
        hints.append('On Supabase, connect as the postgres role: event triggers need the platform\'s privileged '
                     'role (supautils), and a SECURITY DEFINER trigger there cannot alter tables it does not own.')
    elif 'neon' in settings:
        hints.append('On Neon, event triggers are restricted to neon_superuser roles on recent Postgres versions; '
                     'if yours does not allow them, use track_new_tables: false.')
    else:
        hints.append('On managed services: Amazon RDS/Aurora allow it to the master user (rds_superuser); '
                     'Supabase and Neon restrict event triggers to their privileged roles.')
    return ' '.join(hints)
