#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_publication
short_description: Manage the logical replication publication that Bemi reads
version_added: 0.1.0
description:
  - Creates, changes or drops the publication (by default C(bemi)) in O(login_db) that Bemi's
    C(pgoutput) replication slot reads, replacing C(CREATE PUBLICATION bemi FOR ALL TABLES),
    C(FOR TABLE ...) and the later C(ALTER PUBLICATION ... ADD/DROP TABLE).
  - It publishes exactly one scope. All tables (O(all_tables), the default when neither O(tables)
    nor O(schemas) is given), a list of O(tables), or O(schemas) (C(FOR TABLES IN SCHEMA),
    PostgreSQL 15 and newer).
  - Switching between all tables and a list or schemas drops and recreates the publication in
    B(one transaction), so a reader never sees it missing. Tables are added and removed with
    C(ALTER PUBLICATION ... ADD/DROP TABLE), or C(SET TABLE) when one statement does both.
  - Bemi must receive every row and every column of a published table. A row filter (C(WHERE)) or a column
    list on a listed table (PostgreSQL 15 and newer) is therefore a difference that the module removes, in the
    same transaction as the rest of its change. With an exact list it lists the tables again with
    C(ALTER PUBLICATION ... SET TABLE); with O(append=true) it drops and adds back those of O(tables) that have one.
  - Every requested table and schema is checked first. A table that does not exist, a view, a
    foreign table and the like fail the task with their names, and nothing is changed.
  - The plan is computed from the catalogs, so check mode runs nothing that changes anything.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  name:
    description:
      - Name of the publication, exactly as in C(pg_publication) (no quoting or case folding).
    type: str
    default: bemi
  state:
    description:
      - V(present) creates or changes the publication; V(absent) drops it.
      - With V(absent) a warning says so when a C(pgoutput) logical replication slot in this database
        may still read the publication, as Bemi then stops receiving changes.
    type: str
    choices: [present, absent]
    default: present
  all_tables:
    description:
      - Publish every table in the database, including tables created later (C(FOR ALL TABLES)).
      - The default scope when neither O(tables) nor O(schemas) is given. V(true) together with
        O(tables) or O(schemas) is an error.
      - Creating such a publication needs a superuser.
    type: bool
  tables:
    description:
      - Publish these tables. Each entry is C(schema.table), or C(table) for one in C(public).
      - Names follow SQL rules. Unquoted names fold to lower case; quote names with capitals,
        spaces or dots, for example C('"we ird"."Mixed Case"') or C(public."a""b").
      - A partitioned table publishes its partitions too (see O(publish_via_partition_root)).
        Inheritance children are not added (the list is exact).
      - Only ordinary and partitioned tables can be published; views, materialized views,
        foreign, temporary and unlogged tables are rejected by name.
      - An empty list with O(append=false) leaves a publication that publishes nothing.
    type: list
    elements: str
  schemas:
    description:
      - Publish every table, now and later, in these schemas (C(FOR TABLES IN SCHEMA)).
        PostgreSQL 15 and newer; an error on older servers.
      - Needs a superuser.
    type: list
    elements: str
  append:
    description:
      - V(false) makes O(tables) (or O(schemas)) the exact list, removing anything else.
      - V(true) only adds what is missing and never removes anything. A publication that is
        already C(FOR ALL TABLES) then stays so, as it publishes every table already.
        A listed table of O(tables) with a row filter or column list is still published in full again;
        other tables keep theirs.
    type: bool
    default: false
  operations:
    description:
      - The changes to publish (the C(publish) parameter). Bemi needs all four for a complete audit trail.
    type: list
    elements: str
    choices: [insert, update, delete, truncate]
    default: [insert, update, delete, truncate]
  slots_dropped_before:
    description:
      - In check mode only, the logical slots that an earlier task of the same run drops (and so, in check mode,
        still exist), such as Bemi's slot dropped by M(bemi.postgresql.bemi_slot) in a teardown. With
        O(state=absent) they are not warned about.
      - A real run always reads the slots as they are.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  publish_via_partition_root:
    description:
      - Publish changes of partitions as changes of their partitioned (root) table.
      - V(false) (the default) publishes them under each partition's own name, which keeps
        working when partitions are attached or detached later. V(true) shows one table per
        partitioned table, but the subscriber then needs that root table, and changes of a partition
        published on its own are reported under the root.
    type: bool
    default: false
notes:
  - Creating a publication needs the C(CREATE) privilege on the database; adding a table needs
    ownership of it; O(all_tables) and O(schemas) need a superuser. The task fails before changing
    anything, in check mode too, when the login is not a superuser and those are needed.
  - The module never creates or drops replication slots; Bemi creates its own C(bemi) slot.
  - Row filters and column lists (PostgreSQL 15 and newer) are never set, only removed (see the description).
seealso:
  - name: CREATE PUBLICATION
    description: The PostgreSQL documentation of publications.
    link: https://www.postgresql.org/docs/current/sql-createpublication.html
  - module: bemi.postgresql.bemi_wal_level
"""

EXAMPLES = r"""
- name: Publish every table of the app database
  bemi.postgresql.bemi_publication:
    login_db: app
  become: true
  become_user: postgres

- name: Publish only selected tables
  bemi.postgresql.bemi_publication:
    login_db: app
    tables:
      - orders
      - billing.invoices
      - '"Audit"."Line Items"'

- name: Start tracking one more table, keeping the others
  bemi.postgresql.bemi_publication:
    login_db: app
    tables:
      - public.refunds
    append: true

- name: Stop tracking a table (the list is exact, so leave it out)
  bemi.postgresql.bemi_publication:
    login_db: app
    tables:
      - orders
      - billing.invoices

- name: Publish every table in two schemas (PostgreSQL 15 and newer)
  bemi.postgresql.bemi_publication:
    login_db: app
    schemas:
      - public
      - billing

- name: Stop tracking a table, and set its replica identity back (the list is exact)
  bemi.postgresql.bemi_publication:
    login_db: app
    tables: [orders]
  register: published

- name: Back to REPLICA IDENTITY DEFAULT for the tables no longer published
  bemi.postgresql.bemi_replica_identity:
    login_db: app
    tables: "{{ published.tables_removed }}"
    identity: default
  when: published.tables_removed | length > 0

- name: Remove the publication
  bemi.postgresql.bemi_publication:
    login_db: app
    state: absent
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run.
  returned: always
  type: list
  elements: str
  sample: ['ALTER PUBLICATION "bemi" ADD TABLE ONLY "public"."refunds"']
tables_added:
  description:
    - The tables this run starts publishing (predicted in check mode), as C(schema.table) quoted where needed,
      sorted. A table published through C(FOR ALL TABLES) or its schema counts too; partitions come with their
      partitioned table and are not listed.
  returned: always
  type: list
  elements: str
  sample: [public.refunds]
tables_removed:
  description:
    - The tables this run stops publishing, in the same form. A switch from C(FOR ALL TABLES) to a list removes
      every table not in the list.
    - Pass them to M(bemi.postgresql.bemi_replica_identity) with O(bemi.postgresql.bemi_replica_identity#module:identity=default)
      to stop tracking them completely, or use its O(bemi.postgresql.bemi_replica_identity#module:reset_unpublished),
      which works this out from the catalogs again, also after an interrupted run.
  returned: always
  type: list
  elements: str
  sample: [public.invoices]
reason:
  description:
    - Why the module refused, for playbooks to test instead of the wording (the role C(bemi.postgresql.tracking)
      names its own variables from it). V(version) (O(schemas) before PostgreSQL 15), V(missing) (a table or
      schema that cannot be published, see RV(problems)), V(superuser) (the login may not publish all tables or
      schemas). Nothing was changed.
  returned: when the module refused one of these
  type: str
  sample: missing
problems:
  description: With RV(reason=missing), each table or schema that cannot be published, and why.
  returned: when RV(reason) is V(missing)
  type: list
  elements: str
  sample: [table public.nosuch does not exist]
publication:
  description: The publication after the run (predicted in check mode); null when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: bemi
    all_tables:
      description: Whether it is C(FOR ALL TABLES).
      type: bool
      sample: false
    tables:
      description:
        - The tables it lists explicitly, as C(schema.table) quoted where needed, sorted.
          Empty for C(FOR ALL TABLES).
      type: list
      elements: str
      sample: ['billing.invoices', 'public.orders', '"we ird"."Mixed Case"']
    schemas:
      description: The schemas it publishes (C(FOR TABLES IN SCHEMA)), sorted.
      type: list
      elements: str
      sample: []
    operations:
      description: The published operations.
      type: list
      elements: str
      sample: [insert, update, delete, truncate]
    publish_via_partition_root:
      description: Whether partition changes are published as changes of the root table.
      type: bool
      sample: false
    row_filters:
      description:
        - The listed tables that have a row filter (PostgreSQL 15 and newer), each with its C(WHERE) expression
          as PostgreSQL prints it. Empty after a run, except for tables that O(append=true) did not ask for.
      type: dict
      sample: {public.orders: (amount > 100)}
      version_added: 0.2.0
    column_lists:
      description:
        - The listed tables that publish only some columns (PostgreSQL 15 and newer), each with its column names.
          Empty after a run, except for tables that O(append=true) did not ask for.
      type: dict
      sample: {public.items: [id]}
      version_added: 0.2.0
  sample:
    name: bemi
    all_tables: true
    tables: []
    schemas: []
    operations: [insert, update, delete, truncate]
    publish_via_partition_root: false
    row_filters: {}
    column_lists: {}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import run_module
from ansible_collections.bemi.postgresql.plugins.module_utils.publication_run import STEP


def main():
    run_module(STEP)


if __name__ == '__main__':
    main()
