#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_failover_slots
short_description: Keep logical replication slots across a standby's promotion (PostgreSQL 17+)
version_added: 0.2.0
description:
  - Sets up PostgreSQL 17's failover slots on one server, so that a standby keeps a synchronized copy of
    Bemi's logical slot and Bemi resumes from it after a failover or a switchover, with no change lost.
  - On a B(primary), sets C(synchronized_standby_slots) to the standbys' physical slots, so that a logical
    walsender never sends Bemi a change that those standbys have not received yet.
  - On a B(standby) (C(pg_is_in_recovery())), it sets C(sync_replication_slots = on) and C(hot_standby_feedback = on),
    adds O(dbname) to C(primary_conninfo) when it names no database, and sets C(primary_slot_name) when
    O(primary_slot_name) is given.
  - Every one of these settings takes effect at a reload. Changes are made with C(ALTER SYSTEM), followed by one
    C(pg_reload_conf()); PostgreSQL is never restarted.
  - On a standby, a new C(primary_conninfo) or C(primary_slot_name) restarts its WAL receiver at the reload. The
    module then waits, up to 30 seconds, until the standby streams again, and warns when it does not.
  - The slot itself must have the failover flag as well; M(bemi.postgresql.bemi_slot) sets it with O(bemi.postgresql.bemi_slot#module:failover=true).
  - O(state=absent) resets C(synchronized_standby_slots) (primary) or C(sync_replication_slots) (standby). It leaves
    C(hot_standby_feedback), C(primary_slot_name) and C(primary_conninfo) as they are, since physical replication uses them
    too, and they may have been set before.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  state:
    description:
      - V(present) sets the settings up, V(absent) resets those that exist only for failover slots.
    type: str
    choices: [present, absent]
    default: present
  standby_slots:
    description:
      - On a primary, the physical slots of the standbys that must have received a change before Bemi does, as the exact
        value of C(synchronized_standby_slots).
      - Unset, the physical slots that exist on the primary (in C(pg_replication_slots), temporary ones excepted),
        whether a standby streams from them at the moment or not, since a standby that restarts keeps its slot, and its
        place in the list. A slot leaves the list when it is dropped, or when O(standby_slots) leaves it out.
        Every physical slot counts, a backup tool's (such as C(pg_receivewal)'s) too; name the standbys' slots here
        to leave others out.
      - A slot in the list whose standby is down holds Bemi back until it returns or is taken out of the list
        (M(bemi.postgresql.bemi_info) notes it as V(synchronized_standby_slot_inactive)), and a standby left out may
        be ahead of Bemi's copy of the slot when it is promoted.
      - Ignored on a standby.
    type: list
    elements: str
  dbname:
    description:
      - On a standby, the database that the slot synchronization worker connects to on the primary, added to
        C(primary_conninfo) when it names none. Slots of every database are synchronized through it.
      - A C(primary_conninfo) that already names a database is left alone.
    type: str
    default: postgres
  primary_slot_name:
    description:
      - On a standby, the physical slot on the primary to stream from, set when C(primary_slot_name) differs.
        The slot must exist on the primary (C(pg_create_physical_replication_slot)), or streaming stops.
      - Unset, the standby's C(primary_slot_name) must already be set; an empty one is an error, because slot
        synchronization needs it.
    type: str
notes:
  - Needs PostgreSQL 17 or newer, and a superuser or a role with C(ALTER SYSTEM) privilege on these settings.
  - A C(primary_conninfo) that names no database and holds a password is an error, because at the reload PostgreSQL logs
    the new value whole, password included. Keep the password in the passfile of the server's OS user instead.
    A password never appears in RV(queries), the diff or a message.
  - A standby also needs C(wal_level = logical) to synchronize logical slots;
    M(bemi.postgresql.bemi_wal_level) sets it.
seealso:
  - module: bemi.postgresql.bemi_slot
  - module: bemi.postgresql.bemi_info
  - name: Replication slot synchronization
    description: PostgreSQL's failover slots.
    link: https://www.postgresql.org/docs/current/logicaldecoding-explanation.html#LOGICALDECODING-REPLICATION-SLOTS-SYNCHRONIZATION
"""

EXAMPLES = r"""
- name: On the primary, wait for the standbys' physical slots (every physical slot there)
  bemi.postgresql.bemi_failover_slots:
    login_unix_socket: /var/run/postgresql
  become: true
  become_user: postgres

- name: On the primary, name the standby slots
  bemi.postgresql.bemi_failover_slots:
    standby_slots: [standby_a, standby_b]

- name: On each standby, synchronize the failover slots
  bemi.postgresql.bemi_failover_slots:
    dbname: shop
    primary_slot_name: standby_a

- name: Stop synchronizing (teardown)
  bemi.postgresql.bemi_failover_slots:
    state: absent
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run. A password in C(primary_conninfo) is masked.
  returned: always
  type: list
  elements: str
  sample: ["ALTER SYSTEM SET synchronized_standby_slots = 'standby_a'", "SELECT pg_reload_conf()"]
in_recovery:
  description: Whether the server is a standby, which decides the settings managed.
  returned: always
  type: bool
  sample: false
synchronized_standby_slots:
  description: On a primary, the configured C(synchronized_standby_slots) (after the change); null on a standby.
  returned: always
  type: list
  elements: str
  sample: [standby_a]
standbys_without_slot:
  description:
    - On a primary, the application names of streaming standbys that use no physical slot. They cannot be waited for,
      so a promotion of one of them can lose Bemi's slot. Empty on a standby.
  returned: always
  type: list
  elements: str
  sample: []
standby:
  description:
    - On a standby, the configured settings (after the change); null on a primary.
    - The C(primary_conninfo) itself is never returned, only its C(dbname).
  returned: always
  type: dict
  contains:
    sync_replication_slots:
      description: Whether slot synchronization is on.
      type: bool
    hot_standby_feedback:
      description: Whether the standby reports its oldest snapshot to the primary.
      type: bool
    primary_slot_name:
      description: The physical slot it streams from.
      type: str
    primary_conninfo_dbname:
      description: The database named in C(primary_conninfo).
      type: str
  sample: {sync_replication_slots: true, hot_standby_feedback: true, primary_slot_name: standby_a,
           primary_conninfo_dbname: shop}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    connection_argument_spec,
    query_one,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.failover import (
    PRIMARY_SETTINGS,
    RECEIVER_QUERY,
    RECEIVER_WAIT_SECONDS,
    STANDBY_SETTINGS,
    STANDBYS_QUERY,
    FailoverError,
    plan_primary,
    plan_standby,
    report_primary,
    report_standby,
    restarts_receiver,
    shown,
    wait_for_receiver,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, diff
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import read_settings
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import VersionError, require
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_level import add_reload, alter_system, alter_system_check


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        standby_slots=dict(type='list', elements='str'),
        dbname=dict(type='str', default='postgres'),
        primary_slot_name=dict(type='str'),
    )
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.params['dbname']:
        module.fail_json(msg='dbname must not be empty.')
    if any(not name for name in module.params['standby_slots'] or []):
        module.fail_json(msg='standby_slots must not hold an empty name.')
    run_with_connection(module, lambda conn: run(module, conn), 'Could not change the failover slot settings')


def run(module, conn):
    params = module.params
    try:
        require(conn.info.server_version, 'failover_slots')
    except VersionError as exc:
        module.fail_json(msg='%s Before 17, Bemi\'s slot does not survive a promotion without a cluster manager '
                             'that keeps logical slots (such as Patroni\'s permanent slots).' % exc, queries=[])
    in_recovery = query_one(conn, 'SELECT pg_catalog.pg_is_in_recovery() AS standby')['standby']
    names = STANDBY_SETTINGS if in_recovery else PRIMARY_SETTINGS
    settings = read_settings(conn, names)
    if not settings[names[0]].file_readable:
        module.fail_json(msg='%s cannot read pg_file_settings, so the configured values are unknown. Fix: run as a '
                             'superuser.' % params['login_user'], queries=[])
    without_slot = []
    try:
        if in_recovery:
            changes = plan_standby(params['state'], settings, params['dbname'], params['primary_slot_name'])
        else:
            standbys = query_one(conn, STANDBYS_QUERY)
            without_slot = list(standbys['without_slot'])
            standby_slots = params['standby_slots']
            if standby_slots is None:
                standby_slots = list(standbys['physical_slots'])
            changes = plan_primary(params['state'], settings['synchronized_standby_slots'], standby_slots)
    except FailoverError as exc:
        module.fail_json(msg=str(exc), queries=[])
    if without_slot and params['state'] == 'present':
        module.warn('Streaming standbys use no physical slot (%s): the primary cannot wait for them, so promoting one '
                    'of them can lose changes for Bemi. Fix: give each a slot (primary_slot_name) and run again.'
                    % ', '.join(without_slot))

    plan = Plan()
    if changes:
        problem, can_reload = alter_system_check(conn, [name for name, dummy in changes], params['login_user'])
        if problem:
            module.fail_json(msg=problem, queries=[])
        for name, value in changes:
            plan.add(alter_system(name, value))
        add_reload(plan, module, can_reload)
    # A new conninfo or slot restarts the WAL receiver at the reload: the run ends once the standby streams
    # again, so that replication is back, and a primary's run right after this one counts this standby.
    waits = in_recovery and not module.check_mode and restarts_receiver(changes)
    receiver = query_one(conn, RECEIVER_QUERY) if waits else None
    applied = plan.apply(conn, module.check_mode)
    if waits and not wait_for_receiver(lambda: query_one(conn, RECEIVER_QUERY), (receiver or {}).get('pid')):
        module.warn('This standby does not stream from its primary again within %d s of the reload that applied the '
                    'new primary_conninfo or primary_slot_name. Fix: look in its log for why the WAL receiver cannot '
                    'connect.' % RECEIVER_WAIT_SECONDS)

    before = configured(settings)
    after = dict(before, **dict(
        (name, value if value is not None else settings[name].configured_without_auto_conf()[0])
        for name, value in changes))
    result = dict(changed=applied.changed, queries=applied.queries, in_recovery=in_recovery,
                  standbys_without_slot=without_slot,
                  synchronized_standby_slots=None if in_recovery else report_primary(after[names[0]])[names[0]],
                  standby=report_standby(after) if in_recovery else None)
    result_diff = diff(module, shown_values(before), shown_values(after))
    if result_diff is not None:
        result['diff'] = result_diff
    module.exit_json(**result)


def configured(settings):
    return dict((name, setting.configured) for name, setting in settings.items())


def shown_values(values):
    return dict((name, shown(name, value)) for name, value in sorted(values.items()))


if __name__ == '__main__':
    main()
