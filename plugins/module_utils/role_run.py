# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What bemi_role does in one database: its options, their checks, and the run.

Shared by the bemi_role module and by bemi_databases, which runs it in each of several databases."""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import (
    ALL_SCHEMAS,
    SYSTEM_SCHEMA_PARAMS,
    means_all_schemas,
    user_schema_names,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.connection import query, query_one, server_version_num
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import DatabaseStep
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    display_table,
    parse_name,
    parse_table,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, Step, diff
from ansible_collections.bemi.postgresql.plugins.module_utils.role import (
    GRANTS_QUERY,
    MISSING_TABLES_QUERY,
    RoleError,
    access_facts,
    check_role_name,
    connect_warning,
    current_attributes,
    describe,
    grants_args,
    missing_tables_args,
    needs_role_privilege,
    plan_absent,
    plan_present,
    predicted,
    predicted_access,
    quiet_settings,
    quiet_settings_args,
    quiet_settings_query,
    quiet_warning,
    role_query,
    schema_states,
    sends_password,
    statements,
    unique,
    wanted_attributes,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.scram import (
    MD5,
    DEFAULT_ITERATIONS,
    PasswordDecision,
    decide_password,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports


def option_spec():
    """bemi_role's options, without the connection options."""
    return dict(
        name=dict(type='str', required=True),
        password=dict(type='str', no_log=True),
        update_password=dict(type='str', choices=['always', 'on_create'], default='always', no_log=False),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        replication=dict(type='bool', default=True),
        member_of=dict(type='list', elements='str'),
        connection_limit=dict(type='int', default=-1),
        schemas=dict(type='list', elements='str', default=['public']),
        default_privileges_for=dict(type='list', elements='str'),
        tables=dict(type='list', elements='str', default=[]),
        revoked_before=dict(type='list', elements='str', default=[]),
        planned_before=dict(type='bool', default=False),
    )


def prepare(module):
    """(schemas, tables) parsed from the options; a contradiction fails here, before connecting."""
    params = module.params
    try:
        check_role_name(params['name'])
        for other in (params['member_of'] or []) + (params['default_privileges_for'] or []):
            check_role_name(other, 'member_of and default_privileges_for entry')
        schemas = all_schemas(params['schemas']) or unique(parse_name(text) for text in params['schemas'])
        tables = unique(parse_table(text) for text in params['tables'])
    except (RoleError, IdentifierError) as exc:
        module.fail_json(msg=str(exc), queries=[])
    if params['connection_limit'] < -1:
        module.fail_json(msg='connection_limit must be -1 (no limit) or more.', queries=[])
    return schemas, tables


def failure(params):
    return 'Could not change role %s' % params['name']


def all_schemas(values):
    """ALL_SCHEMAS when schemas is ['*'] (every user schema, listed once connected), else None."""
    try:
        return ALL_SCHEMAS if means_all_schemas(values) else None
    except ValueError as exc:
        raise RoleError(str(exc))


def user_schemas(conn):
    """Every non-system schema of the database, by name."""
    return query_one(conn, 'SELECT ' + user_schema_names() + ' AS names', SYSTEM_SCHEMA_PARAMS)['names']


def can_read_authid(conn):
    # The server reports is_superuser at connection start: no round trip needed.
    status = conn.info.parameter_status('is_superuser')
    if status is None:
        status = 'on' if query_one(conn, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')['rolsuper'] else 'off'
    return status == 'on'


def run(module, conn, prepared):
    schemas, tables = prepared
    params = module.params
    name = params['name']
    if schemas == ALL_SCHEMAS:
        # Listed here, in the connection that grants, so that no schema created in between is missed.
        schemas = user_schemas(conn)
    readable = can_read_authid(conn)
    others = unique((params['member_of'] or []) + (params['default_privileges_for'] or []))
    facts = query_one(conn, role_query(readable), {'name': name, 'others': others})
    owners = unique(params['default_privileges_for'] if params['default_privileges_for'] is not None
                    else [facts['login_name']])
    unknown = [role for role in unique((params['member_of'] or []) + owners) if role not in facts['known_roles']]
    if params['state'] == 'present' and unknown:
        module.fail_json(msg='Unknown role(s) in member_of or default_privileges_for: %s. Create them first.'
                         % ', '.join(unknown), queries=[])
    if name == facts['login_name']:
        module.fail_json(msg='Role %s is the login user; managing it with this module would remove its own '
                             'privileges. Connect as another role.' % name, queries=[])

    exists = facts['oid'] is not None
    attrs = current_attributes(facts)
    members = facts['member_of'] if exists else []
    planned = module.check_mode and params['planned_before'] and params['state'] == 'present'
    if planned:
        # An earlier step of this dry run makes the role what is asked here: plan this database's part only.
        attrs = wanted_attributes(params['replication'], params['connection_limit'])
        members = params['member_of'] if params['member_of'] is not None else members
    # With state=absent no schema is wanted: the query then lists only what the role holds.
    wanted_schemas, wanted_tables = (schemas, tables) if params['state'] == 'present' else ([], [])
    refuse_missing_tables(module, conn, wanted_tables)
    states = schema_states(query(conn, GRANTS_QUERY, grants_args(facts['oid'], wanted_schemas, wanted_tables)))
    changed_password = False
    access = access_facts(facts)
    if params['state'] == 'absent':
        refuse_drop_elsewhere(module, name, facts, exists)
        actions = plan_absent(exists, states, access)
    else:
        actions, changed_password = plan_role_present(module, conn, facts, readable, states, schemas, owners,
                                                      access, tables, (attrs, members, planned))

    if needs_role_privilege(actions) and not (facts['login_superuser'] or facts['login_createrole']):
        module.fail_json(msg='Role %s may not create, alter or drop roles: it is neither a superuser nor has '
                             'CREATEROLE. Fix: run as a superuser, or ALTER ROLE %s CREATEROLE.'
                             % (facts['login_name'], facts['login_name']), queries=[])

    plan = Plan()
    plan.add_transaction([Step(statement, masked) for statement, masked in statements(name, actions)],
                         settings=password_settings(module, conn, facts, actions), label='role %s' % name)
    applied = plan.apply(conn, module.check_mode)

    report(module, name, applied, actions, (attrs, members, states, access), changed_password)


def plan_role_present(module, conn, facts, readable, states, schemas, owners, access, tables, current):
    """(actions, whether the password changes) for state=present; fails on a missing schema.

    ``current``: (attributes, memberships, planned), the role as this run finds it, or with ``planned``
    as an earlier step of the same dry run leaves it (see the planned_before option)."""
    params = module.params
    name = params['name']
    attrs, members, planned = current
    missing = [schema for schema in schemas if schema not in states]
    if missing:
        module.fail_json(msg='Schema(s) %s do not exist in database %s. Fix the schemas option or create them '
                             'first.' % (', '.join(missing), conn.info.dbname), queries=[])
    iterations = int(facts['scram_iterations'] or DEFAULT_ITERATIONS)
    encryption = MD5 if facts['password_encryption'] in ('md5', 'on') else 'scram-sha-256'
    if planned and readable:
        # The earlier step set the password; a readable verifier then compares equal.
        decision = PasswordDecision(None, 'set by an earlier step of this dry run')
    else:
        decision = decide_password(params['password'], name, attrs is not None, facts['rolpassword'], readable,
                                   params['update_password'], encryption, iterations)
    if decision.warning:
        module.warn(decision.warning)
    if connect_warning(name, access):
        module.warn(connect_warning(name, access))
    actions = plan_present(attrs, wanted_attributes(params['replication'], params['connection_limit']),
                           decision.verifier, members, params['member_of'], states, schemas, owners, access, tables)
    return actions, decision.change


def report(module, name, applied, actions, current, changed_password):
    """exit_json with the role as it is after the run (or would be, in check mode), and the diff."""
    attrs, members, states, access = current
    after_attrs, after_members, after_states = predicted(actions, attrs, members, states)
    before = describe(attrs, members, states, access)
    after = describe(after_attrs, after_members, after_states, predicted_access(actions, access))
    if changed_password:
        after['password'] = 'changed'
    result = dict(changed=applied.changed, queries=applied.queries, role={
        'name': name,
        'exists': after_attrs is not None,
        'attributes': after.get('attributes', {}),
        'member_of': after.get('member_of', []),
        'schemas': after.get('schemas', []),
        'tables': after.get('tables', []),
        'default_privileges': after.get('default_privileges', {}),
        'connect': after.get('connect', False),
    })
    result_diff = diff(module, before, after)
    if result_diff is not None:
        result['diff'] = result_diff
    module.exit_json(**result)


def password_settings(module, conn, facts, actions):
    """The settings that keep the verifier out of logs and statistics, for the transaction that sends it only."""
    if not sends_password(actions):
        return {}
    grants = supports(server_version_num(conn), 'parameter_privileges')
    rows = query(conn, quiet_settings_query(grants), quiet_settings_args())
    settings, unsettable = quiet_settings(rows, facts['login_superuser'])
    if unsettable:
        module.warn(quiet_warning(facts['login_name'], unsettable, grants))
    return settings


def refuse_missing_tables(module, conn, tables):
    if not tables:
        return
    missing = query(conn, MISSING_TABLES_QUERY, missing_tables_args(tables))
    if missing:
        module.fail_json(msg='Table(s) %s do not exist in database %s, so no SELECT can be granted on them. Nothing '
                             'was changed. Fix the tables option or create them first.'
                         % (', '.join(display_table(row['schema'], row['name']) for row in missing), conn.info.dbname),
                         queries=[])


def refuse_drop_elsewhere(module, name, facts, exists):
    if not exists:
        return
    problems = []
    others = facts['other_databases'] or []
    if module.check_mode:
        others = [db for db in others if db not in module.params['revoked_before']]
    if others:
        problems.append('it still holds privileges or owns objects in database(s) %s' % ', '.join(others))
    if facts['owned_databases']:
        problems.append('it owns database(s) %s' % ', '.join(facts['owned_databases']))
    if problems:
        module.fail_json(msg='Role %s cannot be dropped: %s. Nothing was changed. Fix: in each of those '
                             'databases run this module with state=present and schemas=[] (which revokes its '
                             'grants there), or REASSIGN OWNED BY / DROP OWNED BY there, then run it again.' % (name, '; '.join(problems)), queries=[])


# What the role is, not what it may read in one database: the same wherever the same step ran.
ROLE_OPTIONS = ('name', 'password', 'update_password', 'replication', 'member_of', 'connection_limit')


def follows(earlier, params):
    """In a dry run over several databases: the same role, set up by the step in an earlier database, is
    planned as that step leaves it (planned_before), so that the dry run shows what the real run does."""
    if params['state'] == 'present' and all(earlier[key] == params[key] for key in ROLE_OPTIONS + ('state',)):
        return dict(params, planned_before=True)
    return params


STEP = DatabaseStep('role', 'bemi_role', option_spec, [], prepare, run, failure, follows)
