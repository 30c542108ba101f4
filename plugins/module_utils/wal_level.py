# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Planning for bemi_wal_level: which ALTER SYSTEM statements, and who may run them."""

from __future__ import annotations

import re

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import query_one, sql
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import detect_managed_service
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import (
    AUTO,
    BudgetError,
    budget_missing,
    config_value_mb,
)

REPORTED = ('wal_level', 'max_replication_slots', 'max_wal_senders')
WANTED_WAL_LEVEL = 'logical'
# Reload-only: never part of restart_required.
KEEP_SIZE = 'max_slot_wal_keep_size'
# PostgreSQL's memory units; a number without unit is in MB for max_slot_wal_keep_size.
KB_PER_UNIT = {'kb': 1, 'mb': 1024, 'gb': 1024 ** 2, 'tb': 1024 ** 3}


class OptionError(ValueError):
    pass


def parse_keep_size(text):
    """The max_slot_wal_keep_size option: MB in ``50GB``, ``512MB``, ``1024`` (MB), ``unlimited`` or ``-1``; or AUTO."""
    value = str(text).strip()
    if value.lower() == AUTO:
        return AUTO
    if value.lower() in ('unlimited', '-1'):
        return -1
    match = re.match(r'^(\d+)\s*([a-zA-Z]*)$', value)
    unit = (match.group(2).lower() or 'mb') if match else None
    if unit not in KB_PER_UNIT or (int(match.group(1)) * KB_PER_UNIT[unit]) % 1024:
        raise OptionError('max_slot_wal_keep_size must be auto, a whole number of MB with a unit (kB, MB, GB, TB), '
                          'such as 50GB or 512MB, or unlimited; got %r' % (text,))
    return int(match.group(1)) * KB_PER_UNIT[unit] // 1024


def keep_size_mb(value):
    """A configured or running value in MB (None stays None), read as PostgreSQL reads it (``1.5GB`` is 1536)."""
    try:
        return config_value_mb(value)
    except BudgetError:
        # PostgreSQL itself rejects such a line (pg_file_settings.error): it does not count.
        return None


def configured_source(setting):
    """'default' when nothing configures ``setting``; the files tell, else pg_settings.source."""
    source = setting.configured_source()
    return source if source is not None else ('default' if setting.source == 'default' else setting.source)


def plan_keep_size(wanted, lower, setting, measure=None):
    """(KEEP_SIZE, MB) to set, or None.

    ``wanted`` AUTO sets a budget only when none exists, to ``measure()`` MB
    (called only then: free space changes from moment to moment, so it must
    not be worked out again on every run). With ``lower`` false, a larger
    configured value is kept, and so is -1 (unlimited) written in a
    configuration file by an administrator; the built-in default -1 is replaced.
    """
    configured = keep_size_mb(setting.configured)
    if wanted == AUTO:
        return (KEEP_SIZE, measure()) if budget_missing(configured, configured_source(setting)) else None
    if configured == wanted:
        return None
    if not lower and configured is not None:
        explicit_unlimited = configured == -1 and configured_source(setting) != 'default'
        if configured > wanted or explicit_unlimited:
            return None
    return (KEEP_SIZE, wanted)


def plan_settings(state, minimums, settings):
    """[(name, value)] to ALTER SYSTEM SET, or (name, None) to RESET, in a stable order."""
    wal_level = settings['wal_level']
    if state == 'absent':
        # Unknown (files unreadable) counts as set: RESET is harmless when it is not.
        return [('wal_level', None)] if wal_level.in_auto_conf is not False else []
    changes = []
    if wal_level.configured != WANTED_WAL_LEVEL:
        changes.append(('wal_level', WANTED_WAL_LEVEL))
    for name in sorted(minimums):
        configured = settings[name].configured
        if configured is None or configured < minimums[name]:
            changes.append((name, minimums[name]))
    return changes


# pg_settings contexts whose settings only a restart applies: after ALTER SYSTEM of one of
# them, a reload would change nothing of ours, but would apply whatever half-finished edit
# postgresql.conf or pg_hba.conf holds.
RESTART_ONLY_CONTEXTS = ('postmaster',)


def needs_reload(changes, settings):
    """Whether pg_reload_conf() must follow the ALTER SYSTEMs: only when a changed setting takes effect at a reload.

    A setting whose context is unknown counts as reload-level.
    """
    return any(settings[name].context not in RESTART_ONLY_CONTEXTS for name, dummy in changes)


LOGICAL_SLOTS_QUERY = "SELECT slot_name::text AS name FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1"


def slots_block_reset(wal_level_after, slot_names):
    """The refusal when a lower wal_level would stop the server from starting, else None.

    PostgreSQL refuses to start below wal_level = logical while a logical slot exists.
    """
    if wal_level_after == WANTED_WAL_LEVEL or not slot_names:
        return None
    return ('Refusing to reset wal_level to %s: logical replication slots exist (%s), and PostgreSQL refuses to '
            'start with wal_level below logical while they do. Fix: drop them first '
            "(SELECT pg_drop_replication_slot('<name>') in each slot's database), then run again."
            % (wal_level_after, ', '.join(slot_names)))


def predicted_configured(changes, settings):
    """The configured values once ``changes`` are made, for check mode."""
    after = dict((name, settings[name].configured) for name in settings)
    for name, value in changes:
        after[name] = settings[name].configured_without_auto_conf()[0] if value is None else value
    return after


def privileges_query(server_version, names):
    """(statement, args): one query for everything that decides whether ALTER SYSTEM may run."""
    if supports(server_version, 'parameter_privileges'):
        privilege = "SELECT bool_and(has_parameter_privilege(n, 'ALTER SYSTEM')) FROM unnest(%s::text[]) AS n"
        args = (list(names),)
    else:
        privilege, args = 'SELECT false', ()
    statement = (
        "SELECT r.rolsuper AS superuser, "
        "(" + privilege + ") AS alter_system_granted, "
        "current_setting('allow_alter_system', true) AS allow_alter_system, "
        "has_function_privilege('pg_reload_conf()', 'EXECUTE') AS can_reload, "
        "(SELECT array_agg(name::text) FROM pg_settings "
        " WHERE name ~ '^(rds|cloudsql|azure|supabase|neon)[.]') AS provider_settings, "
        "(SELECT array_agg(rolname::text) FROM pg_roles WHERE rolname IN "
        " ('rds_superuser', 'cloudsqlsuperuser', 'azure_pg_admin', 'supabase_admin', 'neon_superuser')) "
        " AS provider_roles "
        "FROM pg_roles r WHERE r.rolname = current_user"
    )
    return statement, args


def alter_privilege_problem(facts, names, login_user, managed_service):
    """A sentence with the fix when ALTER SYSTEM cannot succeed for this login, else None."""
    wanted = ', '.join(names)
    if managed_service and not facts['superuser']:
        service, fix = managed_service
        return ('This looks like %s, where ALTER SYSTEM is not allowed, so %s cannot be changed here. Fix: %s.'
                % (service, wanted, fix))
    if facts['allow_alter_system'] == 'off':
        return ('ALTER SYSTEM is disabled on this server (allow_alter_system = off). Fix: set %s in postgresql.conf '
                '(or turn allow_alter_system on there), reload, and restart PostgreSQL.' % wanted)
    if not facts['superuser'] and not facts['alter_system_granted']:
        return ('Role %s may not change %s: it is not a superuser and has no ALTER SYSTEM privilege on it. '
                'Fix: run as a superuser, or on PostgreSQL 15 and newer run '
                '"GRANT ALTER SYSTEM ON PARAMETER %s TO %s" as a superuser.'
                % (login_user, wanted, wanted, login_user))
    return None


def alter_system_check(conn, names, login_user):
    """(the refusal with its fix, or None; whether this login may also reload) for ALTER SYSTEM of ``names``."""
    statement, args = privileges_query(conn.info.server_version, names)
    facts = query_one(conn, statement, args)
    service = detect_managed_service(facts['provider_settings'] or [], facts['provider_roles'] or [])
    return alter_privilege_problem(facts, names, login_user, service), facts['can_reload']


def alter_system(name, value):
    """ALTER SYSTEM SET ``name`` to ``value``, or RESET it for None. ``name`` is one of our own constants."""
    if value is None:
        return sql.SQL('ALTER SYSTEM RESET {}').format(sql.SQL(name))
    return sql.SQL('ALTER SYSTEM SET {} = {}').format(sql.SQL(name), sql.Literal(value))


def add_reload(plan, module, can_reload):
    """pg_reload_conf() at the end of ``plan``, or a warning that the next reload applies the settings."""
    if can_reload:
        plan.add(sql.SQL('SELECT pg_reload_conf()'))
    else:
        module.warn('%s may not run pg_reload_conf(), so the new settings take effect at the next reload.'
                    % module.params['login_user'])
