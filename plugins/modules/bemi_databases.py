#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_databases
short_description: Several databases made ready for Bemi in one run (publication, role and grants, replica identity)
version_added: 0.2.0
description:
  - Runs, in each database of O(databases) in turn, what M(bemi.postgresql.bemi_publication),
    M(bemi.postgresql.bemi_role) and M(bemi.postgresql.bemi_replica_identity) do, in that order, with the
    same code and the same options. One task and one module run cover them all, with one connection per database.
  - A step runs in a database when its options are given, shared (O(role), O(publication), O(replica_identity)) or
    for that database. The database's own options are laid over the shared ones, option by option; an option left
    out, or null, keeps the shared value. The merged options are checked as the step's own module checks them
    (types, choices, defaults, contradictions).
  - A real run stops at the first database where a step fails; the databases after it are left as they are, and the
    failure names them. In that database, the steps before the failed one stay done (each step's own transactions
    are as in its module).
  - In check mode every database is checked, also after one that fails, so that one failure names every database
    that cannot be set up. Use it before a real run to see every refusal before any change.
  - In check mode a role that the step plans to create or change in one database is planned, in the databases
    after it, as that step leaves it (O(bemi.postgresql.bemi_role#module:planned_before)), when its options there
    are the same. So a dry run shows one C(CREATE ROLE), as the real run does.
  - Each step's warnings are given with its database's name, and also returned in RV(databases[].warnings).
  - The C(bemi.postgresql.tracking) role runs it in check mode before any change, and for real only when that found
    something to do, so that a run with nothing to change costs one module run for all its databases.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  login_db:
    description:
      - Not used. Each database of O(databases) is connected to in turn, with the other connection options.
    type: str
    aliases: [db]
  role:
    description:
      - The options of M(bemi.postgresql.bemi_role), without the connection options, for every database.
      - O(bemi.postgresql.bemi_role#module:password) is masked wherever it is given, as in that module.
    type: dict
  publication:
    description:
      - The options of M(bemi.postgresql.bemi_publication), without the connection options, for every database.
    type: dict
  replica_identity:
    description:
      - The options of M(bemi.postgresql.bemi_replica_identity), without the connection options, for every database.
    type: dict
  databases:
    description:
      - The databases, in the order they are set up.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The database's name, as given to O(login_db) of the step's module.
        type: str
        required: true
      role:
        description:
          - Options of M(bemi.postgresql.bemi_role) for this database, laid over O(role).
        type: dict
      publication:
        description:
          - Options of M(bemi.postgresql.bemi_publication) for this database, laid over O(publication).
        type: dict
      replica_identity:
        description:
          - Options of M(bemi.postgresql.bemi_replica_identity) for this database, laid over O(replica_identity).
        type: dict
seealso:
  - module: bemi.postgresql.bemi_role
  - module: bemi.postgresql.bemi_publication
  - module: bemi.postgresql.bemi_replica_identity
"""

EXAMPLES = r"""
- name: Two databases, each whole, read by the role bemi
  bemi.postgresql.bemi_databases:
    role:
      name: bemi
      password: "{{ vault_bemi_password }}"
      schemas: ['*']
    publication:
      all_tables: true
    replica_identity:
      schemas: ['*']
    databases:
      - name: shop
      - name: billing

- name: One database whole, and two tables of another (no SELECT elsewhere there, no event trigger)
  bemi.postgresql.bemi_databases:
    role:
      name: bemi
      password: "{{ vault_bemi_password }}"
    replica_identity:
      lock_timeout: 500ms
      retries: 10
    databases:
      - name: shop
        role: {schemas: ['*']}
        publication: {all_tables: true}
        replica_identity: {schemas: ['*']}
      - name: crm
        role: {schemas: [], tables: [accounts, contacts]}
        publication: {tables: [accounts, contacts]}
        replica_identity: {tables: [accounts, contacts], track_new_tables: false}

- name: Every refusal of every database, before any change
  bemi.postgresql.bemi_databases:
    role: {name: bemi, password: "{{ vault_bemi_password }}"}
    publication: {}
    replica_identity: {}
    databases: [{name: shop}, {name: billing}]
  check_mode: true
  register: bemi_plan
"""

RETURN = r"""
queries:
  description: The statements of every database, in the order they were run (or in check mode would be), secrets masked.
  returned: always
  type: list
  elements: str
  sample: ['CREATE PUBLICATION "bemi" FOR ALL TABLES', 'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL']
databases:
  description:
    - One entry per database that was run, in order. A real run that failed has no entry for the databases after
      the failed one.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The database.
      type: str
      sample: shop
    changed:
      description: Whether anything changed in this database (or in check mode would).
      type: bool
      sample: true
    queries:
      description: This database's statements, in order.
      type: list
      elements: str
      sample: ['CREATE PUBLICATION "bemi" FOR ALL TABLES']
    warnings:
      description: The steps' warnings in this database, each after its module's name.
      type: list
      elements: str
      sample: ['bemi_role: login user app may not set log_statement ...']
    role:
      description: What M(bemi.postgresql.bemi_role) returns (without C(diff)), when it ran here.
      type: dict
      returned: when the step ran
      sample: {changed: false, queries: [], role: {name: bemi, exists: true}}
    publication:
      description: What M(bemi.postgresql.bemi_publication) returns (without C(diff)), when it ran here.
      type: dict
      returned: when the step ran
      sample: {changed: true, queries: ['CREATE PUBLICATION "bemi" FOR ALL TABLES'], tables_added: [public.orders]}
    replica_identity:
      description: What M(bemi.postgresql.bemi_replica_identity) returns (without C(diff)), when it ran here.
      type: dict
      returned: when the step ran
      sample: {changed: false, queries: [], tables_failed: [], event_trigger: present}
    failed:
      description: Whether a step failed here.
      type: bool
      returned: when a step failed here
      sample: true
    failed_step:
      description: The step that failed here, by its option name (V(role), V(publication) or V(replica_identity)); its result there says more.
      type: str
      returned: when a step failed here
      sample: publication
    msg:
      description: The failed step's message.
      type: str
      returned: when a step failed here
      sample: 'Cannot publish: table public.ordrs does not exist. Nothing was changed.'
diff:
  description:
    - With C(--diff), C(before) and C(after) each map a database's name to the C(before) and C(after) of each step
      that ran there (by its option name, for example C(publication)), as that step's module returns them.
  returned: when diff mode is on
  type: dict
  sample:
    before: {shop: {publication: {}}}
    after: {shop: {publication: {name: bemi, all_tables: true}}}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils import publication_run, replica_identity_run, role_run
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import (
    DatabasesModule,
    databases_argument_spec,
    run_databases,
)

# In the order they run in each database. The publication first: its checks (the tables and schemas
# exist, the major version allows a schema publication) are the most telling refusals. Replica
# identity and the trigger last: they follow the publication (reset_unpublished reads it).
STEPS = (publication_run.STEP, role_run.STEP, replica_identity_run.STEP)


def main():
    module = DatabasesModule(STEPS, argument_spec=databases_argument_spec(STEPS), supports_check_mode=True)
    run_databases(module, STEPS)


if __name__ == '__main__':
    main()
