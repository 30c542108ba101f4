#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_role
short_description: The read-only replication role that Bemi connects with, its password and its grants
version_added: 0.1.0
description:
  - Creates or updates a role that is always C(LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE), with
    C(REPLICATION) by default, and grants it read access in the database O(login_db).
  - A plaintext O(password) is hashed on the managed host (SCRAM-SHA-256, or md5 when the server's
    C(password_encryption) is V(md5)), so the password itself never reaches the server or its logs.
    It is compared with the stored verifier by recomputing it with the stored salt and iteration
    count, so a re-run with the same password changes nothing.
  - In O(login_db), the role gets C(USAGE) on each schema in O(schemas) and C(SELECT) on all its tables
    (partitioned tables, views and foreign tables included), and default privileges so that tables
    created later by the roles in O(default_privileges_for) are readable too. Grants in schemas that are
    no longer listed are revoked.
  - The role is granted C(CONNECT) on O(login_db) in its own name, so that C(REVOKE CONNECT ... FROM PUBLIC),
    a common hardening step, does not lock Bemi out; O(state=absent) revokes it. When the login user may not
    grant it (it is not the database's owner or a superuser), nothing is planned, and a warning names the fix
    if the role could not connect at all.
  - A role whose C(VALID UNTIL) has passed cannot log in, so it is made valid again with C(VALID UNTIL 'infinity'),
    shown in the diff as C(valid_until). A date still in the future is left as it is.
  - The transaction that sends a password (create, or a change) sets, with C(set_config(..., true)) so that nothing
    outlives it, C(log_statement=none), C(log_min_duration_statement=-1), C(log_min_duration_sample=-1),
    C(log_transaction_sample_rate=0), C(log_min_error_statement=panic) (an error does not echo the statement),
    C(track_activities=off) (C(pg_stat_activity) does not show it), C(debug_print_parse/rewritten/plan=off), and
    where loaded C(pg_stat_statements.track=none), C(pgaudit.log=none) and C(auto_explain.log_min_duration=-1).
    So the verifier is recorded neither in the server log nor in C(pg_stat_statements), pgaudit or auto_explain.
    No other transaction is changed; the C(set_config) statements themselves are logged and hold no secret.
  - Those settings need a superuser, or on PostgreSQL 15 and newer C(GRANT SET ON PARAMETER). A login without
    them gets one warning that names the settings it may not set and the C(GRANT) to run; the role is still
    managed, and the verifier may then be recorded.
  - Outside O(schemas), the role reads exactly the O(tables) (C(SELECT) on each, C(USAGE) on its schema),
    for a least-privilege setup where Bemi sees only the tables it tracks. C(SELECT) on any other table
    there is revoked, and so are default privileges there.
  - Everything is read back from C(pg_authid), C(pg_namespace), C(pg_class) ACLs and C(pg_default_acl),
    so a re-run is C(changed=false) with no queries. All changes run in one transaction; when one fails,
    nothing has changed.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  name:
    description:
      - The name of the role, taken literally (exact case, no quoting needed; it is quoted when sent).
    type: str
    required: true
  password:
    description:
      - The password of the role, in plaintext, or as a verifier (C(SCRAM-SHA-256$...) or C(md5...)),
        which is set verbatim.
      - A plaintext password is hashed before it is sent. A stored md5 verifier is replaced by a
        SCRAM-SHA-256 one when the server's C(password_encryption) is C(scram-sha-256).
      - Comparing needs the stored verifier, which only a superuser can read. Otherwise a warning says so
        and, with O(update_password=always), the password is set on every run.
      - Omitted, the password of an existing role is left alone (a new role gets none).
    type: str
  update_password:
    description:
      - V(always) sets the password whenever it differs from the stored one.
      - V(on_create) sets it only when the role is created.
    type: str
    choices: [always, on_create]
    default: always
  state:
    description:
      - V(present) creates or updates the role and its grants in O(login_db).
      - V(absent) revokes its grants in O(login_db), drops what it owns there (C(DROP OWNED BY)) and
        drops the role. When it still holds privileges or owns objects in another database, or owns a
        database, the module fails, names them, and changes nothing.
    type: str
    choices: [present, absent]
    default: present
  replication:
    description:
      - Whether the role has the C(REPLICATION) attribute, which Bemi's logical replication needs on a
        self-managed server.
      - Use V(false) on Amazon RDS and Aurora, with O(member_of=[rds_replication]) instead.
    type: bool
    default: true
  member_of:
    description:
      - The exact list of roles that this role is a member of (for example V(rds_replication)); memberships
        not listed are revoked. Names are taken literally.
      - Omitted, memberships are left alone.
    type: list
    elements: str
  connection_limit:
    description:
      - How many concurrent connections the role may make; V(-1) means no limit.
    type: int
    default: -1
  schemas:
    description:
      - The exact set of schemas in O(login_db) whose tables the role reads, written as in SQL;
        unquoted names fold to lower case, V('"MixedCase"') keeps its case.
      - An empty list revokes the role's read access in every schema of O(login_db) (except the O(tables)).
      - V(['*']) means every non-system schema of O(login_db) (all but C(pg_catalog), C(information_schema) and
        the C(pg_) schemas), as they are when the module runs; it cannot be combined with names. A schema named
        C(*) is written V('"*"').
    type: list
    elements: str
    default: [public]
  tables:
    description:
      - The exact set of tables, outside O(schemas), that the role may read, each C(schema.table) (or
        C(table) in C(public)), written as in SQL. The role gets C(SELECT) on each and C(USAGE) on its schema.
      - C(SELECT) on every other table outside O(schemas) is revoked, as are C(USAGE) on schemas without a
        listed table and default privileges there. So with O(schemas=[]) the role reads exactly these
        tables, and a table that leaves the list loses its C(SELECT) grant.
      - When more tables of a schema lose C(SELECT) than keep it (for example when a database read whole
        moves to a list), the change is one C(REVOKE SELECT ON ALL TABLES IN SCHEMA) and one C(GRANT) on the
        listed tables, in the same transaction.
      - A table in one of O(schemas) is read through the schema grant already.
      - A table that does not exist is an error, and nothing is changed.
    type: list
    elements: str
    default: []
  revoked_before:
    description:
      - With O(state=absent) in check mode only, the databases whose grants an earlier step of the same dry run
        revokes (this module with O(state=present) and O(schemas=[]) there). Their grants do not make the
        predicted drop refuse, so a dry run of a teardown over several databases shows the drop that the real
        run makes. A real run reads the catalogs, which by then tell.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  default_privileges_for:
    description:
      - The roles whose future tables in O(schemas) the role may read, through
        C(ALTER DEFAULT PRIVILEGES FOR ROLE <owner> IN SCHEMA <schema> GRANT SELECT ON TABLES).
        Name the role that runs the application's migrations. Names are taken literally.
      - Default privileges for roles not listed are revoked.
      - Defaults to O(login_user).
    type: list
    elements: str
notes:
  - Needs a superuser, or a role with C(CREATEROLE) (on PostgreSQL 15 and older, giving C(REPLICATION)
    needs a superuser; on 16 and newer a role that has C(REPLICATION) itself). Default privileges for
    another role need membership in it.
  - What is recorded where. The plaintext password never leaves the managed host. The verifier is stored in
    C(pg_authid) (readable by superusers only), as PostgreSQL needs it; it is kept out of the server log,
    C(pg_stat_statements), pgaudit, auto_explain and C(pg_stat_activity) as described above (with the privileges
    to set those settings). It still reaches the server over the connection (use O(ssl_mode) for remote servers)
    and the write-ahead log, like every catalog change.
  - The password only shows as C(password=changed) in the diff; RV(queries) show it as C(********).
seealso:
  - name: CREATE ROLE
    description: Role attributes.
    link: https://www.postgresql.org/docs/current/sql-createrole.html
  - name: ALTER DEFAULT PRIVILEGES
    description: Privileges for objects created later.
    link: https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html
"""

EXAMPLES = r"""
- name: Bemi's defaults, reading the public schema of the app database
  bemi.postgresql.bemi_role:
    login_unix_socket: /var/run/postgresql
    login_db: app
    name: bemi
    password: "{{ vault_bemi_password }}"
  become: true
  become_user: postgres

- name: Also read tables that the migration role creates later, in two schemas
  bemi.postgresql.bemi_role:
    login_host: db1.example.com
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    login_db: app
    name: bemi
    password: "{{ vault_bemi_password }}"
    schemas: [public, billing]
    default_privileges_for: [app_migrations]

- name: Least privilege, reading only the tables Bemi tracks
  bemi.postgresql.bemi_role:
    login_db: app
    name: bemi
    password: "{{ vault_bemi_password }}"
    schemas: []
    tables: [orders, billing.invoices]

- name: Amazon RDS, where REPLICATION is a role membership
  bemi.postgresql.bemi_role:
    login_host: app.abcdefgh.eu-west-1.rds.amazonaws.com
    login_user: postgres
    login_password: "{{ vault_rds_master_password }}"
    login_db: app
    name: bemi
    password: "{{ vault_bemi_password }}"
    replication: false
    member_of: [rds_replication]
    update_password: on_create

- name: Remove the role
  bemi.postgresql.bemi_role:
    login_db: app
    name: bemi
    state: absent
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run. Passwords show as C(********).
  returned: always
  type: list
  elements: str
  sample:
    - "CREATE ROLE \"bemi\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION CONNECTION LIMIT -1 PASSWORD '********'"
    - "GRANT CONNECT ON DATABASE \"app\" TO \"bemi\""
    - "GRANT USAGE ON SCHEMA \"public\" TO \"bemi\""
    - "GRANT SELECT ON ALL TABLES IN SCHEMA \"public\" TO \"bemi\""
    - "ALTER DEFAULT PRIVILEGES FOR ROLE \"postgres\" IN SCHEMA \"public\" GRANT SELECT ON TABLES TO \"bemi\""
role:
  description: The role after this run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: The role name.
      type: str
      sample: bemi
    exists:
      description: Whether the role exists.
      type: bool
      sample: true
    attributes:
      description: Its attributes; empty when it does not exist.
      type: dict
      sample: {login: true, superuser: false, createdb: false, createrole: false, replication: true, connection_limit: -1}
    member_of:
      description: The roles it is a member of.
      type: list
      elements: str
      sample: [rds_replication]
    schemas:
      description: The schemas of O(login_db) where it has USAGE or reads tables.
      type: list
      elements: str
      sample: [public]
    tables:
      description: The tables it reads one by one, outside O(schemas), as C(schema.table) quoted where needed.
      type: list
      elements: str
      sample: [public.orders]
    default_privileges:
      description: For each schema, the roles whose future tables it may read.
      type: dict
      sample: {public: [app_migrations]}
    connect:
      description: Whether the role holds C(CONNECT) on O(login_db) in its own name (not only through C(PUBLIC)).
      type: bool
      sample: true
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import ALL_SCHEMAS, SYSTEM_SCHEMA_PARAMS, means_all_schemas, user_schema_names
from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    connection_argument_spec,
    query,
    query_one,
    run_with_connection,
    server_version_num,
)
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
from ansible_collections.bemi.postgresql.plugins.module_utils.scram import MD5, DEFAULT_ITERATIONS, decide_password
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
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
    )
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True)
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

    run_with_connection(module, lambda conn: run(module, conn, schemas, tables), 'Could not change role %s' % params['name'])


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


def run(module, conn, schemas, tables):
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
                                                      access, tables)

    if needs_role_privilege(actions) and not (facts['login_superuser'] or facts['login_createrole']):
        module.fail_json(msg='Role %s may not create, alter or drop roles: it is neither a superuser nor has '
                             'CREATEROLE. Fix: run as a superuser, or ALTER ROLE %s CREATEROLE.'
                             % (facts['login_name'], facts['login_name']), queries=[])

    plan = Plan()
    plan.add_transaction([Step(statement, masked) for statement, masked in statements(name, actions)],
                         settings=password_settings(module, conn, facts, actions), label='role %s' % name)
    applied = plan.apply(conn, module.check_mode)

    report(module, name, applied, actions, (attrs, members, states, access), changed_password)


def plan_role_present(module, conn, facts, readable, states, schemas, owners, access, tables):
    """(actions, whether the password changes) for state=present; fails on a missing schema."""
    params = module.params
    name = params['name']
    missing = [schema for schema in schemas if schema not in states]
    if missing:
        module.fail_json(msg='Schema(s) %s do not exist in database %s. Fix the schemas option or create them '
                             'first.' % (', '.join(missing), conn.info.dbname), queries=[])
    iterations = int(facts['scram_iterations'] or DEFAULT_ITERATIONS)
    encryption = MD5 if facts['password_encryption'] in ('md5', 'on') else 'scram-sha-256'
    exists = facts['oid'] is not None
    decision = decide_password(params['password'], name, exists, facts['rolpassword'], readable,
                               params['update_password'], encryption, iterations)
    if decision.warning:
        module.warn(decision.warning)
    if connect_warning(name, access):
        module.warn(connect_warning(name, access))
    members = facts['member_of'] if exists else []
    actions = plan_present(current_attributes(facts), wanted_attributes(params['replication'], params['connection_limit']),
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


if __name__ == '__main__':
    main()
