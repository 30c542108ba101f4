# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What bemi_wal_level does: its options, their checks, and the run.

Shared by the bemi_wal_level module and by bemi_info, which runs it in check mode (its option
wal_level) so that one read of the server also answers what bemi_wal_level would change.
"""

from __future__ import annotations

import time

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    DatabaseError,
    error_text,
    query,
    query_one,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import DatabaseStep
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


def option_spec():
    """bemi_wal_level's options, without the connection options."""
    return dict(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        min_replication_slots=dict(type='int'),
        min_wal_senders=dict(type='int'),
        max_slot_wal_keep_size=dict(type='str'),
        lower_max_slot_wal_keep_size=dict(type='bool', default=True),
        data_directory=dict(type='path'),
        share=dict(type='int', default=1),
        slots_dropped_before=dict(type='list', elements='str', default=[]),
    )


def prepare(module):
    """(minimums, keep_size) from the options; a contradiction fails here, before connecting."""
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
    return minimums, keep_size


def run(module, conn, prepared):
    minimums, keep_size = prepared
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


# A server-wide step: bemi_info runs it once, on its own connection (not in each database).
STEP = DatabaseStep('wal_level', 'bemi_wal_level', option_spec, [], prepare, run,
                    lambda params: 'Could not change the settings')
