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
  planned_before:
    description:
      - In check mode only, with O(state=present), an earlier step of the same dry run creates or changes this role
        with the same options (this module in another database, as M(bemi.postgresql.bemi_databases) runs it). The
        role is then planned as that step leaves it (its attributes, password and memberships as asked here), and
        only what this database needs is planned, so that a dry run over several databases shows what the real run
        does. When the login user may not read the stored password, it is still planned to be set again, as the
        real run does. A real run reads the catalogs, which by then tell.
    type: bool
    default: false
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

from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import run_module
from ansible_collections.bemi.postgresql.plugins.module_utils.role_run import STEP


def main():
    run_module(STEP)


if __name__ == '__main__':
    main()
