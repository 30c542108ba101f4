#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_replica_identity
short_description: Give tables C(REPLICA IDENTITY FULL), now and when they are created later
version_added: 0.1.0
description:
  - Sets C(REPLICA IDENTITY FULL) on existing tables, so that Bemi's change data capture records the
    complete "before" state of every updated and deleted row; or, with O(identity=default), sets it back.
  - Reads the identity of every table in one catalog query, whatever their number, and changes only
    the tables that differ.
  - Each table is altered in its own short transaction under O(lock_timeout), retried O(retries) times
    with back-off and jitter. Nothing waits on a lock longer than O(lock_timeout), so the application
    never queues behind the C(ACCESS EXCLUSIVE) lock request of C(ALTER TABLE). Tables still locked after
    the retries are returned in RV(tables_failed) and the task fails after finishing all the others;
    a re-run completes them. A deadlock is retried in the same way.
  - A table that is dropped or renamed while the module runs (old partitions dropped by pg_partman or a cron
    job, a migration) is not an error. It is returned in RV(tables_skipped) with a warning, and the run goes on.
    Afterwards the module reads the catalogs again and changes the tables that appeared under new names, and
    the tables that were created before the event trigger was in place.
  - Only the per-table transactions may be left out in this way. If the event trigger's statements still
    find their locks busy after the retries, the task fails and says so, having changed no table.
  - With O(track_new_tables=true), installs a DDL event trigger so that tables that enter O(schemas) later
    get C(REPLICA IDENTITY FULL) too. It keeps the three names of Bemi's published SQL, procedure
    C(public._bemi_set_replica_identity), function C(public._bemi_set_replica_identity_func) and event trigger
    C(_bemi_set_replica_identity_trigger), so a server set up by hand is adopted (the bodies are replaced and
    the change reported), but not Bemi's bodies. The function reads only what C(pg_event_trigger_ddl_commands) returns
    and the catalog rows of those tables, touches only the tables the current command brought into a tracked
    schema, has a pinned C(search_path) and schema-qualified names, runs as its owner (C(SECURITY DEFINER)), and
    turns any failure into a warning instead of failing the user's DDL.
  - The trigger covers C(CREATE TABLE) (partitions included), C(CREATE TABLE AS), C(SELECT INTO),
    C(CREATE SCHEMA ... CREATE TABLE), C(ALTER TABLE ... SET SCHEMA) into a tracked schema and
    C(ALTER TABLE ... ATTACH PARTITION) (the partition and its own partitions). It fires on every C(ALTER TABLE),
    as PostgreSQL cannot filter on the subcommand; any other C(ALTER TABLE) (C(ADD COLUMN),
    C(REPLICA IDENTITY DEFAULT), ...) costs it two index lookups and changes nothing, so a table set back to
    C(DEFAULT) stays so. One exception, by construction, is a table created and then altered in the same
    transaction, which counts as new. C(ALTER SCHEMA ... RENAME) to a tracked name is not covered; a run of this
    module covers it.
  - With O(tables), the trigger also tracks the listed partitioned tables (see O(track_partitions)). A partition
    created or attached later under one of them, at any depth and in any schema, is published with it, so it gets
    C(REPLICA IDENTITY FULL) too. This holds with O(track_new_tables=false) as well, where the trigger tracks those
    partition trees and no schema.
  - The procedure C(public._bemi_set_replica_identity), called by hand (C(CALL) with no arguments), brings every
    tracked table to FULL. Called on its own, it commits after each table, so that no table stays locked longer
    than its own C(ALTER TABLE); inside a transaction block it cannot commit (it says so) and every table stays
    locked until that block ends. Each C(ALTER TABLE) waits at most C(lock_timeout) 2s and is retried 5 times
    with back-off; a table still locked is a warning and the others go on. PostgreSQL lets only a
    C(SECURITY INVOKER) procedure commit, so it runs with the caller's rights (by default only its owner and
    superusers may call it).
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  identity:
    description:
      - V(full) sets C(REPLICA IDENTITY FULL) on every table in scope that has another identity.
      - V(default) sets C(REPLICA IDENTITY DEFAULT) on the tables in scope that have FULL; this is how
        tracking stops. Tables with an identity C(USING INDEX) or C(NOTHING) are left as they are.
    type: str
    choices: [full, default]
    default: full
  tables:
    description:
      - The tables to change, as C(table) (in C(public)) or C(schema.table); quote names with capitals,
        spaces or dots as PostgreSQL does, for example C('"Sales"."Order Items"').
      - When given, only these tables (and the partitions of the partitioned ones) are changed, and
        O(schemas) only says which schemas the event trigger tracks.
      - A table that does not exist, or is a view, materialized view, foreign table or a table belonging
        to an extension, is an error and nothing is changed.
    type: list
    elements: str
  schemas:
    description:
      - Without O(tables), every ordinary and partitioned table in these schemas is in scope, with all their
        partitions (also those in other schemas). Foreign tables, views, materialized views, temporary tables
        and tables that belong to an extension never are.
      - V(['*']) means every non-system schema (all but C(pg_catalog), C(information_schema), C(pg_toast) and the
        temporary schemas), now and, for the event trigger, in the future.
      - The event trigger tracks these schemas. A run with other O(schemas) updates it.
      - An unknown schema is an error and nothing is changed.
    type: list
    elements: str
    default: [public]
  exclude:
    description:
      - Tables never changed by this run, in the same format as O(tables). Excluding a partitioned table
        excludes its partitions too, at every level (also those in other schemas), as O(tables) and O(schemas)
        include them. An excluded table that does not exist gives a warning.
      - The event trigger does not know this list; tables created later are all tracked.
    type: list
    elements: str
    default: []
  lock_timeout:
    description:
      - The longest time each C(ALTER TABLE) waits for its lock (C(SET LOCAL lock_timeout)), as PostgreSQL
        reads it, for example V(2s) or V(500ms). It bounds how long the application can queue behind the
        module. Zero is refused, as it would wait forever.
      - The transaction that installs, updates or removes the event trigger uses it too.
    type: str
    default: 2s
  retries:
    description:
      - How many times a table whose lock could not be had (or that lost a deadlock) is tried again, after an
        exponential back-off with jitter (0.1 s doubling, at most 5 s). The event trigger's transaction is
        retried in the same way.
    type: int
    default: 5
  track_new_tables:
    description:
      - V(true) installs (or updates) the event trigger; V(false) removes its three objects if they exist.
      - When not given, it is V(true) with O(identity=full) and V(false) with O(identity=default), with one
        exception. O(identity=default) together with O(tables) leaves the event trigger as it is, because the
        other tables are still tracked.
      - V(true) with O(identity=default) is allowed only together with O(tables). New tables then get FULL,
        and the listed tables go back to DEFAULT. Without O(tables), it is an error, because all tables in
        O(schemas) would go back to DEFAULT while new ones would get FULL.
      - Creating or removing an event trigger needs a superuser (on Amazon RDS and Aurora, the master user).
      - With O(tables) and O(identity=full), V(false) still keeps the trigger for the partition trees of the listed
        partitioned tables, see O(track_partitions).
    type: bool
  track_partitions:
    description:
      - With O(tables) and O(identity=full), the event trigger tracks the listed partitioned tables too (its
        RV(tracked_partition_trees)). A table that becomes their partition later, by C(CREATE TABLE ... PARTITION OF)
        or C(ATTACH PARTITION), at any depth and in any schema, gets C(REPLICA IDENTITY FULL), and no other new
        table does. A publication C(FOR TABLE) a partitioned table publishes those new partitions at once (with or
        without C(publish_via_partition_root)), and without a primary key their C(UPDATE) and C(DELETE) fail at
        C(DEFAULT).
      - The trigger is installed for them also with O(track_new_tables=false), and removed once no listed table is
        partitioned (unless O(track_new_tables=true)).
      - V(false) leaves the partition trees out. Set it only where the event trigger cannot be created (it needs a
        superuser), and run this module again after each new partition.
    type: bool
    default: true
    version_added: 0.2.0
  reset_unpublished:
    description:
      - With V(true) (and O(identity=full)), also set C(REPLICA IDENTITY DEFAULT) on every table, in any
        non-system schema, that has C(FULL) but is neither in scope nor included by another publication than
        O(publication) (by name, through its schema, or through a partitioned parent). Tables in O(exclude), and
        in the schemas the event trigger tracks (with O(track_new_tables)), keep their identity; with another
        C(FOR ALL TABLES) publication nothing is reset.
      - This is how tracking of a table stops completely once it has left the publication, so the scope given
        here must be the publication's scope (as the role C(bemi.postgresql.tracking) gives it). The tables of
        O(publication) itself are judged by that scope, which is why check mode predicts the run exactly even
        when the publication is changed by an earlier task of the same play.
      - Worked out from the catalogs on every run, so a run interrupted after the publication changed is
        completed by the next one. Each table gets its own transaction under O(lock_timeout).
      - Leave it V(false) when another logical decoding consumer relies on C(FULL) on tables Bemi does not read.
    type: bool
    default: false
  keep_published:
    description:
      - With V(true) (and O(identity=default)), a table in scope that another publication than O(publication)
        includes (by name, through its schema or a partitioned parent, or C(FOR ALL TABLES)) keeps C(FULL), and
        is listed in RV(tables_kept) with a warning. Another logical replication consumer may need its old rows,
        and without a primary key its C(UPDATE) and C(DELETE) fail under C(DEFAULT). The same rule as
        O(reset_unpublished). The role C(bemi.postgresql.tracking) sets it on teardown.
    type: bool
    default: false
    version_added: 0.2.0
  publication:
    description:
      - The publication whose scope this run gives C(FULL) identity, for O(reset_unpublished); with
        O(keep_published), the one being torn down, whose own tables are not a reason to keep C(FULL).
    type: str
    default: bemi
notes:
  - The transactions that change identities use C(synchronous_commit = off); a change lost in a crash
    is made again by the next run.
  - Installing the event trigger needs a superuser (on Amazon RDS and Aurora, the master user). The trigger
    function is C(SECURITY DEFINER) and owned by that user. Owned by a superuser, it alters any role's new
    tables.
  - Owned by a managed service's admin that is not a superuser (members of C(rds_superuser),
    C(azure_pg_admin), C(cloudsqlsuperuser)), it may alter only the tables of roles that admin is a member of.
    Tables created by other roles (the application's migration role, typically) then stay at C(DEFAULT), with
    only a WARNING in the server log. The module warns when the function's owner cannot alter the tables of
    a role that owns a tracked schema or tables in one, and names the fix (C(GRANT <that role> TO <owner>)).
    It leaves a function that the login user already owns as it is (a re-run changes nothing); a superuser
    login takes over a function that no superuser owns.
seealso:
  - name: REPLICA IDENTITY
    description: ALTER TABLE ... REPLICA IDENTITY in the PostgreSQL documentation.
    link: https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-REPLICA-IDENTITY
  - name: Event triggers
    description: How DDL event triggers work.
    link: https://www.postgresql.org/docs/current/event-triggers.html
"""

EXAMPLES = r"""
- name: Give every table in public REPLICA IDENTITY FULL, now and for tables created later
  bemi.postgresql.bemi_replica_identity:
    login_db: shop

- name: Every non-system schema, except a busy queue table
  bemi.postgresql.bemi_replica_identity:
    login_db: shop
    schemas: ['*']
    exclude:
      - jobs.queue
    lock_timeout: 500ms
    retries: 10

- name: Only two tables, without the event trigger (unless one is partitioned, see track_partitions)
  bemi.postgresql.bemi_replica_identity:
    login_db: shop
    tables:
      - orders
      - '"Sales"."Order Items"'
    track_new_tables: false

- name: One table back to DEFAULT; the event trigger keeps tracking the others and new tables
  bemi.postgresql.bemi_replica_identity:
    login_db: shop
    identity: default
    tables:
      - audit_scratch

- name: FULL on exactly the published tables; unpublished tables lose FULL
  bemi.postgresql.bemi_replica_identity:
    login_db: shop
    tables: [orders, invoices]
    track_new_tables: false
    reset_unpublished: true

- name: Stop tracking (back to DEFAULT, trigger removed)
  bemi.postgresql.bemi_replica_identity:
    login_db: shop
    identity: default
"""

RETURN = r"""
queries:
  description: The statements that were run (or in check mode would be run), without the C(set_config) of each transaction.
  returned: always
  type: list
  elements: str
  sample: ["ALTER TABLE \"public\".\"orders\" REPLICA IDENTITY FULL"]
tables_changed:
  description:
    - The tables whose identity was changed (or in check mode would be), as C(schema.table), those of
      RV(tables_reset) included.
  returned: always
  type: list
  elements: str
  sample: [public.orders, public.order_items]
tables_reset:
  description: The tables set back to C(DEFAULT) by O(reset_unpublished) (or in check mode that would be).
  returned: always
  type: list
  elements: str
  sample: [public.invoices]
tables_kept:
  description: With O(keep_published), the tables in scope that keep C(FULL) because another publication includes them.
  returned: always
  type: list
  elements: str
  sample: [public.audit_log]
  version_added: 0.2.0
tables_failed:
  description: The tables that stayed locked after every retry and were not changed; the task then fails.
  returned: always
  type: list
  elements: str
  sample: [public.busy_queue]
tables_skipped:
  description:
    - The tables that were dropped or renamed while this run went on, so they were not changed. A warning names
      them too. They do not fail the task.
    - A renamed table in scope is changed under its new name when the module reads the catalogs again.
  returned: always
  type: list
  elements: str
  sample: [public.events_2019_01]
event_trigger:
  description:
    - Whether the event trigger is installed after this run, as V(present) or V(absent).
    - When this run left the trigger as it is, this is its current state.
  returned: always
  type: str
  sample: present
tracked_schemas:
  description: The schemas the event trigger tracks after this run (V(['*']) for every non-system schema); empty when absent.
  returned: always
  type: list
  elements: str
  sample: [public]
tracked_partition_trees:
  description:
    - The partitioned tables whose partitions created later the event trigger tracks after this run (see
      O(track_partitions)), as C(schema.table); empty when absent.
  returned: always
  type: list
  elements: str
  sample: [public.events]
  version_added: 0.2.0
diff:
  description:
    - With C(--diff), C(before) and C(after) each hold C(tables) (table -> identity, for the tables that change)
      and C(event_trigger) (its state, tracked schemas and partition trees, tags and whether Bemi's original was
      replaced).
  returned: when diff mode is on
  type: dict
  sample:
    before:
      tables: {public.orders: default}
      event_trigger: {state: absent}
    after:
      tables: {public.orders: full}
      event_trigger: {state: present, ours: true, schemas: [public], partition_trees: [],
                      tags: [ALTER TABLE, CREATE SCHEMA, CREATE TABLE, CREATE TABLE AS, SELECT INTO], enabled: O}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import run_module
from ansible_collections.bemi.postgresql.plugins.module_utils.replica_identity_run import STEP


def main():
    run_module(STEP)


if __name__ == '__main__':
    main()
