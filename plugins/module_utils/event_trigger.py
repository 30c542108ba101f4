# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The DDL event trigger that gives tables created later REPLICA IDENTITY FULL.

Bemi's three names are kept (so a server set up by hand with Bemi's SQL is
adopted), the bodies are not (see DESIGN.md, "Known defects of the manual SQL"):

- the function reads only ``pg_event_trigger_ddl_commands()``, so its cost does
  not grow with the number of tables and it never touches another table;
- it fires on CREATE TABLE, CREATE TABLE AS and SELECT INTO;
- ``search_path`` is pinned and every name is schema-qualified, so any caller's
  ``search_path`` (including pg_dump's empty one) works;
- SECURITY DEFINER (owned by the superuser who installs it), so a role that does
  not own some other table never gets "must be owner";
- every ALTER is wrapped so that a failure is a WARNING, never a failed DDL.

The function source carries a version marker and the tracked schemas (as a JSON
list), which is how bemi_info and later runs recognise it and compare it.
"""

from __future__ import annotations

import json

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import ALL_SCHEMAS, user_schema_test
from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql

SCHEMA = 'public'
PROCEDURE = '_bemi_set_replica_identity'
FUNCTION = '_bemi_set_replica_identity_func'
TRIGGER = '_bemi_set_replica_identity_trigger'
EVENT = 'ddl_command_end'
TAGS = ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
MARKER = '-- bemi.postgresql event trigger v1'
SCHEMAS_PREFIX = '-- bemi.postgresql tracked schemas: '
SEARCH_PATH = 'pg_catalog, pg_temp'

# Roles of managed services that may be allowed to create event triggers without
# being superuser; the attempt is then made, and a refusal explained.
PROVIDER_ADMIN_ROLES = ('rds_superuser', 'supabase_admin', 'neon_superuser', 'azure_pg_admin', 'cloudsqlsuperuser')

# Which tables count as tracked, shared by the function and the procedure: a
# table in a tracked schema, or a partition whose root is in one (replica
# identity is not inherited, and a partition may live in another schema).
_TRACKED_CONDITION = """(
      {schema_test_n}
      OR (c.relispartition AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_class AS root
            JOIN pg_catalog.pg_namespace AS rn ON rn.oid = root.relnamespace
            WHERE root.oid = pg_catalog.pg_partition_root(c.oid)
              AND {schema_test_rn})))"""

# Both bodies end alike: each ALTER on its own, so one failure is a WARNING, never a failed command.
_ALTER_EACH = """\
  LOOP
    BEGIN
      EXECUTE pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', obj.nspname, obj.relname);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'bemi.postgresql: could not set REPLICA IDENTITY FULL on %.%: %', obj.nspname, obj.relname, SQLERRM;
    END;
  END LOOP;
END
"""

_FUNCTION_BODY = """
{marker}
{schemas_line}
-- Sets REPLICA IDENTITY FULL on the tables the current command created, and on nothing else.
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT n.nspname, c.relname
    FROM pg_catalog.pg_event_trigger_ddl_commands() AS cmd
    JOIN pg_catalog.pg_class AS c ON c.oid = cmd.objid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE cmd.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND cmd.object_type = 'table'
      AND NOT cmd.in_extension
      AND c.relkind IN ('r', 'p')
      AND c.relpersistence <> 't'
      AND c.relreplident <> 'f'
      AND {tracked}
""" + _ALTER_EACH

_PROCEDURE_BODY = """
{marker}
-- Sets REPLICA IDENTITY FULL on every tracked table (see {function}); run it by hand with CALL.
DECLARE
  obj record;
BEGIN
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
""" + _ALTER_EACH


def schemas_line(schemas):
    return SCHEMAS_PREFIX + json.dumps(sorted(schemas))


def parse_schemas_line(source):
    """The tracked schemas written in a function source, or None when there is no valid line."""
    for line in (source or '').splitlines():
        line = line.strip()
        if line.startswith(SCHEMAS_PREFIX.strip()):
            try:
                value = json.loads(line[len(SCHEMAS_PREFIX.strip()):])
            except ValueError:
                return None
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return value
            return None
    return None


def is_ours(source):
    return any(line.strip() == MARKER for line in (source or '').splitlines())


def _schema_test(expr, schemas):
    """SQL that is true when the schema name ``expr`` is tracked."""
    if list(schemas) == [ALL_SCHEMAS]:
        return user_schema_test(expr)
    return sql.SQL('{}::text = ANY ({}::text[])').format(sql.SQL(expr), sql.Literal(sorted(schemas)))


def _tracked(schemas):
    return sql.SQL(_TRACKED_CONDITION).format(
        schema_test_n=_schema_test('n.nspname', schemas), schema_test_rn=_schema_test('rn.nspname', schemas))


def function_body(conn, schemas):
    """The exact source text (prosrc) of the trigger function for these tracked schemas."""
    return sql.SQL(_FUNCTION_BODY).format(
        marker=sql.SQL(MARKER), schemas_line=sql.SQL(schemas_line(schemas)), tracked=_tracked(schemas)).as_string(conn)


def procedure_body(conn, schemas):
    return sql.SQL(_PROCEDURE_BODY).format(
        marker=sql.SQL(MARKER), function=sql.SQL(FUNCTION), tracked=_tracked(schemas),
        user_schema=user_schema_test('n.nspname')).as_string(conn)


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
    return sql.SQL(
        'CREATE OR REPLACE FUNCTION {}.{}() RETURNS event_trigger LANGUAGE plpgsql '
        'SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {}').format(
            sql.Identifier(SCHEMA), sql.Identifier(FUNCTION), _quoted_body(body))


def create_procedure(body):
    return sql.SQL(
        'CREATE OR REPLACE PROCEDURE {}.{}() LANGUAGE plpgsql '
        'SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {}').format(
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
            'owner_super', o.rolsuper, 'public_execute', {public_execute},
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


def _routine_steps(routine, body, kind, name):
    """CREATE OR REPLACE when the definition differs; a new owner when the current one is no superuser."""
    steps = []
    if routine is None or routine['source'] != body or routine['definer'] is not True \
            or routine['config'] != ['search_path=' + SEARCH_PATH] or routine['language'] != 'plpgsql':
        steps.append(create_procedure(body) if kind == 'PROCEDURE' else create_function(body))
    if routine is not None and not routine['owner_super']:
        # SECURITY DEFINER must run as a superuser to alter tables that other roles own.
        steps.append(owner_to_current_user(kind, name))
    return steps


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
    return {
        'state': 'present' if trigger else 'incomplete',
        'ours': is_ours(source),
        'schemas': parse_schemas_line(source) if is_ours(source) else None,
        'tags': sorted(trigger['tags'] or []) if trigger else [],
        'enabled': trigger['enabled'] if trigger else None,
    }


def describe_wanted(schemas, present):
    if not present:
        return {'state': 'absent'}
    return {'state': 'present', 'ours': True, 'schemas': sorted(schemas), 'tags': sorted(TAGS), 'enabled': 'O'}


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
    steps.extend(_routine_steps(procedure, procedure_src, 'PROCEDURE', PROCEDURE))
    if procedure is None or procedure['public_execute']:
        steps.append(revoke_from_public(PROCEDURE))
    if function and (function['kind'] != 'f' or function['returns'] != 'event_trigger'):
        # Another routine squats the name; the trigger (if any) depends on the old one.
        if trigger:
            steps.append(drop_trigger())
            trigger = None
        steps.append(drop_routine('ROUTINE', FUNCTION))
        function = None
    steps.extend(_routine_steps(function, function_src, 'FUNCTION', FUNCTION))
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
