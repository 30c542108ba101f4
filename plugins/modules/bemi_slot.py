#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_slot
short_description: Report or drop Bemi's logical replication slot
version_added: 0.2.0
description:
  - Bemi creates its logical replication slot (plugin C(pgoutput)) itself when it first connects. This module
    reports that slot, and drops it when Bemi stops tracking a database, so that no forgotten slot keeps WAL
    until the disk is full.
  - O(state=present) never creates a slot unless O(create=true). It reports the slot in RV(slot), in the shape of
    the C(replication_slots) entries of M(bemi.postgresql.bemi_info), and with O(failover) sets its failover flag
    (PostgreSQL 17 and newer).
  - O(state=absent) drops the slot. An active slot (a walsender streams from it) is refused with an error that
    names the walsender's pid and client address, unless O(terminate=true). Then the module terminates that
    walsender with C(pg_terminate_backend) and drops the slot, retrying while the walsender exits
    (and terminating again if the reader reconnects in between). Without O(terminate), a reader that connects
    between the check and the drop is left streaming; the drop fails, naming its pid, and nothing changes.
  - Only walsenders are ever terminated. A slot held by another kind of process (a session reading it with
    C(pg_logical_slot_get_changes), say) is refused until that process lets it go.
  - Only logical slots are dropped. A physical slot of that name (a standby's) is refused, and so is, on a
    standby, a slot synchronized from the primary (C(synced), PostgreSQL 17 and newer), which the primary manages;
    and dropping it there removes the copy.
  - Only a slot of O(login_db) is dropped. Slot names are server-wide, so a slot of that name in another database
    is left alone with a warning; run the module in that database to drop it.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  name:
    description: The slot's name.
    type: str
    default: bemi
  state:
    description:
      - V(present) reports the slot and never creates it.
      - V(absent) drops it (see O(terminate)).
    type: str
    choices: [present, absent]
    default: present
  terminate:
    description:
      - With O(state=absent), end the walsender that streams from an active slot (C(pg_terminate_backend)), then drop the slot.
      - With O(failover), end it before changing the flag, which PostgreSQL changes only on an idle slot.
        Bemi reconnects and resumes from the slot.
      - When false, an active slot is an error that names its walsender, and nothing changes.
    type: bool
    default: false
  create:
    description:
      - With O(state=present), create the slot (plugin C(pgoutput), in O(login_db)) when it does not exist.
        Bemi normally creates its own slot when it first connects; create it ahead only when told to.
      - Creating a logical slot waits for the transactions running at that moment to finish.
    type: bool
    default: false
    version_added: 0.2.0
  failover:
    description:
      - With O(state=present), set (V(true)) or clear (V(false)) the slot's failover flag, so that standbys with
        C(sync_replication_slots = on) keep a synchronized copy that survives a promotion. Unset leaves it alone.
      - An existing slot is changed with C(ALTER_REPLICATION_SLOT) over a C(replication=database) connection (the
        login needs the C(REPLICATION) attribute and a C(replication) line in C(pg_hba.conf)); with O(create), the slot
        is created with the flag.
      - Needs PostgreSQL 17 or newer.
    type: bool
    version_added: 0.2.0
notes:
  - A slot synchronized to a standby (C(synced)) is managed on the primary; the module refuses to change or drop it
    there, and never terminates the standby's slot synchronization worker.
  - Dropping a slot needs a superuser or a role with the C(REPLICATION) attribute. Terminating another role's
    walsender needs a superuser or membership in C(pg_signal_backend).
  - A dropped slot cannot be brought back. Bemi creates a new one and takes a new snapshot when it reconnects.
seealso:
  - module: bemi.postgresql.bemi_info
  - name: Replication slots
    description: How logical replication slots retain WAL.
    link: https://www.postgresql.org/docs/current/logicaldecoding-explanation.html#LOGICALDECODING-REPLICATION-SLOTS
"""

EXAMPLES = r"""
- name: Report Bemi's slot
  bemi.postgresql.bemi_slot:
    login_db: shop
  register: bemi_slot

- name: Show how much WAL it keeps
  ansible.builtin.debug:
    msg: "{{ bemi_slot.slot.retained_wal_bytes | default('no slot') }}"

- name: Keep Bemi's slot across a promotion (PostgreSQL 17+; standbys need sync_replication_slots)
  bemi.postgresql.bemi_slot:
    login_db: shop
    failover: true

- name: Drop the slot once Bemi no longer tracks this database (fails, naming the walsender, while it is read)
  bemi.postgresql.bemi_slot:
    login_db: shop
    state: absent

- name: Drop it even while a reader streams from it
  bemi.postgresql.bemi_slot:
    login_db: shop
    state: absent
    terminate: true
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run.
  returned: always
  type: list
  elements: str
  sample: ["SELECT pg_terminate_backend(4242)", "SELECT pg_drop_replication_slot('bemi')"]
slot:
  description:
    - The slot in the shape of M(bemi.postgresql.bemi_info)'s C(replication_slots) entries; null when it does not
      exist in O(login_db). With O(state=absent), as it was before the drop; with O(create) or O(failover), as it is
      after the change (in check mode, as predicted, with what only the server knows null).
    - C(inactive_since) and C(invalidation_reason) are null before PostgreSQL 17, C(conflicting) before 16.
  returned: always
  type: dict
  contains:
    name:
      description: Slot name.
      type: str
    type:
      description: V(logical) or V(physical).
      type: str
    database:
      description: Database of a logical slot.
      type: str
    plugin:
      description: Output plugin.
      type: str
    active:
      description: Whether a walsender streams from it.
      type: bool
    active_pid:
      description: Process id of that walsender, or null.
      type: int
    retained_wal_bytes:
      description: WAL kept for this slot; null once its WAL is lost.
      type: int
    wal_status:
      description: C(reserved), C(extended), C(unreserved) or C(lost).
      type: str
    safe_wal_size:
      description: Bytes that can still be written before the slot risks losing WAL; null when unlimited.
      type: int
    inactive_since:
      description: Since when no reader streams from it (UTC, ISO 8601; PostgreSQL 17 and newer).
      type: str
    invalidation_reason:
      description: Why PostgreSQL invalidated it, such as V(wal_removed) (PostgreSQL 17 and newer).
      type: str
    conflicting:
      description: Whether a logical slot was invalidated by a recovery conflict (PostgreSQL 16 and newer).
      type: bool
    failover:
      description: Whether standbys synchronize the slot (PostgreSQL 17 and newer; null before).
      type: bool
    synced:
      description: On a standby, whether the slot is a synchronized copy of the primary's (PostgreSQL 17 and newer).
      type: bool
  sample: {name: bemi, type: logical, database: shop, plugin: pgoutput, active: true, active_pid: 4242,
           retained_wal_bytes: 5120, wal_status: reserved, safe_wal_size: null, inactive_since: null,
           invalidation_reason: null, conflicting: false, failover: true, synced: false}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    connection_argument_spec,
    libpq_params,
    query_one,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import diff, render
from ansible_collections.bemi.postgresql.plugins.module_utils.slot import (
    SlotError,
    drop,
    plan_drop,
    plan_present,
    replication_run,
    report,
    slots_query,
    when_idle,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import VersionError, require, supports


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type='str', default='bemi'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        terminate=dict(type='bool', default=False),
        create=dict(type='bool', default=False),
        failover=dict(type='bool'),
    )
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.params['name']:
        module.fail_json(msg='name must not be empty.')
    if module.params['state'] == 'absent' and (module.params['create'] or module.params['failover'] is not None):
        module.fail_json(msg='create and failover only go with state=present.')
    run_with_connection(module, lambda conn: run(module, conn), 'Could not drop slot %s' % module.params['name'])


def run(module, conn):
    name = module.params['name']
    statement = slots_query(conn.info.server_version, one=True)
    row = query_one(conn, statement, (name,))
    database = conn.info.dbname
    if row is not None and row['type'] == 'logical' and row['database'] != database:
        if module.params['state'] == 'present' and (module.params['create'] or module.params['failover'] is not None):
            module.fail_json(msg='Replication slot %s already exists in database %s, and slot names are server-wide. '
                                 'Fix: run bemi_slot with login_db %s, or choose another name.'
                                 % (name, row['database'], row['database']), queries=[])
        module.warn('Replication slot %s belongs to database %s, not %s, so it is left alone here. '
                    'Run bemi_slot with login_db %s to manage it.' % (name, row['database'], database, row['database']))
        row = None
    if module.params['failover'] is not None:
        try:
            require(conn.info.server_version, 'failover_slots')
        except VersionError as exc:
            module.fail_json(msg='failover: %s' % exc, queries=[])
    before = report(row)
    after = before
    try:
        if module.params['state'] == 'absent':
            queries, after = remove(module, conn, row, statement), None
        else:
            queries = present(module, conn, row, statement)
            if queries:
                after = predicted(module, row, database, conn.info.server_version) if module.check_mode else report(query_one(conn, statement, (name,)))
    except SlotError as exc:
        module.fail_json(msg=str(exc), queries=exc.executed, slot=before)
    result = dict(changed=bool(queries), queries=queries, slot=after if module.params['state'] == 'present' else before)
    result_diff = diff(module, summary(before), summary(after))
    if result_diff is not None:
        result['diff'] = result_diff
    module.exit_json(**result)


def remove(module, conn, row, statement):
    name = module.params['name']
    statements = plan_drop(row, module.params['terminate'])
    if module.check_mode or not statements:
        return [render(conn, item) for item in statements]
    return drop(conn, name, lambda: query_one(conn, statement, (name,)), module.params['terminate'])


def present(module, conn, row, statement):
    """Create the slot (only with create) or change its failover flag; the statements run (or predicted)."""
    params = module.params
    steps = plan_present(row, params['name'], params['create'], params['failover'], params['terminate'])
    if module.check_mode or not steps:
        return [render(conn, item) for dummy, item in steps]
    if steps[-1][0] == 'sql':
        executed = []
        with conn.cursor() as cur:
            cur.execute(steps[-1][1])
        executed.append(render(conn, steps[-1][1]))
        return executed
    alter = steps[-1][1]
    return when_idle(conn, params['name'], lambda: query_one(conn, statement, (params['name'],)),
                     lambda executed: replication_run(conn, libpq_params(params), alter, executed),
                     'change the failover flag of', params['terminate'])


def predicted(module, row, database, server_version):
    """The slot as check mode predicts it (what only the server knows, such as retained WAL, is null)."""
    if row is None:
        return report({'name': module.params['name'], 'type': 'logical', 'database': database, 'plugin': 'pgoutput',
                       'active': False, 'wal_status': 'reserved',
                       'failover': bool(module.params['failover']) if supports(server_version, 'failover_slots') else None})
    return report(dict(row, failover=module.params['failover'], active=False, active_pid=None))


def summary(slot):
    """What a reviewer needs to see in the diff."""
    if slot is None:
        return None
    return dict((key, slot.get(key)) for key in ('name', 'database', 'plugin', 'active', 'active_pid', 'wal_status',
                                                 'failover'))


if __name__ == '__main__':
    main()
