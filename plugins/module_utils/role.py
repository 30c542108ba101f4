# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Catalog reads and planning for bemi_role.

Two catalog queries answer everything, whatever the number of tables: one
about the role in the cluster (attributes, stored verifier, memberships, where
else it holds privileges) and one about its grants in the current database
(schema USAGE, table SELECT counted per schema, default privileges, and in the
schemas of listed tables the names of the tables it may read); a third checks
that the listed ``tables`` exist, when there are any. Planning
is pure: it turns those facts into a list of actions (tuples), which
``statements`` composes into SQL with the driver's ``sql`` module only.
"""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table, quote_ident
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import MASK

NAMEDATALEN = 64

# The order in which attributes are written and reported.
ATTRIBUTES = ('login', 'superuser', 'createdb', 'createrole', 'replication', 'connection_limit')
KEYWORDS = {
    'login': ('LOGIN', 'NOLOGIN'),
    'superuser': ('SUPERUSER', 'NOSUPERUSER'),
    'createdb': ('CREATEDB', 'NOCREATEDB'),
    'createrole': ('CREATEROLE', 'NOCREATEROLE'),
    'replication': ('REPLICATION', 'NOREPLICATION'),
}


class RoleError(Exception):
    pass


# -- the transaction that sends a password ------------------------------------

# What keeps the statement carrying a password verifier from being recorded (server log,
# pg_stat_statements, pgaudit, auto_explain, pg_stat_activity): each set with set_config(..., true)
# in that transaction only, when the server has the setting and this login may set it.
QUIET_SETTINGS = (
    ('auto_explain.log_min_duration', '-1'),
    ('debug_print_parse', 'off'),
    ('debug_print_plan', 'off'),
    ('debug_print_rewritten', 'off'),
    ('log_min_duration_sample', '-1'),
    ('log_min_duration_statement', '-1'),
    ('log_min_error_statement', 'panic'),
    ('log_statement', 'none'),
    ('log_transaction_sample_rate', '0'),
    ('pg_stat_statements.track', 'none'),
    ('pgaudit.log', 'none'),
    ('track_activities', 'off'),
)


def quiet_settings_query(parameter_privileges):
    """The QUIET_SETTINGS this server has: value now, and whether this login may SET it (PG 15+ grants)."""
    may_set = ("pg_catalog.has_parameter_privilege(s.name, 'SET')" if parameter_privileges else 'false')
    return ("SELECT s.name::text AS name, s.setting::text AS setting, s.context::text AS context, "
            + may_set + " AS may_set FROM pg_catalog.pg_settings AS s WHERE s.name = ANY (%(names)s) ORDER BY 1")


def quiet_settings_args():
    return {'names': [name for name, dummy in QUIET_SETTINGS]}


def quiet_settings(rows, superuser):
    """(settings to set in the password's transaction, names that may record it and cannot be set)."""
    wanted = dict(QUIET_SETTINGS)
    settings = {}
    unsettable = []
    for row in rows:
        value = wanted[row['name']]
        if superuser or row['context'] == 'user' or row['may_set']:
            settings[row['name']] = value
        elif (row['setting'] or '').lower() != value:
            unsettable.append(row['name'])
    return settings, sorted(unsettable)


def quiet_warning(login, names, parameter_privileges):
    fix = ('GRANT SET ON PARAMETER %s TO %s' % (', '.join(names), login) if parameter_privileges
           else 'run as a superuser (PostgreSQL 14 and older have no GRANT SET ON PARAMETER)')
    return ('The password is sent as a SCRAM-SHA-256 verifier (never in plaintext), but %s may not set %s for that '
            'transaction, so the server log, pg_stat_statements or pgaudit may record the verifier, which allows an '
            'offline guess of the password. Fix: %s, or run as a superuser.' % (login, ', '.join(names), fix))


def sends_password(actions):
    return any(action[0] in ('create', 'alter') and action[2] is not None for action in actions)


# -- catalog reads ----------------------------------------------------------

def role_query(can_read_authid):
    """The cluster-level facts. Only a superuser may read pg_authid (and so the stored verifier)."""
    source, password = ('pg_authid', 'r.rolpassword') if can_read_authid else ('pg_roles', 'NULL::text')
    return (
        "SELECT me.rolname::text AS login_name, me.rolsuper AS login_superuser, "
        "me.rolcreaterole AS login_createrole, "
        "current_setting('password_encryption') AS password_encryption, "
        "current_setting('scram_iterations', true) AS scram_iterations, "
        "r.oid AS oid, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolcanlogin, r.rolreplication, "
        "r.rolconnlimit, " + password + " AS rolpassword, "
        "r.rolvaliduntil::text AS valid_until, coalesce(r.rolvaliduntil < now(), false) AS expired, "
        "current_database()::text AS dbname, "
        "EXISTS (SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "        WHERE d.datname = current_database() AND a.grantee = r.oid AND a.privilege_type = 'CONNECT') "
        "  AS has_connect, "
        "has_database_privilege(current_database(), 'CONNECT WITH GRANT OPTION') AS login_grants_connect, "
        "coalesce(has_database_privilege(r.oid, current_database(), 'CONNECT'), "
        "         has_database_privilege('public', current_database(), 'CONNECT')) AS can_connect, "
        "ARRAY(SELECT DISTINCT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "      WHERE m.member = r.oid ORDER BY 1) AS member_of, "
        "ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname = ANY(%(others)s) OR rolname = current_user ORDER BY 1) AS known_roles, "
        "ARRAY(SELECT DISTINCT d.datname::text FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
        "      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = r.oid "
        "        AND d.datname <> current_database() ORDER BY 1) AS other_databases, "
        "ARRAY(SELECT datname::text FROM pg_database WHERE datdba = r.oid ORDER BY 1) AS owned_databases "
        "FROM pg_roles me LEFT JOIN " + source + " r ON r.rolname = %(name)s "
        "WHERE me.rolname = current_user"
    )


# One row per schema that is wanted, holds a listed table, or where the role holds anything we
# manage. The relation kinds are those GRANT ... ON ALL TABLES IN SCHEMA covers (partitioned
# tables included). In a schema of listed tables (not read whole), ``selected`` names the tables it may read.
GRANTS_QUERY = (
    "SELECT * FROM ("
    " SELECT n.nspname::text AS schema,"
    "  EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a"
    "          WHERE a.grantee = %(role)s::oid AND a.privilege_type = 'USAGE') AS usage,"
    "  t.without_select, t.with_select,"
    "  CASE WHEN n.nspname::text = ANY(%(table_schemas)s::text[]) AND n.nspname::text <> ALL(%(schemas)s::text[])"
    "       THEN t.selected END AS selected,"
    "  ARRAY(SELECT pg_get_userbyid(d.defaclrole)::text FROM pg_default_acl d"
    "        WHERE d.defaclnamespace = n.oid AND d.defaclobjtype = 'r'"
    "          AND EXISTS (SELECT 1 FROM aclexplode(d.defaclacl) a"
    "                      WHERE a.grantee = %(role)s::oid AND a.privilege_type = 'SELECT')"
    "        ORDER BY 1) AS default_owners"
    " FROM pg_namespace n"
    " CROSS JOIN LATERAL ("
    "  SELECT (count(*) FILTER (WHERE NOT c.granted))::int AS without_select,"
    "         (count(*) FILTER (WHERE c.granted))::int AS with_select,"
    "         coalesce(array_agg(c.relname ORDER BY c.relname) FILTER (WHERE c.granted), '{}') AS selected"
    "  FROM (SELECT c.relname::text AS relname,"
    "               EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a"
    "                       WHERE a.grantee = %(role)s::oid AND a.privilege_type = 'SELECT') AS granted"
    "        FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) c"
    " ) t"
    ") s "
    "WHERE schema = ANY(%(schemas)s::text[]) OR schema = ANY(%(table_schemas)s::text[]) "
    "OR usage OR with_select > 0 OR cardinality(default_owners) > 0 "
    "ORDER BY schema"
)

# The listed tables that do not exist (as a relation SELECT can be granted on).
MISSING_TABLES_QUERY = (
    "SELECT w.nsp AS schema, w.rel AS name"
    " FROM unnest(%(schemas)s::text[], %(names)s::text[]) WITH ORDINALITY AS w(nsp, rel, ord)"
    " WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "                   WHERE n.nspname = w.nsp AND c.relname = w.rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))"
    " ORDER BY w.ord"
)


class SchemaState:
    """The role's grants in one schema. ``selected``: in a schema of listed tables, the names of the
    tables it may read (None elsewhere, where only the counts matter)."""

    def __init__(self, schema, usage=False, without_select=0, with_select=0, default_owners=(), selected=None):
        self.schema = schema
        self.usage = usage
        self.without_select = without_select
        self.with_select = with_select
        self.default_owners = list(default_owners)
        self.selected = list(selected) if selected is not None else None

    def copy(self):
        return SchemaState(self.schema, self.usage, self.without_select, self.with_select, self.default_owners,
                           self.selected)

    @property
    def held(self):
        return self.usage or self.with_select > 0 or bool(self.default_owners)


def grants_args(role_oid, schemas, tables=()):
    return {'role': role_oid, 'schemas': list(schemas), 'table_schemas': unique(schema for schema, dummy in tables)}


def missing_tables_args(tables):
    return {'schemas': [schema for schema, dummy in tables], 'names': [name for dummy, name in tables]}


def schema_states(rows):
    return dict((row['schema'], SchemaState(row['schema'], row['usage'], row['without_select'],
                                            row['with_select'], row['default_owners'] or [], row.get('selected')))
                for row in rows)


# -- validation -------------------------------------------------------------

def check_role_name(name, what='name'):
    if not name:
        raise RoleError('%s must not be empty.' % what)
    if len(name.encode('utf-8')) >= NAMEDATALEN:
        raise RoleError('%s %r is %d bytes long; PostgreSQL role names have at most %d bytes (longer ones are '
                        'truncated, so the role would never match).'
                        % (what, name, len(name.encode('utf-8')), NAMEDATALEN - 1))


def unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


# -- planning ---------------------------------------------------------------

def current_attributes(facts):
    if facts.get('oid') is None:
        return None
    return {
        'login': facts['rolcanlogin'], 'superuser': facts['rolsuper'], 'createdb': facts['rolcreatedb'],
        'createrole': facts['rolcreaterole'], 'replication': facts['rolreplication'],
        'connection_limit': facts['rolconnlimit'],
    }


def wanted_attributes(replication, connection_limit):
    return {'login': True, 'superuser': False, 'createdb': False, 'createrole': False,
            'replication': replication, 'connection_limit': connection_limit}


def plan_present(current_attrs, wanted_attrs, verifier, current_members, wanted_members, states, schemas, owners,
                 access=None, tables=()):
    """Actions that make the role and its grants in this database what is asked.

    ``current_attrs`` None: the role does not exist. ``wanted_members`` None:
    memberships are not managed. ``schemas`` is the exact set of schemas read
    whole; ``tables`` the exact set of (schema, table) read one by one outside them.
    ``access``: {'dbname', 'has_connect', 'expired'} (see access_facts).
    """
    actions = []
    access = access or {}
    if current_attrs is None:
        actions.append(('create', dict(wanted_attrs), verifier))
    else:
        changed = dict((key, value) for key, value in wanted_attrs.items() if current_attrs.get(key) != value)
        if changed or verifier is not None:
            actions.append(('alter', changed, verifier))
        if access.get('expired'):
            # Bemi's login would fail: valid again, for good.
            actions.append(('renew',))
    if wanted_members is not None:
        actions.extend(('grant_role', group) for group in wanted_members if group not in current_members)
        actions.extend(('revoke_role', group) for group in sorted(current_members) if group not in wanted_members)
    if access.get('dbname') and not access.get('has_connect') and access.get('can_grant'):
        # Explicitly, so that REVOKE CONNECT ... FROM PUBLIC (a common hardening) does not lock Bemi out.
        actions.append(('grant_connect', access['dbname']))
    for schema in schemas:
        state = states.get(schema) or SchemaState(schema)
        if not state.usage:
            actions.append(('grant_usage', schema))
        if state.without_select:
            actions.append(('grant_select', schema))
        actions.extend(('grant_default', owner, schema) for owner in owners if owner not in state.default_owners)
        actions.extend(('revoke_default', owner, schema) for owner in state.default_owners if owner not in owners)
    listed = {}
    for schema, table in tables:
        if schema not in schemas:
            listed.setdefault(schema, set()).add(table)
    for schema in sorted(set(states) | set(listed)):
        if schema not in schemas:
            state = states.get(schema) or SchemaState(schema, selected=[])
            actions.extend(plan_listed(state, listed.get(schema, set())) if schema in listed else revoke_schema(state))
    return actions


def plan_listed(state, names):
    """Actions that leave SELECT on exactly ``names`` in a schema that is not read whole.

    When more tables must lose SELECT than keep it, one schema-wide REVOKE and a
    GRANT on the listed ones say it in two statements (one transaction, so the
    listed tables never lose it in between).
    """
    actions = [('revoke_default', owner, state.schema) for owner in state.default_owners]
    selected = set(state.selected or [])
    extra = selected - names
    missing = names - selected
    if len(extra) > len(names):
        actions.append(('revoke_select', state.schema))
        missing = names
    elif extra:
        actions.append(('revoke_tables', state.schema, sorted(extra)))
    if not state.usage:
        actions.append(('grant_usage', state.schema))
    if missing:
        actions.append(('grant_tables', state.schema, sorted(missing)))
    return actions


def revoke_schema(state):
    actions = [('revoke_default', owner, state.schema) for owner in state.default_owners]
    if state.with_select:
        actions.append(('revoke_select', state.schema))
    if state.usage:
        actions.append(('revoke_usage', state.schema))
    return actions


def access_facts(facts):
    """What decides Bemi's login to login_db: its own CONNECT grant, whether this login may grant it, expiry."""
    exists = facts['oid'] is not None
    return {'dbname': facts['dbname'], 'has_connect': exists and bool(facts['has_connect']),
            'can_grant': bool(facts['login_grants_connect']), 'can_connect': bool(facts['can_connect']),
            'expired': bool(facts['expired']), 'valid_until': facts['valid_until'] if exists else None}


def connect_warning(name, access):
    """A warning when the role will not be able to connect to login_db and this login cannot grant it."""
    if access.get('has_connect') or access.get('can_grant') or access.get('can_connect'):
        return None
    return ('Role %s may not connect to database %s (CONNECT was revoked from PUBLIC), and the login user may not '
            'grant it. Fix: as the database owner or a superuser, GRANT CONNECT ON DATABASE %s TO %s.'
            % (quote_ident(name), quote_ident(access['dbname']), quote_ident(access['dbname']), quote_ident(name)))


def plan_absent(exists, states, access=None):
    if not exists:
        return []
    actions = []
    if access and access.get('has_connect') and access.get('can_grant'):
        actions.append(('revoke_connect', access['dbname']))
    for schema in sorted(states):
        actions.extend(revoke_schema(states[schema]))
    return actions + [('drop_owned',), ('drop_role',)]


def needs_role_privilege(actions):
    """Whether the actions create, alter, drop or change the memberships of the role."""
    return any(action[0] in ('create', 'alter', 'renew', 'grant_role', 'revoke_role', 'drop_role')
               for action in actions)


def predicted_access(actions, access):
    """``access`` once the actions have run."""
    access = dict(access or {})
    for action in actions:
        if action[0] == 'grant_connect':
            access['has_connect'] = True
        elif action[0] == 'revoke_connect':
            access['has_connect'] = False
        elif action[0] == 'renew':
            access['valid_until'], access['expired'] = 'infinity', False
    return access


def describe(attrs, members, states, access=None):
    """The state of the role for diffs and results; ``attrs`` None means absent."""
    if attrs is None:
        return {'state': 'absent'}
    held = dict((name, state) for name, state in states.items() if state.held)
    result = {
        'state': 'present',
        'attributes': dict(attrs),
        'member_of': sorted(members),
        'schemas': sorted(name for name, state in held.items() if state.usage or state.with_select),
        'tables_without_select': dict((name, state.without_select) for name, state in sorted(held.items())
                                      if (state.usage or state.with_select) and state.without_select
                                      and state.selected is None),
        'tables': sorted(display_table(name, table) for name, state in held.items()
                         for table in state.selected or []),
        'default_privileges': dict((name, sorted(state.default_owners))
                                   for name, state in sorted(held.items()) if state.default_owners),
    }
    access = access or {}
    if access.get('dbname'):
        result['connect'] = bool(access.get('has_connect'))  # CONNECT on login_db, granted to the role itself
    if access.get('valid_until') is not None:
        result['valid_until'] = access['valid_until']
    return result


def predicted(actions, attrs, members, states):
    """(attributes, members, states) once ``actions`` have run: the same in check mode and for real."""
    states = dict((name, state.copy()) for name, state in states.items())
    members = list(members)
    attrs = dict(attrs) if attrs is not None else None
    for action in actions:
        kind = action[0]
        if kind == 'create':
            attrs = dict(action[1])
        elif kind == 'alter':
            attrs.update(action[1])
        elif kind == 'grant_role':
            members.append(action[1])
        elif kind == 'revoke_role':
            members.remove(action[1])
        elif kind == 'drop_role':
            return None, [], {}
        elif kind in ('grant_tables', 'revoke_tables'):
            _predict_tables(states.setdefault(action[1], SchemaState(action[1], selected=[])), kind, action[2])
        elif kind in ('grant_usage', 'grant_select', 'grant_default'):
            state = states.setdefault(action[-1], SchemaState(action[-1]))
            if kind == 'grant_usage':
                state.usage = True
            elif kind == 'grant_select':
                state.with_select, state.without_select = state.with_select + state.without_select, 0
            else:
                state.default_owners.append(action[1])
        elif kind in ('revoke_usage', 'revoke_select', 'revoke_default'):
            state = states[action[-1]]
            if kind == 'revoke_usage':
                state.usage = False
            elif kind == 'revoke_select':
                state.without_select, state.with_select = state.with_select + state.without_select, 0
                state.selected = [] if state.selected is not None else None
            else:
                state.default_owners.remove(action[1])
    return attrs, members, states


def _predict_tables(state, kind, names):
    selected = set(state.selected or [])
    count = len(set(names) - selected) if kind == 'grant_tables' else len(set(names) & selected)
    if kind == 'grant_tables':
        state.selected = sorted(selected | set(names))
        state.with_select, state.without_select = state.with_select + count, max(state.without_select - count, 0)
    else:
        state.selected = sorted(selected - set(names))
        state.with_select, state.without_select = state.with_select - count, state.without_select + count


# -- SQL --------------------------------------------------------------------

def _options(attrs):
    parts = []
    for key in ATTRIBUTES:
        if key not in attrs:
            continue
        if key == 'connection_limit':
            # An int, written plainly (sql.Literal would render -1 as ' -1').
            parts.append(sql.SQL('CONNECTION LIMIT {}').format(sql.SQL(str(int(attrs[key])))))
        else:
            parts.append(sql.SQL(KEYWORDS[key][0 if attrs[key] else 1]))
    return parts


def _role_statement(verb, name, attrs, verifier, mask):
    parts = [sql.SQL(verb), sql.Identifier(name)]
    options = _options(attrs)
    if verifier is not None:
        options.append(sql.SQL('PASSWORD {}').format(sql.Literal(MASK if mask else verifier)))
    if options:
        parts.append(sql.SQL('WITH'))
    return sql.SQL(' ').join(parts + options)


def statements(name, actions):
    """[(statement, masked)] for the actions; ``masked`` shows the password as ********."""
    role = sql.Identifier(name)
    out = []
    for action in actions:
        kind = action[0]
        if kind in ('create', 'alter'):
            verb = 'CREATE ROLE' if kind == 'create' else 'ALTER ROLE'
            out.append((_role_statement(verb, name, action[1], action[2], False),
                        _role_statement(verb, name, action[1], action[2], True)))
            continue
        if kind == 'grant_role':
            stmt = sql.SQL('GRANT {} TO {}').format(sql.Identifier(action[1]), role)
        elif kind == 'revoke_role':
            stmt = sql.SQL('REVOKE {} FROM {}').format(sql.Identifier(action[1]), role)
        elif kind == 'grant_usage':
            stmt = sql.SQL('GRANT USAGE ON SCHEMA {} TO {}').format(sql.Identifier(action[1]), role)
        elif kind == 'revoke_usage':
            stmt = sql.SQL('REVOKE USAGE ON SCHEMA {} FROM {}').format(sql.Identifier(action[1]), role)
        elif kind == 'grant_select':
            stmt = sql.SQL('GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}').format(sql.Identifier(action[1]), role)
        elif kind == 'revoke_select':
            stmt = sql.SQL('REVOKE SELECT ON ALL TABLES IN SCHEMA {} FROM {}').format(
                sql.Identifier(action[1]), role)
        elif kind in ('grant_tables', 'revoke_tables'):
            names = sql.SQL(', ').join(sql.Identifier(action[1], table) for table in action[2])
            template = 'GRANT SELECT ON TABLE {} TO {}' if kind == 'grant_tables' else 'REVOKE SELECT ON TABLE {} FROM {}'
            stmt = sql.SQL(template).format(names, role)
        elif kind == 'grant_default':
            stmt = sql.SQL('ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}').format(
                sql.Identifier(action[1]), sql.Identifier(action[2]), role)
        elif kind == 'revoke_default':
            stmt = sql.SQL('ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE SELECT ON TABLES FROM {}').format(
                sql.Identifier(action[1]), sql.Identifier(action[2]), role)
        elif kind == 'renew':
            stmt = sql.SQL('ALTER ROLE {} VALID UNTIL {}').format(role, sql.Literal('infinity'))
        elif kind == 'grant_connect':
            stmt = sql.SQL('GRANT CONNECT ON DATABASE {} TO {}').format(sql.Identifier(action[1]), role)
        elif kind == 'revoke_connect':
            stmt = sql.SQL('REVOKE CONNECT ON DATABASE {} FROM {}').format(sql.Identifier(action[1]), role)
        elif kind == 'drop_owned':
            stmt = sql.SQL('DROP OWNED BY {}').format(role)
        elif kind == 'drop_role':
            stmt = sql.SQL('DROP ROLE {}').format(role)
        else:
            raise ValueError('unknown action %r' % (kind,))
        out.append((stmt, stmt))
    return out
