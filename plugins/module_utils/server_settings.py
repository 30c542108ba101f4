# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Server settings as they run now and as the next start will configure them."""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    is_insufficient_privilege,
    DatabaseError,
    query,
)

AUTO_CONF = 'postgresql.auto.conf'

# Old names that PostgreSQL still accepts for wal_level and maps to 'replica'.
WAL_LEVEL_ALIASES = {'archive': 'replica', 'hot_standby': 'replica'}
WAL_LEVEL_ORDER = ('minimal', 'replica', 'logical')

SETTINGS_QUERY = (
    "SELECT name, setting, boot_val, source, pending_restart, sourcefile, sourceline, context "
    "FROM pg_settings WHERE name = ANY(%s)"
)
# Read fresh from the files at each call: no reload is needed to see ALTER SYSTEM.
# Rows are not filtered on ``error``: a value waiting for a restart is reported
# with the error "setting could not be applied", and it is the one we want.
FILE_SETTINGS_QUERY = (
    "SELECT name, setting, sourcefile, sourceline FROM pg_file_settings "
    "WHERE name = ANY(%s) ORDER BY seqno"
)

# Settings or roles whose presence tells which managed service this is, and
# how wal_level = logical is set there instead of ALTER SYSTEM.
MANAGED_SERVICES = (
    ('Amazon RDS / Aurora', ('rds.',), ('rds_superuser',),
     'set rds.logical_replication = 1 in the DB parameter group (Aurora: the DB cluster parameter group), '
     'then reboot the instance'),
    ('Google Cloud SQL', ('cloudsql.',), ('cloudsqlsuperuser',),
     'set the database flag cloudsql.logical_decoding = on (the instance restarts)'),
    ('Azure Database for PostgreSQL', ('azure.',), ('azure_pg_admin',),
     'set the server parameter wal_level = logical in the portal or with the az CLI, then restart the server'),
    ('Supabase', ('supabase.',), ('supabase_admin',),
     'Supabase runs with wal_level = logical already; connect to the primary database, not a pooler or replica'),
    ('Neon', ('neon.',), ('neon_superuser',),
     'enable logical replication in the Neon project settings'),
)


def normalize(name, value):
    if value is None:
        return None
    if name == 'wal_level':
        value = str(value).lower()
        return WAL_LEVEL_ALIASES.get(value, value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def is_auto_conf(sourcefile):
    return bool(sourcefile) and sourcefile.replace('\\', '/').rsplit('/', 1)[-1] == AUTO_CONF


def resolve_configured(file_rows, boot_val, without_auto_conf=False):
    """The value the next start will use: the last valid file entry, else the built-in default.

    ``file_rows`` are pg_file_settings rows for one setting in seqno order.
    With ``without_auto_conf``, entries of postgresql.auto.conf are ignored:
    that is the value left after ALTER SYSTEM RESET.
    Returns (value, sourcefile, sourceline); sourcefile is None for the default.
    """
    last = None
    for row in file_rows:
        if without_auto_conf and is_auto_conf(row['sourcefile']):
            continue
        last = row
    if last is None:
        return boot_val, None, None
    return last['setting'], last['sourcefile'], last['sourceline']


class Setting:
    """One setting: ``running`` now, ``configured`` for the next start (None when unreadable)."""

    def __init__(self, name, running, configured, boot_val, source, pending_restart,
                 file_rows, file_readable, context=None):
        self.name = name
        self.running = normalize(name, running)
        self.configured = normalize(name, configured)
        self.boot_val = boot_val
        self.source = source
        self.pending_restart = bool(pending_restart)
        self.file_rows = file_rows
        self.file_readable = file_readable
        # pg_settings.context: 'postmaster' settings are read only at server start.
        self.context = context

    @property
    def in_auto_conf(self):
        """Whether postgresql.auto.conf sets it; None when the files cannot be read."""
        if not self.file_readable:
            return None
        return any(is_auto_conf(row['sourcefile']) for row in self.file_rows)

    def configured_without_auto_conf(self):
        value, sourcefile, sourceline = resolve_configured(self.file_rows, self.boot_val, without_auto_conf=True)
        return normalize(self.name, value), sourcefile, sourceline

    def configured_source(self):
        if not self.file_readable:
            return None
        value, sourcefile, sourceline = resolve_configured(self.file_rows, self.boot_val)
        return '%s:%s' % (sourcefile, sourceline) if sourcefile else 'default'

    def report(self):
        return {'running': self.running, 'configured': self.configured}


def read_settings(conn, names):
    """Running and configured values of ``names``, in two queries whatever their number.

    pg_file_settings is readable by superusers only (unless granted); without
    it, the configured value is taken to be the running one unless PostgreSQL
    says a restart is pending, in which case it is unknown (None).
    """
    names = list(names)
    running_rows = {row['name']: row for row in query(conn, SETTINGS_QUERY, (names,))}
    file_rows = {name: [] for name in names}
    readable = True
    try:
        for row in query(conn, FILE_SETTINGS_QUERY, (names,)):
            file_rows[row['name']].append(row)
    except DatabaseError as exc:
        if not is_insufficient_privilege(exc):
            raise
        readable = False
    result = {}
    for name in names:
        row = running_rows[name]
        if readable:
            configured = resolve_configured(file_rows[name], row['boot_val'])[0]
        else:
            configured = None if row['pending_restart'] else row['setting']
        result[name] = Setting(name, row['setting'], configured, row['boot_val'], row['source'],
                               row['pending_restart'], file_rows[name], readable, row['context'])
    return result


def detect_managed_service(setting_names, role_names):
    """(service, how to set wal_level there) for a managed service, else None."""
    setting_names = list(setting_names)
    role_names = set(role_names)
    for service, prefixes, roles, fix in MANAGED_SERVICES:
        if role_names.intersection(roles) or any(
                name.startswith(prefix) for name in setting_names for prefix in prefixes):
            return service, fix
    return None


def restart_pending(report, settings, names):
    """True when the next start will use other values than the running ones for any of ``names``.

    ``report`` maps names to ``{running, configured}``; where the configured
    value is unknown, PostgreSQL's own ``pending_restart`` flag decides.
    """
    for name in names:
        configured = report[name]['configured']
        if configured is None:
            if settings[name].pending_restart:
                return True
        elif configured != report[name]['running']:
            return True
    return False
