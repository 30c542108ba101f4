#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_wal_level
short_description: Set C(wal_level = logical) for change data capture
version_added: 0.1.0
description:
  - Ensures that the next start of a PostgreSQL server runs with C(wal_level = logical),
    which logical replication and so Bemi's change data capture need.
  - Compares against the B(configured) value (what the next start will use, read from
    C(pg_file_settings)), not only the running one. A second run before the restart is
    therefore C(changed=false) and still reports RV(restart_required=true).
  - Changes are made with C(ALTER SYSTEM), which writes C(postgresql.auto.conf). A value given in C(postgresql.conf)
    is reported in a warning, never edited.
  - C(pg_reload_conf) is called only when a changed setting takes effect at a reload. C(wal_level),
    C(max_replication_slots) and C(max_wal_senders) take effect only at a restart, so no reload is needed for them.
    A needless reload would also apply any unfinished edit of C(postgresql.conf) or C(pg_hba.conf).
    RV(queries) lists the reload when one is run.
  - The module never restarts PostgreSQL. It reports RV(restart_required); the
    C(bemi.postgresql.tracking) role restarts when that is true.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  state:
    description:
      - V(present) ensures C(wal_level = logical) (and the minimums below).
      - V(absent) runs C(ALTER SYSTEM RESET wal_level), so the value from C(postgresql.conf)
        or the built-in default (V(replica)) applies after the next restart. It changes nothing
        when C(postgresql.auto.conf) does not set C(wal_level).
    type: str
    choices: [present, absent]
    default: present
  min_replication_slots:
    description:
      - Raise C(max_replication_slots) to this value when it is configured lower. Never lowers it.
      - Only with O(state=present).
    type: int
  min_wal_senders:
    description:
      - Raise C(max_wal_senders) to this value when it is configured lower. Never lowers it.
      - Only with O(state=present).
    type: int
  max_slot_wal_keep_size:
    description:
      - The most WAL a replication slot may keep, so that a slot nobody reads (Bemi stopped, removed, or idle)
        can never fill the disk. Past it, PostgreSQL invalidates the slot and keeps running.
      - A size with a unit (V(kB), V(MB), V(GB), V(TB), units of 1024), for example V(50GB), or a number of MB;
        V(unlimited) (or V(-1)) removes the limit.
      - V(auto) sets a budget only when none is configured (the built-in default, unlimited), to half the free space of
        the filesystem that holds C(pg_wal), in whole GB, never below C(min_wal_size). Once a budget exists, V(auto)
        leaves it as it is, so the free space is measured only on the run that sets it, and a dry run and the real
        run that follows it agree. The free space is measured on the host where the module runs, so V(auto) needs
        the module to run on the database server (as the C(bemi.postgresql.tracking) role does).
      - Set with C(ALTER SYSTEM) and applied by a reload; no restart is needed.
      - Only with O(state=present).
    type: str
    version_added: 0.2.0
  lower_max_slot_wal_keep_size:
    description:
      - When false, a configured O(max_slot_wal_keep_size) that is already larger is kept, and so is V(-1) written in
        a configuration file by an administrator; only the built-in default V(-1) and smaller values are replaced.
      - When true, the configured value is made exactly O(max_slot_wal_keep_size).
      - Ignored with O(max_slot_wal_keep_size=auto), which never changes an existing budget.
    type: bool
    default: true
    version_added: 0.2.0
  data_directory:
    description:
      - The server's data directory, where O(max_slot_wal_keep_size=auto) measures the free space of C(pg_wal).
      - Defaults to the server's C(data_directory) setting, which needs a superuser or C(pg_read_all_settings).
    type: path
    version_added: 0.2.0
  share:
    description:
      - With O(max_slot_wal_keep_size=auto), how many PostgreSQL servers keep their C(pg_wal) on the same filesystem.
        Each gets half of the free space divided by this number, so that together they keep at most half of it.
      - The C(bemi.postgresql.tracking) role counts the servers of the play on each filesystem.
    type: int
    default: 1
    version_added: 0.2.0
  slots_dropped_before:
    description:
      - In check mode only, the logical slots that an earlier task of the same run drops (and so, in check mode,
        still exist), such as Bemi's slot dropped by M(bemi.postgresql.bemi_slot) in a teardown. They do not block
        O(state=absent) in the prediction.
      - A real run always reads the slots as they are.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
notes:
  - Needs a superuser, or on PostgreSQL 15 and newer a role granted
    C(ALTER SYSTEM ON PARAMETER wal_level) (and on the other parameters it changes).
  - Fails with the setting to use instead on managed services (Amazon RDS and Aurora, Cloud SQL, Azure),
    where C(ALTER SYSTEM) is not allowed.
  - With C(allow_alter_system = off) (PostgreSQL 17 and newer) it fails with the fix.
  - C(wal_level), C(max_replication_slots) and C(max_wal_senders) only change at a restart.
  - O(state=absent) refuses, changing nothing, while logical replication slots exist, because PostgreSQL would not
    start again with a lower C(wal_level). Drop the slots first.
seealso:
  - name: wal_level
    description: The PostgreSQL documentation of the setting.
    link: https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-WAL-LEVEL
  - name: ALTER SYSTEM
    description: How ALTER SYSTEM and postgresql.auto.conf work.
    link: https://www.postgresql.org/docs/current/sql-altersystem.html
"""

EXAMPLES = r"""
- name: Ensure wal_level = logical (restart later if needed)
  bemi.postgresql.bemi_wal_level:
    login_unix_socket: /var/run/postgresql
  become: true
  become_user: postgres
  register: wal

- name: Tell that a restart is pending
  ansible.builtin.debug:
    msg: "PostgreSQL must be restarted for wal_level={{ wal.wal_level.configured }} to apply"
  when: wal.restart_required

- name: Leave room for Bemi's slot and WAL sender
  bemi.postgresql.bemi_wal_level:
    login_host: db1.example.com
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    min_replication_slots: 10
    min_wal_senders: 10

- name: Stop forcing wal_level (takes effect at the next restart)
  bemi.postgresql.bemi_wal_level:
    state: absent
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run.
  returned: always
  type: list
  elements: str
  sample: ["ALTER SYSTEM SET wal_level = 'logical'"]
restart_required:
  description:
    - Whether the server must be restarted for the configured C(wal_level) (and any minimum
      given) to take effect. True on every run until that restart, whether or not this run changed anything.
  returned: always
  type: bool
  sample: true
wal_level:
  description: The C(wal_level) now running, and the one configured for the next start.
  returned: always
  type: dict
  contains:
    running:
      description: The value in force now.
      type: str
      sample: replica
    configured:
      description: The value the next start will use; null when the configuration files cannot be read by O(login_user).
      type: str
      sample: logical
  sample: {running: replica, configured: logical}
max_replication_slots:
  description: C(max_replication_slots), running and configured.
  returned: always
  type: dict
  sample: {running: 10, configured: 10}
max_wal_senders:
  description: C(max_wal_senders), running and configured.
  returned: always
  type: dict
  sample: {running: 10, configured: 10}
max_slot_wal_keep_size:
  description:
    - C(max_slot_wal_keep_size) in MB, running and configured; V(-1) means unlimited.
    - The module waits (up to a few seconds) for the server to apply its reload, so the running value is the new one;
      a warning says when the reload was still not applied.
  returned: always
  type: dict
  sample: {running: -1, configured: 51200}
  version_added: 0.2.0
idle_replication_slot_timeout:
  description:
    - C(idle_replication_slot_timeout) in seconds (0 means off) on PostgreSQL 18 and newer; null before.
    - When on, it invalidates a slot without a reader for that long, whatever the WAL budget.
  returned: always
  type: int
  sample: 0
  version_added: 0.2.0
"""

import time

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    DatabaseError,
    connection_argument_spec,
    error_text,
    query,
    query_one,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, diff
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import (
    read_settings,
    restart_pending,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.slot import seconds_setting
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_level import (
    KEEP_SIZE,
    LOGICAL_SLOTS_QUERY,
    REPORTED,
    OptionError,
    add_reload,
    alter_system,
    alter_system_check,
    keep_size_mb,
    needs_reload,
    parse_keep_size,
    plan_keep_size,
    plan_settings,
    predicted_configured,
    slots_block_reset,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import (
    auto_keep_size_mb,
    format_mb,
    pg_wal_filesystem,
)

# How long to wait for the server to apply our own pg_reload_conf() (it is asynchronous).
RELOAD_WAIT_SECONDS = 5.0


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        min_replication_slots=dict(type='int'),
        min_wal_senders=dict(type='int'),
        max_slot_wal_keep_size=dict(type='str'),
        lower_max_slot_wal_keep_size=dict(type='bool', default=True),
        data_directory=dict(type='path'),
        share=dict(type='int', default=1),
        slots_dropped_before=dict(type='list', elements='str', default=[]),
    )
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True)
    minimums = {
        'max_replication_slots': module.params['min_replication_slots'],
        'max_wal_senders': module.params['min_wal_senders'],
    }
    minimums = dict((name, value) for name, value in minimums.items() if value is not None)
    if module.params['state'] == 'absent' and minimums:
        module.fail_json(msg='min_replication_slots and min_wal_senders only go with state=present.')
    if any(value < 1 for value in minimums.values()) or module.params['share'] < 1:
        module.fail_json(msg='min_replication_slots, min_wal_senders and share must be at least 1.')
    keep_size = None
    if module.params['max_slot_wal_keep_size'] is not None:
        if module.params['state'] == 'absent':
            module.fail_json(msg='max_slot_wal_keep_size only goes with state=present.')
        try:
            keep_size = parse_keep_size(module.params['max_slot_wal_keep_size'])
        except OptionError as exc:
            module.fail_json(msg=str(exc))

    run_with_connection(module, lambda conn: run(module, conn, minimums, keep_size), 'Could not change the settings')


def run(module, conn, minimums, keep_size):
    managed = ['wal_level'] + sorted(minimums)
    restart_names = list(managed)
    settings = read_settings(conn, REPORTED + (KEEP_SIZE,))
    changes = plan_settings(module.params['state'], minimums, settings)
    if keep_size is not None:
        managed.append(KEEP_SIZE)
        change = plan_keep_size(keep_size, module.params['lower_max_slot_wal_keep_size'], settings[KEEP_SIZE],
                                lambda: measure_auto_budget(module, conn))
        changes += [change] if change else []

    if not settings['wal_level'].file_readable:
        module.warn('%s cannot read pg_file_settings, so the configured values are taken from the running ones '
                    'and changes cannot be predicted exactly. Fix: run as a superuser, or '
                    'GRANT SELECT ON pg_file_settings and EXECUTE ON FUNCTION pg_show_all_file_settings() to this role.'
                    % module.params['login_user'])
    if module.params['state'] == 'absent' and changes:
        slots = [row['name'] for row in query(conn, LOGICAL_SLOTS_QUERY)]
        if module.check_mode:
            slots = [name for name in slots if name not in module.params['slots_dropped_before']]
        refusal = slots_block_reset(predicted_configured(changes, settings)['wal_level'], slots)
        if refusal:
            module.fail_json(msg=refusal, queries=[])
    can_reload = True
    if changes:
        can_reload = refuse_unless_allowed(module, conn, changes, settings)
    warn_about_other_sources(module, changes, settings)

    plan = Plan()
    for name, value in changes:
        plan.add(alter_system(name, value))
    if changes and needs_reload(changes, settings):
        add_reload(plan, module, can_reload)
    applied = plan.apply(conn, module.check_mode)
    try:
        report_result(module, conn, settings, changes, managed, restart_names, applied)
    except DatabaseError as exc:
        # The changes are made: a failure to read them back must still say so.
        module.fail_json(msg='The settings were changed, but reading them back failed: %s' % error_text(exc),
                         changed=applied.changed, queries=applied.queries)


def report_result(module, conn, settings, changes, managed, restart_names, applied):
    before = configured_values(settings)
    if module.check_mode or not settings['wal_level'].file_readable:
        # Without pg_file_settings, what was just written cannot be read back (and no reload flags it).
        after = configured_values(settings, predicted_configured(changes, settings))
    else:
        settings = read_settings(conn, REPORTED + (KEEP_SIZE,))
        after = configured_values(settings)
        reloaded = any(text.startswith('SELECT pg_reload_conf()') for text in applied.queries)
        if reloaded and any(name == KEEP_SIZE for name, dummy in changes):
            settings = wait_for_reload(module, conn, settings, after)
    values = dict((name, {'running': settings[name].running, 'configured': after[name]})
                  for name in REPORTED + (KEEP_SIZE,))
    values[KEEP_SIZE]['running'] = keep_size_mb(values[KEEP_SIZE]['running'])
    pending = restart_pending(values, settings, restart_names)

    result = dict(changed=applied.changed, queries=applied.queries, restart_required=pending,
                  idle_replication_slot_timeout=idle_slot_timeout(conn), **values)
    result_diff = diff(module, shown(before, managed), shown(after, managed))
    if result_diff is not None:
        result['diff'] = result_diff
    module.exit_json(**result)


def shown(values, names):
    """``values`` of ``names`` for the diff; the budget with its unit (38912 alone does not say MB)."""
    return dict((name, format_mb(values[name]) if name == KEEP_SIZE else values[name]) for name in names)


def wait_for_reload(module, conn, settings, after, timeout=RELOAD_WAIT_SECONDS):
    """Settings once this session has applied the reload (bounded): pg_reload_conf() only signals the server."""
    deadline = time.time() + timeout
    while keep_size_mb(settings[KEEP_SIZE].running) != after[KEEP_SIZE]:
        if time.time() >= deadline:
            module.warn('The server had not applied the reload after %d s: max_slot_wal_keep_size still runs as %s, '
                        'and becomes %s when it has.' % (timeout, settings[KEEP_SIZE].running, after[KEEP_SIZE]))
            break
        time.sleep(0.1)
        settings = read_settings(conn, REPORTED + (KEEP_SIZE,))
    return settings


def measure_auto_budget(module, conn):
    """The auto budget in MB, from the free space of pg_wal's filesystem on this host; fails with the fix."""
    row = query_one(conn, "SELECT (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory, "
                          "(SELECT setting::bigint FROM pg_settings WHERE name = 'min_wal_size') AS min_wal_size_mb")
    data_directory = module.params['data_directory'] or row['data_directory']
    filesystem = pg_wal_filesystem(data_directory)
    if filesystem is None:
        module.fail_json(msg='max_slot_wal_keep_size=auto measures the free space of pg_wal, but %s cannot be read '
                             'from here (the module runs on another host, or as a user who may not read it, or %s '
                             'may not read data_directory). Nothing was changed. Fix: run the module on the database '
                             'server as root or the PostgreSQL OS user, set data_directory, or give '
                             'max_slot_wal_keep_size a size such as 50GB.'
                             % ('%s/pg_wal' % data_directory if data_directory else 'data_directory',
                                module.params['login_user']), queries=[])
    return auto_keep_size_mb(filesystem['free_bytes'], row['min_wal_size_mb'], module.params['share'])


def configured_values(settings, configured=None):
    """Configured values by name (``configured`` overrides, for check mode); the WAL budget in MB."""
    values = dict((name, settings[name].configured) for name in settings)
    values.update(configured or {})
    values[KEEP_SIZE] = keep_size_mb(values[KEEP_SIZE])
    return values


def idle_slot_timeout(conn):
    """PostgreSQL 18's idle_replication_slot_timeout in seconds, or None before 18."""
    if not supports(conn.info.server_version, 'idle_replication_slot_timeout'):
        return None
    return seconds_setting(query_one(conn, "SELECT setting, unit FROM pg_settings "
                                           "WHERE name = 'idle_replication_slot_timeout'"))


def refuse_unless_allowed(module, conn, changes, settings):
    """Fail, with the fix, when this login cannot run ALTER SYSTEM here (check mode included).

    Returns whether it may also reload the configuration.
    """
    names = [name for name, dummy in changes]
    if settings['wal_level'].source == 'command line' and 'wal_level' in names:
        module.fail_json(msg='wal_level is given on the postgres command line (-c wal_level=...), which overrides '
                             'postgresql.auto.conf. Fix: change the start options of the service instead.')
    problem, can_reload = alter_system_check(conn, names, module.params['login_user'])
    if problem:
        module.fail_json(msg=problem, queries=[])
    return can_reload


def warn_about_other_sources(module, changes, settings):
    for name, value in changes:
        if value is None:
            continue
        file_value, sourcefile, sourceline = settings[name].configured_without_auto_conf()
        if name == KEEP_SIZE:
            file_value = keep_size_mb(file_value)
        if sourcefile and file_value != value:
            module.warn('%s is set to %s in %s line %s. ALTER SYSTEM overrides it from postgresql.auto.conf; '
                        'this module does not edit that file, so consider making the two agree.'
                        % (name, file_value, sourcefile, sourceline))


if __name__ == '__main__':
    main()
