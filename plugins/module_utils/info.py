# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Readiness report for bemi_info: gather facts in a fixed number of catalog reads, then judge them.

``gather(conn, options)`` reads everything with a constant number of queries,
whatever the number of tables. ``assess(facts, options)`` is pure: small checks,
one concern each (CHECKS), turn the facts into ``findings`` with stable codes
(module_utils/findings.py), from which ``problems``, ``notes`` and ``ready``
derive; every rule is unit-tested with hand-made fact dicts.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    is_insufficient_privilege,
    DatabaseError,
    query,
    query_one,
)
from ansible_collections.bemi.postgresql.plugins.module_utils import event_trigger
from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import SYSTEM_SCHEMA_PARAMS, USER_SCHEMA_CONDITION, user_schema_names
from ansible_collections.bemi.postgresql.plugins.module_utils.findings import finding, summarize
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table, quote_ident
from ansible_collections.bemi.postgresql.plugins.module_utils.publication import (
    OPERATIONS,
    listed_tables_sql,
    split_listed,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import read_settings, restart_pending
from ansible_collections.bemi.postgresql.plugins.module_utils import slot as slot_utils
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import MB, pg_wal_filesystem

SETTINGS = ('wal_level', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size')
# Settings whose running and configured values are reported; a difference means a restart is pending.
RESTART_SETTINGS = ('wal_level', 'max_replication_slots', 'max_wal_senders')


# Under Patroni, the fix for a setting it owns.
PATRONI_SETTING_FIX = ("set wal_level: logical in Patroni's dynamic configuration (patronictl edit-config, or "
                       "bemi.postgresql.tracking, which sends PATCH /config), then restart the members through Patroni "
                       "(patronictl restart --pending); ALTER SYSTEM has no effect there.")

# How many table names a problem sentence spells out; the full lists are in the report.
MAX_NAMED = 10

SIZE_UNITS = {'': 1, 'b': 1, 'kb': 1024, 'mb': 1024 ** 2, 'gb': 1024 ** 3, 'tb': 1024 ** 4}

# data_directory, config_file and hba_file are hidden from pg_settings unless the
# login is a superuser or a member of pg_read_all_settings: then they read null.
SERVER_QUERY = (
    "SELECT current_setting('server_version') AS server_version, "
    "current_setting('server_version_num')::int AS server_version_num, "
    "current_database() AS database, current_user AS login_user, "
    "pg_is_in_recovery() AS in_recovery, "
    "(SELECT count(*) FROM pg_replication_slots)::int AS slots_in_use, "
    "(SELECT count(*) FROM pg_stat_replication)::int AS wal_senders_in_use, "
    + slot_utils.STREAMING_STANDBYS + " AS streaming_standbys, "
    "(SELECT coalesce(array_agg(name::text ORDER BY name), '{}') FROM pg_settings WHERE pending_restart) "
    "AS pending_restart, "
    "(SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory, "
    "(SELECT setting FROM pg_settings WHERE name = 'config_file') AS config_file, "
    "(SELECT setting FROM pg_settings WHERE name = 'hba_file') AS hba_file, "
    "current_setting('cluster_name') AS cluster_name, "
    "current_setting('listen_addresses') AS listen_addresses, "
    # Whether the server offers SSL, and when it last read its configuration files (a pg_hba.conf
    # written after that still waits for a reload).
    "current_setting('ssl') AS ssl, extract(epoch FROM pg_conf_load_time())::float8 AS conf_load_time, "
    "(SELECT setting::bigint FROM pg_settings WHERE name = 'min_wal_size') AS min_wal_size_mb, "
    # Patroni's own sessions (heartbeat, REST API) name themselves; other roles see application_name too.
    "EXISTS (SELECT 1 FROM pg_stat_activity WHERE starts_with(application_name, 'Patroni')) AS patroni, "
    + user_schema_names(quoted=True) + " AS user_schemas"
)


def publication_query(server_version):
    """One row for the publication, with its explicit tables and (15+) schemas, or none."""
    if supports(server_version, 'publication_schemas'):
        schemas = ("(SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}') "
                   "FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid "
                   "WHERE pn.pnpubid = p.oid)")
    else:
        schemas = "'{}'::text[]"
    return (
        "SELECT p.pubname::text AS name, p.puballtables AS all_tables, p.pubinsert, p.pubupdate, p.pubdelete, "
        "p.pubtruncate, p.pubviaroot AS publish_via_partition_root, "
        + listed_tables_sql(server_version) + " AS tables, "
        + schemas + " AS schemas "
        "FROM pg_publication p WHERE p.pubname = %s"
    )


# Which tables are tracked: those of the tracked schemas or, in list mode (the tables option),
# the listed tables and their partitions at every level (the column keeps its name, in_schemas).
_IN_SCOPE = ("(CASE WHEN %(list_mode)s THEN c.oid IN (SELECT oid FROM listed_tree) "
             "ELSE n.nspname = ANY(%(schemas)s) OR (%(all_schemas)s AND " + USER_SCHEMA_CONDITION + ") END)")

# Published relations (pg_publication_tables resolves ALL TABLES, schemas and
# partition roots), expanded to their partitions, plus every ordinary or
# partitioned table in scope (_IN_SCOPE): one row per relation to judge.
TABLES_QUERY = (
    "WITH pub AS ("
    " SELECT c.oid FROM pg_publication_tables pt"
    " JOIN pg_namespace n ON n.nspname = pt.schemaname"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
    " WHERE pt.pubname = %(publication)s), "
    "published AS (SELECT oid FROM pub UNION SELECT t.relid FROM pub, pg_partition_tree(pub.oid) t), "
    "listed AS (SELECT c.oid FROM json_array_elements(%(listed)s::json) l(pair) "
    " JOIN pg_namespace n ON n.nspname = l.pair->>0 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = l.pair->>1), "
    "listed_tree AS (SELECT oid FROM listed UNION SELECT t.relid FROM listed, pg_partition_tree(listed.oid) t), "
    "role AS (SELECT oid FROM pg_roles WHERE rolname = %(role)s), "
    "trigger_owner AS (SELECT f.proowner AS oid FROM pg_event_trigger e JOIN pg_proc f ON f.oid = e.evtfoid "
    " WHERE e.evtname = %(trigger)s) "
    "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind, "
    "c.relreplident::text AS identity, c.relpersistence = 'u' AS unlogged, "
    "pg_get_userbyid(c.relowner)::text AS owner, "
    # The trigger's function is SECURITY DEFINER: its owner must be able to ALTER the table.
    "pg_has_role((SELECT oid FROM trigger_owner), c.relowner, 'USAGE') AS trigger_owner_can_alter, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_primary_key, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_identity_index, "
    "c.oid IN (SELECT oid FROM published) AS published, "
    + _IN_SCOPE + " AS in_schemas, "
    "CASE WHEN c.oid IN (SELECT oid FROM published) THEN "
    " has_table_privilege((SELECT oid FROM role), c.oid, 'SELECT') END AS role_can_select "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    " AND d.objid = c.oid AND d.deptype = 'e') "
    "AND (c.oid IN (SELECT oid FROM published) OR " + _IN_SCOPE + ") "
    "ORDER BY 1, 2"
)

SCHEMAS_QUERY = "SELECT nspname::text AS name FROM pg_namespace WHERE nspname = ANY(%s)"

# List mode: each listed table as it is (kind null when it does not exist as a table), with the
# partitioned tables it belongs to, itself included (for the event trigger's partition trees), and
# the schema of its partition root (the trigger's schemas cover a partition by its root).
LISTED_QUERY = (
    "SELECT l.pair->>0 AS schema, l.pair->>1 AS name, c.relkind::text AS kind, "
    "(SELECT coalesce(json_agg(json_build_array(an.nspname, ac.relname)), '[]') "
    " FROM pg_partition_ancestors(c.oid) a JOIN pg_class ac ON ac.oid = a.relid "
    " JOIN pg_namespace an ON an.oid = ac.relnamespace) AS ancestors, "
    "(SELECT rn.nspname::text FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace "
    " WHERE r.oid = coalesce(pg_partition_root(c.oid), c.oid)) AS root_schema "
    "FROM json_array_elements(%(listed)s::json) WITH ORDINALITY l(pair, i) "
    "LEFT JOIN pg_namespace n ON n.nspname = l.pair->>0 "
    "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = l.pair->>1 AND c.relkind IN ('r', 'p') "
    "ORDER BY l.i"
)

EVENT_TRIGGER_QUERY = (
    "SELECT e.evtname::text AS name, e.evtenabled::text AS enabled, e.evtevent::text AS event, "
    "coalesce(e.evttags, '{}')::text[] AS tags, fn.nspname::text AS function_schema, "
    "f.proname::text AS function_name, f.prosrc AS source, "
    "pg_get_userbyid(f.proowner)::text AS owner, "
    "(SELECT o.rolsuper FROM pg_roles o WHERE o.oid = f.proowner) AS owner_super "
    "FROM pg_event_trigger e JOIN pg_proc f ON f.oid = e.evtfoid "
    "JOIN pg_namespace fn ON fn.oid = f.pronamespace "
    "WHERE e.evtname = %s"
)

# pg_hba.conf as the server has loaded it (superusers only, unless granted); lines with errors never match.
HBA_QUERY = ("SELECT type, database, user_name, address, netmask, auth_method FROM pg_hba_file_rules "
             "WHERE error IS NULL ORDER BY line_number")

ROLE_QUERY = (
    "SELECT r.rolname::text AS name, r.rolcanlogin AS login, r.rolreplication AS replication, "
    "r.rolsuper AS superuser, r.rolinherit AS inherit, r.rolbypassrls AS bypassrls, "
    "r.rolvaliduntil::text AS valid_until, coalesce(r.rolvaliduntil < now(), false) AS expired, "
    "has_database_privilege(r.oid, current_database(), 'CONNECT') AS can_connect, "
    "EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' "
    " AND pg_has_role(r.oid, g.oid, 'MEMBER')) AS rds_replication "
    "FROM pg_roles r WHERE r.rolname = %s"
)


class OptionError(ValueError):
    pass


def parse_size(text):
    """Bytes in a size such as ``512MB``, ``1GB``, ``64kB`` or ``1048576`` (units of 1024, as PostgreSQL's)."""
    match = re.match(r'^\s*(\d+)\s*([a-zA-Z]*)\s*$', str(text))
    if not match or match.group(2).lower() not in SIZE_UNITS:
        raise OptionError('max_retained_wal must be a size such as 512MB or 1GB (units B, kB, MB, GB, TB); got %r'
                          % (text,))
    return int(match.group(1)) * SIZE_UNITS[match.group(2).lower()]


def format_size(size):
    """``1610612736`` -> ``1.5 GB``: for sentences only; the report keeps bytes."""
    for unit, factor in (('TB', 1024 ** 4), ('GB', 1024 ** 3), ('MB', 1024 ** 2), ('kB', 1024)):
        if size >= factor:
            return ('%.1f' % (float(size) / factor)).rstrip('0').rstrip('.') + ' ' + unit
    return '%d bytes' % size


def parse_tracked_schemas(source):
    """The tracked schemas written in the trigger function's source, sorted, or None."""
    schemas = event_trigger.parse_schemas_line(source)
    return None if schemas is None else sorted(schemas)


# -- reading ----------------------------------------------------------------

def guarded(conn, notes, login_user, what, statement, args=None):
    """Rows of a catalog read, or None (with a note) when this login may not read it."""
    try:
        return query(conn, statement, args)
    except DatabaseError as exc:
        if not is_insufficient_privilege(exc):
            raise
        notes.append(finding('fact_unreadable', what, '%s: unknown, because %s may not read it (%s).'
                             % (what, login_user, str(exc).strip().splitlines()[0]),
                             'run bemi_info as a superuser or a member of pg_monitor.'))
        return None


def gather(conn, options):
    """All facts ``assess`` needs, in a fixed number of queries (never one per table)."""
    notes = []
    server = query_one(conn, SERVER_QUERY, SYSTEM_SCHEMA_PARAMS)
    login = server['login_user']
    settings = read_settings(conn, SETTINGS)
    facts = {
        'server_version': server['server_version'],
        'server_version_num': server['server_version_num'],
        'database': server['database'],
        'login_user': server['login_user'],
        'in_recovery': server['in_recovery'],
        'settings': dict((name, settings[name].report()) for name in SETTINGS),
        'settings_readable': settings['wal_level'].file_readable,
        'pending_restart': list(server['pending_restart'] or []),
        'slots_in_use': server['slots_in_use'],
        'wal_senders_in_use': server['wal_senders_in_use'],
        'notes': notes,
        'files': dict((key, server[key]) for key in ('data_directory', 'config_file', 'hba_file')),
        'cluster_name': server['cluster_name'],
        'min_wal_size_mb': server['min_wal_size_mb'],
        'streaming_standbys': server['streaming_standbys'],
        'patroni': server['patroni'],
        'user_schemas': list(server['user_schemas'] or []),
        # Measured on the host bemi_info runs on: the server's own when it runs there, as in the tracking role.
        'pg_wal': pg_wal_filesystem(server['data_directory']),
        'ssl': server['ssl'] == 'on',
        'conf_load_time': server['conf_load_time'],
    }
    facts['restart_pending'] = restart_pending(facts['settings'], settings, RESTART_SETTINGS)

    facts['replication_slots'] = guarded(conn, notes, login, 'Replication slots',
                                         slot_utils.slots_query(server['server_version_num']))
    facts['slot_health'] = slot_utils.read_health(lambda statement, args: query(conn, statement, args),
                                                  server, options.get('sample_seconds', 0))

    rows = guarded(conn, notes, login, 'Publication %s' % options['publication'],
                   publication_query(server['server_version_num']), (options['publication'],))
    facts['publication'] = None if rows is None else (publication_report(rows[0]) if rows else False)

    listed = options.get('tables')
    # List mode judges the listed tables only: schemas is not used.
    schemas = [] if listed else [name for name in options['schemas'] if name != '*']
    all_schemas = not listed and '*' in options['schemas']
    table_args = {'publication': options['publication'], 'role': options['role'], 'schemas': schemas,
                  'all_schemas': all_schemas, 'trigger': event_trigger.TRIGGER, 'list_mode': bool(listed),
                  'listed': json.dumps([list(pair) for pair in listed or []])}
    table_args.update(SYSTEM_SCHEMA_PARAMS)
    facts['tables'] = guarded(conn, notes, login, 'Tables', TABLES_QUERY, table_args)
    facts['listed'] = query(conn, LISTED_QUERY, table_args) if listed else None
    existing = query(conn, SCHEMAS_QUERY, (schemas,)) if schemas else []
    facts['missing_schemas'] = sorted(set(schemas) - set(row['name'] for row in existing))

    rows = guarded(conn, notes, login, 'Event trigger %s' % event_trigger.TRIGGER, EVENT_TRIGGER_QUERY,
                   (event_trigger.TRIGGER,))
    facts['event_trigger'] = None if rows is None else (rows[0] if rows else False)

    facts['listen_addresses'] = server['listen_addresses']
    facts['hba_rules'] = guarded(conn, notes, login, 'pg_hba.conf rules', HBA_QUERY)

    rows = guarded(conn, notes, login, 'Role %s' % options['role'], ROLE_QUERY, (options['role'],))
    facts['role'] = None if rows is None else (rows[0] if rows else False)
    return facts


def publication_report(row):
    """The shape bemi_publication returns."""
    operations = [op for op in OPERATIONS if row['pub' + op]]
    tables, row_filters, column_lists = split_listed(row['tables'])
    return {
        'name': row['name'],
        'all_tables': row['all_tables'],
        'tables': sorted(display_table(schema, table) for schema, table in tables),
        'schemas': sorted(row['schemas'] or []),
        'operations': operations,
        'publish_via_partition_root': row['publish_via_partition_root'],
        'row_filters': dict((display_table(*pair), text) for pair, text in row_filters.items()),
        'column_lists': dict((display_table(*pair), columns) for pair, columns in column_lists.items()),
    }


# -- judging (pure) ---------------------------------------------------------
#
# Each check takes (facts, options, report), returns a list of findings and
# may add its part of the report. ``facts`` come from ``gather`` (or a test);
# a fact that could not be read is None: reported as unknown, never a problem.

def name_list(names):
    names = list(names)
    shown = ', '.join(names[:MAX_NAMED])
    if len(names) > MAX_NAMED:
        shown += ' and %d more' % (len(names) - MAX_NAMED)
    return shown


def tables_phrase(names):
    return ('table %s' if len(names) == 1 else 'tables %s') % name_list(names)


def quote_literal(text):
    return "'%s'" % text.replace("'", "''")


def drop_slot_sql(name):
    return 'SELECT pg_drop_replication_slot(%s)' % quote_literal(name)


def settings_report(facts):
    settings = facts['settings']

    def with_use(name, in_use):
        return {'running': settings[name]['running'], 'configured': settings[name]['configured'], 'in_use': in_use}

    return {
        'server_version': facts['server_version'],
        'wal_level': dict(settings['wal_level']),
        'restart_required': bool(facts['restart_pending'] or facts['pending_restart']),
        'max_replication_slots': with_use('max_replication_slots', facts['slots_in_use']),
        'max_wal_senders': with_use('max_wal_senders', facts['wal_senders_in_use']),
        'max_slot_wal_keep_size': settings['max_slot_wal_keep_size']['running'],
    }


def check_wal_level(facts, options, report):
    wal_level = facts['settings']['wal_level']
    running, configured = wal_level['running'], wal_level['configured']
    if running != 'logical':
        if configured == 'logical':
            return [finding('wal_level_restart_pending', 'wal_level',
                            'wal_level is configured as logical but the server still runs with %s.' % running,
                            'restart PostgreSQL.')]
        fix = (PATRONI_SETTING_FIX if facts.get('patroni') else
               'ALTER SYSTEM SET wal_level = logical (bemi.postgresql.bemi_wal_level), then restart PostgreSQL.')
        return [finding('wal_level_not_logical', 'wal_level', 'wal_level is %s, but Bemi needs logical.' % running, fix)]
    if configured is None or configured == 'logical':
        return []
    # Running logical, configured lower: the next start loses logical decoding, and with a
    # logical slot it fails outright. A restart is the wrong advice; putting logical back is the fix.
    logical_slots = sorted(s['name'] for s in facts['replication_slots'] or [] if s['type'] == 'logical')
    if logical_slots:
        consequence = ('the next start of PostgreSQL fails (FATAL: logical replication slot "%s" exists, but '
                       'wal_level < logical) and the server stays down' % logical_slots[0])
    else:
        consequence = 'after the next restart Bemi can no longer decode changes'
    return [finding('wal_level_configured_not_logical', 'wal_level',
                    'wal_level runs as logical but is configured as %s for the next start, so %s.'
                    % (configured, consequence),
                    'ALTER SYSTEM SET wal_level = logical (bemi.postgresql.bemi_wal_level) and reload '
                    '(SELECT pg_reload_conf()). Do not restart PostgreSQL before that.')]


def check_restart(facts, options, report):
    """Pending restarts other than wal_level's (check_wal_level covers those)."""
    settings = facts['settings']
    ours = [name for name in RESTART_SETTINGS if name != 'wal_level']
    differing = [name for name in ours
                 if settings[name]['configured'] is not None and settings[name]['configured'] != settings[name]['running']]
    described = ['%s (running %s, configured %s)' % (name, settings[name]['running'], settings[name]['configured'])
                 for name in differing]
    # PostgreSQL's own flag stays set after a change is reverted, so it decides only where the files are unreadable.
    described += [name for name in facts['pending_restart'] if name in ours and settings[name]['configured'] is None]
    unrelated = [name for name in facts['pending_restart'] if name not in RESTART_SETTINGS]
    found = []
    if described:
        found.append(finding('restart_pending', ', '.join(name.split(' ')[0] for name in described),
                             'A restart of PostgreSQL is pending for %s, so the new values are not in force yet.'
                             % ', '.join(described), 'restart PostgreSQL.'))
    if unrelated:
        found.append(finding('restart_pending_unrelated', ', '.join(unrelated),
                             'A restart of PostgreSQL is pending for %s, which Bemi does not depend on.'
                             % ', '.join(unrelated), 'restart PostgreSQL when convenient.'))
    return found


def check_file_settings(facts, options, report):
    if facts['settings_readable']:
        return []
    return [finding('file_settings_unreadable', 'pg_file_settings',
                    '%s cannot read pg_file_settings, so configured values come from pg_settings and are null '
                    'where a restart is pending.' % facts['login_user'],
                    'run as a superuser, or GRANT EXECUTE ON FUNCTION pg_show_all_file_settings() to it.')]


def check_slots(facts, options, report):
    slots = facts['replication_slots']
    if slots is None:
        report['replication_slots'] = None
        return []
    report['replication_slots'] = [slot_utils.report(slot) for slot in sorted(slots, key=lambda s: s['name'])]
    found = []
    for slot in report['replication_slots']:
        found.extend(bemi_slot_findings(slot, options['slot'], facts['database']))
        found.extend(slot_wal_findings(slot, options, report['max_slot_wal_keep_size'], budget_fix(facts)))
    # On a Patroni replica, check_cluster_manager judges a missing slot.
    if not any(slot['name'] == options['slot'] for slot in slots) and not (facts.get('patroni') and facts['in_recovery']):
        found.append(finding('slot_missing', options['slot'], 'Replication slot %s does not exist yet. Bemi creates '
                             'it when it first connects.' % options['slot']))
    return found


def bemi_slot_findings(slot, slot_name, database):
    """What makes Bemi's own slot unusable by Bemi."""
    if slot['name'] != slot_name:
        return []
    found = []
    name = quote_ident(slot['name'])
    if slot['database'] is not None and slot['database'] != database:
        found.append(finding('slot_wrong_database', slot['name'],
                             'Replication slot %s belongs to database %s, not %s, and slot names are server-wide.'
                             % (name, slot['database'], database),
                             'if Bemi no longer reads %s, drop the slot there (%s); otherwise give this database\'s '
                             'connection another slot name.' % (slot['database'], drop_slot_sql(slot['name']))))
    if slot['plugin'] != 'pgoutput':
        found.append(finding('slot_plugin_not_pgoutput', slot['name'],
                             'Replication slot %s is a %s slot%s, but Bemi streams with pgoutput, so it cannot use it.'
                             % (name, slot['type'], ' of plugin %s' % slot['plugin'] if slot['plugin'] else ''),
                             'if nothing else reads it, drop it (%s) and let Bemi create it again.'
                             % drop_slot_sql(slot['name'])))
    return found


def slot_wal_findings(slot, options, keep_size, limit):
    """WAL a slot keeps: lost, too much while inactive, or no limit while inactive."""
    found = []
    name = quote_ident(slot['name'])
    retained = slot['retained_wal_bytes']
    threshold = options['max_retained_wal']
    ours = slot['name'] == options['slot']
    # Bemi's own slot is judged by check_slot_health (its fix: Bemi must re-sync).
    if slot['wal_status'] == 'lost' and not ours:
        found.append(finding('slot_wal_lost', slot['name'], 'Replication slot %s has lost WAL it needed (wal_status '
                             'lost), so its reader cannot resume.' % name,
                             'drop it (%s) and let Bemi create it again (Bemi re-syncs).' % drop_slot_sql(slot['name'])))
    if slot['active']:
        return found
    too_big = retained is not None and retained > threshold and (ours or slot['type'] == 'logical')
    if too_big:
        found.append(finding('slot_inactive_retaining_wal', slot['name'],
                             'Replication slot %s is inactive and retains %s of WAL (more than max_retained_wal %s); '
                             'the disk fills while nobody reads it.' % (name, format_size(retained), format_size(threshold)),
                             'reconnect its reader (Bemi), or drop the slot if it is no longer used (%s).'
                             % drop_slot_sql(slot['name'])))
    if keep_size != -1:
        return found
    if ours:
        # Bemi's own slot without a budget is judged by check_wal_budget, inactive or not.
        return found
    if slot['type'] == 'physical':
        if too_big:
            return found
        # A standby catching up: normal for a while; the risk is that it lasts.
        found.append(finding('slot_wal_unbounded', slot['name'],
                             'Replication slot %s is inactive (its reader is reconnecting or stopped) and '
                             'max_slot_wal_keep_size = -1: if it stays away, the slot keeps WAL until the disk is full '
                             '(now %s).' % (name, format_size(retained or 0)),
                             '%s, and alert on retained_wal_bytes.' % limit))
    else:
        found.append(finding('inactive_slot_unbounded_wal', slot['name'],
                             'Replication slot %s is inactive and max_slot_wal_keep_size = -1 (unlimited), so it can '
                             'keep WAL until the disk is full.' % name,
                             '%s, or drop the slot if it is no longer used (%s).' % (limit, drop_slot_sql(slot['name']))))
    return found


# The fix for a missing or too large budget, on a plain server and under Patroni.
BUDGET_FIX = ("set bemi_max_slot_wal_keep_size (auto, or a size such as 50GB) in the bemi.postgresql.tracking role and "
              "run it, or ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (a size the disk can hold) and reload")
PATRONI_BUDGET_FIX = ("set bemi_max_slot_wal_keep_size in the bemi.postgresql.tracking role and run it, or set "
                      "postgresql.parameters.max_slot_wal_keep_size in Patroni's dynamic configuration "
                      "(patronictl edit-config)")


def budget_fix(facts):
    """How to set a WAL budget here: under Patroni through its configuration, never ALTER SYSTEM."""
    return PATRONI_BUDGET_FIX if facts.get('patroni') else BUDGET_FIX


def check_wal_budget(facts, options, report):
    """Bemi's slot needs a WAL budget, and a budget the disk can hold."""
    keep_size = report['max_slot_wal_keep_size']
    fix = budget_fix(facts)
    found = []
    slots = facts['replication_slots'] or []
    if keep_size == -1 and any(slot['name'] == options['slot'] for slot in slots):
        found.append(finding('wal_budget_unlimited', 'max_slot_wal_keep_size',
                             'max_slot_wal_keep_size = -1 (unlimited) while Bemi\'s replication slot %s exists: when '
                             'Bemi stops reading, the slot keeps WAL until the disk is full and PostgreSQL stops.'
                             % quote_ident(options['slot']), fix + '.'))
    pg_wal = facts.get('pg_wal')
    if pg_wal and keep_size is not None and keep_size > 0 and keep_size * MB > pg_wal['free_bytes']:
        found.append(finding('wal_budget_exceeds_free_space', 'max_slot_wal_keep_size',
                             'max_slot_wal_keep_size (%s) is more than the free space of pg_wal\'s filesystem now '
                             '(%s free at %s): a slot can fill the disk before the budget stops it.'
                             % (format_size(keep_size * MB), format_size(pg_wal['free_bytes']), pg_wal['path']),
                             'free space on that filesystem, or lower the budget: %s.' % fix))
    return found


def check_capacity(facts, options, report):
    """A free slot and WAL sender for Bemi, unless it already streams."""
    slots = facts['replication_slots']
    bemi_slot = next((slot for slot in slots or [] if slot['name'] == options['slot']), None)
    found = []
    max_slots = report['max_replication_slots']['running']
    in_use = facts['slots_in_use']
    if bemi_slot is None and slots is not None and None not in (max_slots, in_use) and in_use >= max_slots:
        found.append(finding('replication_slots_exhausted', 'max_replication_slots',
                             'No replication slot is free for Bemi: %d of max_replication_slots = %d are in use.'
                             % (in_use, max_slots),
                             'drop an unused slot, or raise max_replication_slots (bemi.postgresql.bemi_wal_level '
                             'min_replication_slots) and restart PostgreSQL.'))
    max_senders = report['max_wal_senders']['running']
    senders = facts['wal_senders_in_use']
    if not (bemi_slot and bemi_slot['active']) and None not in (max_senders, senders) and senders >= max_senders:
        found.append(finding('wal_senders_exhausted', 'max_wal_senders',
                             'No WAL sender is free for Bemi: %d of max_wal_senders = %d are in use.'
                             % (senders, max_senders),
                             'raise max_wal_senders (bemi.postgresql.bemi_wal_level min_wal_senders) and restart '
                             'PostgreSQL.'))
    return found


def check_publication(facts, options, report):
    publication = facts['publication']
    report['publication'] = publication or None
    name = quote_ident(options['publication'])
    if publication is False:
        return [finding('publication_missing', options['publication'],
                        'Publication %s does not exist in database %s.' % (name, facts['database']),
                        'create it with bemi.postgresql.bemi_publication (CREATE PUBLICATION %s FOR ALL TABLES).'
                        % name)]
    if not publication:
        return []
    found = []
    missing_ops = [op for op in ('insert', 'update', 'delete') if op not in publication['operations']]
    if missing_ops:
        found.append(finding('publication_operations_missing', options['publication'],
                             'Publication %s does not publish %s, so Bemi misses those changes.'
                             % (name, ', '.join(missing_ops).upper()),
                             'publish all operations with bemi.postgresql.bemi_publication.'))
    found.extend(qualifier_findings(publication, options['publication']))
    return found


def qualifier_findings(publication, publication_name):
    """Row filters and column lists (15+): Bemi then receives only some rows or some columns of those tables."""
    name = quote_ident(publication_name)

    def fix(tables):
        drop_add = '; '.join('ALTER PUBLICATION %s DROP TABLE %s; ALTER PUBLICATION %s ADD TABLE ONLY %s'
                             % (name, table, name, table) for table in tables[:MAX_NAMED])
        return ('publish them in full with bemi.postgresql.bemi_publication (tables, or append: true with these '
                'tables), or by hand in one transaction: BEGIN; %s; COMMIT.' % drop_add)

    found = []
    filtered = sorted(publication.get('row_filters') or {})
    if filtered:
        found.append(finding('publication_row_filter', publication_name,
                             'Publication %s publishes %s with a row filter (WHERE), so Bemi never receives the '
                             'changes of the rows it leaves out.' % (name, tables_phrase(filtered)), fix(filtered)))
    narrowed = sorted(publication.get('column_lists') or {})
    if narrowed:
        found.append(finding('publication_column_list', publication_name,
                             'Publication %s publishes %s with a column list, so Bemi never receives the other '
                             'columns (and without the replica identity columns in the list, UPDATE and DELETE '
                             'there fail).' % (name, tables_phrase(narrowed)), fix(narrowed)))
    return found


def check_schemas(facts, options, report):
    found = [finding('schema_missing', schema, 'Schema %s (in the schemas option) does not exist in database %s.'
                     % (quote_ident(schema), facts['database'])) for schema in facts['missing_schemas']]
    missing = [display_table(row['schema'], row['name']) for row in facts.get('listed') or [] if row['kind'] is None]
    if missing:
        found.append(finding('listed_table_missing', options['publication'],
                             'Listed %s %s not exist as a table in database %s, so Bemi gets no changes from %s.'
                             % (tables_phrase(missing), 'does' if len(missing) == 1 else 'do',
                                quote_ident(facts['database']), 'it' if len(missing) == 1 else 'them'),
                             'create it, or take it out of the tables option (and the publication).'))
    return found


def check_tables(facts, options, report):
    """Replica identity, primary keys and coverage of published and tracked tables (never unlogged ones)."""
    tables = facts['tables']
    if tables is None:
        report['tables_without_full_identity'] = report['tables_without_primary_key'] = None
        return []
    # PostgreSQL never publishes unlogged tables (their changes are not in the WAL): nothing to fix there.
    logged = [t for t in tables if not t.get('unlogged')]
    tracked = [t for t in logged if t['published'] or t['in_schemas']]
    report['tables_without_full_identity'] = sorted(
        display_table(t['schema'], t['name']) for t in tracked if t['identity'] != 'f')
    report['tables_without_primary_key'] = sorted(
        display_table(t['schema'], t['name']) for t in tracked if not t['has_primary_key'])
    found = identity_findings([t for t in logged if t['published']], facts['publication'], options['publication'])
    found.extend(coverage_findings(tables, facts['publication'], options['publication'], bool(options.get('tables'))))
    return found


def identity_findings(published, publication, publication_name):
    found = []
    pub = quote_ident(publication_name)
    no_full = sorted(display_table(t['schema'], t['name']) for t in published if t['identity'] != 'f')
    if no_full:
        found.append(finding('table_identity_not_full', publication_name,
                             'Published %s of publication %s %s no REPLICA IDENTITY FULL, so Bemi gets no before-state '
                             'for their UPDATE and DELETE.' % (tables_phrase(no_full), pub, has_have(no_full)),
                             'bemi.postgresql.bemi_replica_identity (ALTER TABLE ... REPLICA IDENTITY FULL).'))
    publishes_changes = publication and ('update' in publication['operations'] or 'delete' in publication['operations'])
    keyless = sorted(display_table(t['schema'], t['name']) for t in published if t['kind'] == 'r' and (
        t['identity'] == 'n'
        or (t['identity'] == 'd' and not t['has_primary_key'])
        or (t['identity'] == 'i' and not t['has_identity_index'])))
    if keyless and publishes_changes:
        found.append(finding('table_without_replica_identity', publication_name,
                             'Published %s of publication %s %s no primary key and no replica identity: UPDATE and '
                             'DELETE on %s fail.' % (tables_phrase(keyless), pub, has_have(keyless),
                                                     'it' if len(keyless) == 1 else 'them'),
                             'ALTER TABLE ... REPLICA IDENTITY FULL (bemi.postgresql.bemi_replica_identity), or add '
                             'a primary key.'))
    return found


def has_have(names):
    return 'has' if len(names) == 1 else 'have'


def coverage_findings(tables, publication, publication_name, list_mode=False):
    """Tables of the tracked schemas (list mode: the listed tables) the publication leaves out; unlogged ones are a note."""
    if not publication:
        return []
    found = []
    pub = quote_ident(publication_name)
    scope = 'of the listed tables' if list_mode else 'of the tracked schemas'
    # Partitioned parents are covered through their partitions.
    candidates = [t for t in tables if t['in_schemas'] and not t['published'] and t['kind'] == 'r']
    unpublished = sorted(display_table(t['schema'], t['name']) for t in candidates if not t.get('unlogged'))
    unlogged = sorted(display_table(t['schema'], t['name']) for t in tables if t.get('unlogged') and t['in_schemas'])
    if unpublished:
        found.append(finding('table_not_published', publication_name,
                             'Publication %s does not publish %s %s, so Bemi sees no changes there.'
                             % (pub, tables_phrase(unpublished), scope),
                             'add them with bemi.postgresql.bemi_publication (ALTER PUBLICATION %s ADD TABLE ...), '
                             'or publish FOR ALL TABLES.' % pub))
    if unlogged:
        verb = 'is' if len(unlogged) == 1 else 'are'
        found.append(finding('table_unlogged', publication_name,
                             'Unlogged %s %s %s never published (their changes are not written to the WAL), so Bemi '
                             'sees no changes there.' % (tables_phrase(unlogged), scope, verb),
                             'ALTER TABLE ... SET LOGGED if Bemi should track them.'))
    return found


TRIGGER_FIX = 'bemi.postgresql.bemi_replica_identity with track_new_tables: true'


PARTITIONS_FIX = ('bemi.postgresql.bemi_replica_identity with the same tables (it installs the trigger for the '
                  'listed partitioned tables, also with track_new_tables: false)')


def check_event_trigger(facts, options, report):
    trigger = facts['event_trigger']
    name = event_trigger.TRIGGER
    # List mode: a table created later is not published, so no trigger is needed for it; only the partitions
    # created later of a listed partitioned table are (they are published at once).
    parted = [row for row in facts.get('listed') or [] if row['kind'] == 'p']
    list_mode = facts.get('listed') is not None
    if trigger is None:
        report['event_trigger'] = None
        return []
    if trigger is False:
        report['event_trigger'] = {'present': False, 'enabled': None, 'up_to_date': None, 'tags': None,
                                   'tracked_schemas': None, 'tracked_partition_trees': None, 'owner': None}
        if list_mode:
            return partitions_not_covered(parted, name, 'does not exist')
        return [finding('event_trigger_missing', name, 'Event trigger %s does not exist, so tables created later do '
                        'not get REPLICA IDENTITY FULL.' % name, '%s installs it.' % TRIGGER_FIX)]
    up_to_date = event_trigger.is_ours(trigger['source'])
    tracked = parse_tracked_schemas(trigger['source']) if up_to_date else None
    trees = event_trigger.parse_trees_line(trigger['source']) if up_to_date else None
    report['event_trigger'] = {
        'present': True,
        # Only O (ENABLE) and A (ENABLE ALWAYS) fire in ordinary sessions (session_replication_role = origin).
        'enabled': trigger['enabled'] in ('O', 'A'),
        'up_to_date': up_to_date,
        'tags': sorted(trigger['tags'] or []),
        'tracked_schemas': tracked,
        'tracked_partition_trees': None if trees is None else [display_table(*pair) for pair in trees],
        'owner': trigger.get('owner'),
    }
    if list_mode:
        if trigger['enabled'] not in ('O', 'A'):
            return partitions_not_covered(parted, name, 'is not enabled for the application\'s sessions')
        if not up_to_date:
            return partitions_not_covered(parted, name, 'is outdated')
        return partitions_not_covered([row for row in parted if not tree_covered(row, tracked, trees)], name,
                                      'does not track them')
    found = []
    if trigger['enabled'] == 'D':
        found.append(finding('event_trigger_disabled', name, 'Event trigger %s is disabled, so tables created later '
                             'do not get REPLICA IDENTITY FULL.' % name, 'ALTER EVENT TRIGGER %s ENABLE.' % name))
    elif trigger['enabled'] == 'R':
        found.append(finding('event_trigger_replica_only', name, 'Event trigger %s is enabled only for replication '
                             'sessions (ENABLE REPLICA, session_replication_role = replica), so it does not fire for '
                             'the application\'s CREATE TABLE and tables created later do not get REPLICA IDENTITY '
                             'FULL.' % name,
                             'ALTER EVENT TRIGGER %s ENABLE (%s puts it back).' % (name, TRIGGER_FIX)))
    if not up_to_date:
        found.append(finding('event_trigger_outdated', name, 'Event trigger %s is outdated (for example Bemi\'s manual '
                             'version, which scans every table on each CREATE TABLE, fails with another search_path '
                             'and misses CREATE TABLE AS).' % name, '%s replaces it.' % TRIGGER_FIX))
    elif tracked is not None and '*' not in tracked:
        schemas = options['schemas']
        uncovered = sorted(set(schema for schema in schemas if schema != '*') - set(tracked))
        if '*' in schemas or uncovered:
            found.append(finding('event_trigger_schemas_not_covered', name, 'Event trigger %s covers only schemas %s, '
                                 'not %s.' % (name, ', '.join(tracked) or 'none', ', '.join(uncovered) or 'every schema'),
                                 '%s and the same schemas option.' % TRIGGER_FIX))
    return found


def tree_covered(row, schemas, trees):
    """Whether the trigger gives FULL to the partitions created later of the listed partitioned table ``row``:
    it tracks the schema of its partition root, or the table itself or one of its ancestors as a tree."""
    if '*' in (schemas or []) or row['root_schema'] in (schemas or []):
        return True
    return any(tuple(pair) in set(trees or []) for pair in row['ancestors'])


def partitions_not_covered(parted, name, why):
    if not parted:
        return []
    names = [display_table(row['schema'], row['name']) for row in parted]
    return [finding('event_trigger_partitions_not_covered', name,
                    'Listed partitioned %s: the partitions created later are published at once, but event trigger %s '
                    '%s, so they stay without REPLICA IDENTITY FULL (and without a primary key their UPDATE and '
                    'DELETE fail).' % (tables_phrase(names), name, why), '%s.' % PARTITIONS_FIX)]


def check_trigger_owner(facts, options, report):
    """The trigger's function runs as its owner (SECURITY DEFINER): it must be able to alter the tracked tables."""
    trigger = facts['event_trigger']
    if not trigger or trigger.get('owner_super') is not False:
        return []
    owner = trigger['owner']
    function = '%s.%s()' % (event_trigger.SCHEMA, event_trigger.FUNCTION)
    tables = [t for t in facts['tables'] or [] if t['in_schemas'] and t.get('trigger_owner_can_alter') is False]
    foreign = sorted(set(t['owner'] for t in tables))
    if not foreign:
        return [finding('event_trigger_owner_not_superuser', function,
                        'The event trigger\'s function %s runs as %s, which is not a superuser: it can give '
                        'REPLICA IDENTITY FULL only to tables owned by roles %s is a member of.'
                        % (function, quote_ident(owner), quote_ident(owner)),
                        'ALTER FUNCTION %s OWNER TO a superuser (%s run as a superuser does it), or make %s a member '
                        'of every role that creates tables.' % (function, TRIGGER_FIX, quote_ident(owner)))]
    names = sorted(display_table(t['schema'], t['name']) for t in tables)
    return [finding('event_trigger_owner_cannot_alter', function,
                    'The event trigger\'s function %s runs as %s, which is neither a superuser nor a member of %s, '
                    'the owner of %s: tables those roles create later stay without REPLICA IDENTITY FULL.'
                    % (function, quote_ident(owner), ', '.join(quote_ident(o) for o in foreign), tables_phrase(names)),
                    'ALTER FUNCTION %s OWNER TO a superuser (%s run as a superuser does it), or GRANT %s TO %s.'
                    % (function, TRIGGER_FIX, ', '.join(quote_ident(o) for o in foreign), quote_ident(owner)))]


def check_role(facts, options, report):
    role, role_name, tables = facts['role'], options['role'], facts['tables']
    name = quote_ident(role_name)
    if role is None:
        report['role'] = None
        return []
    if role is False:
        report['role'] = dict((key, None) for key in ROLE_REPORT_KEYS)
        report['role'].update(name=role_name, exists=False)
        return [finding('role_missing', role_name, 'Role %s does not exist, so Bemi cannot connect.' % name,
                        'create it with bemi.postgresql.bemi_role.')]
    cannot_select = None
    if tables is not None:
        cannot_select = sorted(display_table(t['schema'], t['name']) for t in tables
                               if t['published'] and t['role_can_select'] is False)
    report['role'] = dict((key, role.get(key)) for key in ROLE_REPORT_KEYS)
    report['role'].update(exists=True, cannot_select=cannot_select)
    found = role_login_findings(role, name, facts['database'])
    if not (role['replication'] or role['rds_replication'] or role['superuser']):
        found.append(finding('role_no_replication', role_name, 'Role %s has no REPLICATION attribute (nor membership '
                             'in rds_replication), so it cannot stream changes.' % name,
                             'ALTER ROLE %s REPLICATION (bemi.postgresql.bemi_role with replication: true).' % name))
    if cannot_select and options.get('tables'):
        # A table list is Bemi's least-privilege mode: it streams their changes without SELECT.
        found.append(finding('role_cannot_select_listed', role_name, 'Role %s cannot SELECT published %s: Bemi '
                             'streams their changes without it, but cannot read the tables themselves.'
                             % (name, tables_phrase(cannot_select)),
                             'GRANT SELECT on them only if Bemi should read them (bemi.postgresql.bemi_role with '
                             'tables, or bemi_grant_select: listed in the tracking role).'))
    elif cannot_select:
        found.append(finding('role_cannot_select', role_name, 'Role %s cannot SELECT published %s, so Bemi cannot '
                             'read them.' % (name, tables_phrase(cannot_select)),
                             'GRANT SELECT on them (bemi.postgresql.bemi_role with their schemas).'))
    found.extend(role_attribute_notes(role, role_name))
    return found


LOCAL_NAMES = ('localhost', 'samehost')


def is_local_address(address, netmask=None):
    """Whether a listen_addresses entry or a pg_hba address admits only this host (loopback)."""
    address = (address or '').strip().lower()
    if address in LOCAL_NAMES:
        return True
    try:
        # pg_hba_file_rules gives the mask as an address; ip_network takes IPv6 masks only as a prefix length.
        prefix = bin(int(ipaddress.ip_address(netmask))).count('1') if netmask else None
        network = ipaddress.ip_network('%s/%s' % (address, prefix) if netmask else address, strict=False)
    except ValueError:
        # '*', 'all', 'samenet', a host or domain name: other hosts.
        return False
    return network.is_loopback


def listens_locally_only(listen_addresses):
    """listen_addresses of unix sockets ('') or loopback addresses only: nobody else can connect over TCP."""
    entries = [entry.strip() for entry in (listen_addresses or '').split(',') if entry.strip()]
    return all(is_local_address(entry) for entry in entries)


def hba_admits_remotely(rules, database, role):
    """Whether some pg_hba line lets ``role`` connect to ``database`` from another host.

    A group (+name) or an included file (@file) counts as a match: which roles
    they hold is not read here, so this errs towards no finding.
    """
    for rule in rules:
        if not rule['type'].startswith('host') or rule['auth_method'] == 'reject':
            continue
        databases, users = rule['database'] or [], rule['user_name'] or []
        database_matches = any(name in ('all', database, 'samerole') or name.startswith('@')
                               or (name == 'sameuser' and database == role) for name in databases)
        user_matches = any(name in ('all', role) or name[:1] in ('+', '@') for name in users)
        if database_matches and user_matches and not is_local_address(rule['address'], rule['netmask']):
            return True
    return False


NETWORK_FIX = ('see "What Bemi needs from the network" in docs/quick-start.md; the probe run from a host of Bemi\'s '
               'network (probe with probe_host, or the role with bemi_probe_from: controller) proves it')


def check_network(facts, options, report):
    """Bemi connects from its own network: the server must listen there, and pg_hba must let the role in."""
    found = []
    if facts.get('listen_addresses') is not None and listens_locally_only(facts['listen_addresses']):
        found.append(finding('server_listens_locally', 'listen_addresses',
                             "listen_addresses = '%s': the server accepts connections from this host only, so Bemi "
                             'cannot reach it from its network.' % facts['listen_addresses'],
                             "set listen_addresses (for example '*', or this server's address) in postgresql.conf and "
                             'restart PostgreSQL; %s.' % NETWORK_FIX))
    rules = facts.get('hba_rules')
    if rules is not None and not hba_admits_remotely(rules, facts['database'], options['role']):
        found.append(finding('pg_hba_no_remote_rule', options['role'],
                             'No pg_hba.conf line lets role %s connect to database %s from another host (only from this '
                             'one), so Bemi\'s login from its network is refused.'
                             % (quote_ident(options['role']), quote_ident(facts['database'])),
                             'set bemi_manage_pg_hba and bemi_pg_hba_addresses in the tracking role, or add a line '
                             '"hostssl %s %s <Bemi\'s address> scram-sha-256" and reload; %s.'
                             % (facts['database'], options['role'], NETWORK_FIX)))
    return found


ROLE_REPORT_KEYS = ('name', 'exists', 'login', 'replication', 'rds_replication', 'superuser', 'inherit', 'bypassrls',
                    'valid_until', 'expired', 'can_connect', 'cannot_select')


def role_login_findings(role, name, database):
    """What makes Bemi's login fail although the role exists."""
    found = []
    if not role['login']:
        found.append(finding('role_nologin', role['name'], 'Role %s cannot log in (NOLOGIN).' % name,
                             'ALTER ROLE %s LOGIN (bemi.postgresql.bemi_role).' % name))
    if role.get('expired'):
        found.append(finding('role_expired', role['name'], 'The password of role %s expired (VALID UNTIL %s), so '
                             'Bemi\'s login fails.' % (name, role['valid_until']),
                             "ALTER ROLE %s VALID UNTIL 'infinity' (bemi.postgresql.bemi_role)." % name))
    if role.get('can_connect') is False:
        found.append(finding('role_no_connect', role['name'], 'Role %s has no CONNECT privilege on database %s, so '
                             'Bemi\'s login to it fails.' % (name, quote_ident(database)),
                             'GRANT CONNECT ON DATABASE %s TO %s.' % (quote_ident(database), name)))
    return found


def role_attribute_notes(role, role_name):
    name = quote_ident(role_name)
    found = []
    if role.get('inherit') is False and not role['superuser']:
        found.append(finding('role_noinherit', role_name, 'Role %s is NOINHERIT: it does not use the privileges of '
                             'the roles it is a member of, only those granted to it directly.' % name,
                             'ALTER ROLE %s INHERIT, unless that is intended.' % name))
    if role.get('bypassrls') and not role['superuser']:
        found.append(finding('role_bypassrls', role_name, 'Role %s has BYPASSRLS, so it reads rows that row-level '
                             'security policies hide from other roles.' % name,
                             'ALTER ROLE %s NOBYPASSRLS, unless that is intended.' % name))
    return found


def check_server(facts, options, report):
    """Where the server's files are, whether it is a standby, and its schemas: what the tracking role needs."""
    role = facts['role']
    report['server'] = {
        'in_recovery': facts['in_recovery'],
        'version_num': facts['server_version_num'],
        'cluster_name': facts['cluster_name'],
        'min_wal_size_mb': facts.get('min_wal_size_mb'),
        'streaming_standbys': facts.get('streaming_standbys'),
        'role_exists': None if role is None else bool(role),
        'user_schemas': facts['user_schemas'],
        'pg_wal': facts.get('pg_wal'),
        'ssl': facts.get('ssl'),
        'conf_load_time': facts.get('conf_load_time'),
    }
    report['server'].update(facts['files'])
    hidden = sorted(key for key, value in facts['files'].items() if value is None)
    if not hidden:
        return []
    return [finding('server_files_unreadable', ', '.join(hidden), '%s: unknown, because %s may not read them.'
                    % (', '.join(hidden), facts['login_user']),
                    'run bemi_info as a superuser or a member of pg_read_all_settings.')]


def check_slot_health(facts, options, report):
    """Bemi's slot against the WAL budget, the outage budget, and (17+) its failover safety."""
    if facts.get('slot_health') is None:
        return []
    # The slots as read (not the report's shape): the failover report needs their lag_bytes.
    fields, found = slot_utils.health(facts['replication_slots'], options['slot'], report['max_slot_wal_keep_size'],
                                      facts['slot_health'], cluster_manager='patroni' if facts.get('patroni') else None)
    report.update(fields)
    return found


def check_cluster_manager(facts, options, report):
    """Patroni owns wal_level, restarts, pg_hba and its members' slots: say so, and look for Bemi's slot on a replica."""
    report['cluster_manager'] = 'patroni' if facts.get('patroni') else None
    if not facts.get('patroni'):
        return []
    found = [finding('cluster_manager_patroni', 'patroni',
                     'Patroni manages this server: it owns wal_level, max_wal_senders, max_replication_slots, pg_hba '
                     'and restarts, and drops every replication slot that its configuration does not name.',
                     'change those only through Patroni, and keep Bemi\'s slot as a permanent logical slot in its '
                     'configuration (bemi.postgresql.tracking does both on a Patroni member).')]
    slots = facts['replication_slots']
    if facts['in_recovery'] and slots is not None and not any(s['name'] == options['slot'] for s in slots):
        found.append(finding('patroni_slot_missing_on_replica', options['slot'],
                             'Replication slot %s is not on this Patroni replica, so after a failover to it Bemi\'s '
                             'position is lost and Bemi must re-sync.' % quote_ident(options['slot']),
                             'declare it as a permanent logical slot in Patroni\'s configuration (slots: {%s: {type: '
                             'logical, database: <database>, plugin: pgoutput}}); Patroni then copies it to every '
                             'replica.' % options['slot']))
    return found


CHECKS = (check_wal_level, check_restart, check_file_settings, check_slots, check_wal_budget, check_capacity,
          check_publication, check_schemas, check_tables, check_event_trigger, check_trigger_owner, check_role,
          check_network, check_server, check_slot_health, check_cluster_manager)


def assess(facts, options):
    """The report: facts reshaped for users, plus ``findings``, the ``problems`` and ``notes`` sentences and ``ready``."""
    report = settings_report(facts)
    found = list(facts.get('notes') or [])
    for check in CHECKS:
        found.extend(check(facts, options, report))
    report.update(summarize(found))
    report['ready'] = not report['problems']
    return report
