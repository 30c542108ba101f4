# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Readiness report for bemi_info: gather facts in a fixed number of catalog reads, then judge them.

``gather(conn, options)`` reads everything with a constant number of queries,
whatever the number of tables. ``assess(facts, options)`` is pure: it turns the
facts into ``problems`` (sentences with their fix), ``notes`` and ``ready``,
so every rule is unit-tested with hand-made fact dicts.
"""

from __future__ import annotations

import re

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    is_insufficient_privilege,
    DatabaseError,
    query,
    query_one,
)
from ansible_collections.bemi.postgresql.plugins.module_utils import event_trigger
from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import SYSTEM_SCHEMA_PARAMS, USER_SCHEMA_CONDITION
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table, quote_ident
from ansible_collections.bemi.postgresql.plugins.module_utils.publication import OPERATIONS
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import read_settings, restart_pending
from ansible_collections.bemi.postgresql.plugins.module_utils import slot as slot_utils
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports

SETTINGS = ('wal_level', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size')
# Settings whose running and configured values are reported; a difference means a restart is pending.
RESTART_SETTINGS = ('wal_level', 'max_replication_slots', 'max_wal_senders')


# How many table names a problem sentence spells out; the full lists are in the report.
MAX_NAMED = 10

SIZE_UNITS = {'': 1, 'b': 1, 'kb': 1024, 'mb': 1024 ** 2, 'gb': 1024 ** 3, 'tb': 1024 ** 4}

SERVER_QUERY = (
    "SELECT current_setting('server_version') AS server_version, "
    "current_setting('server_version_num')::int AS server_version_num, "
    "current_database() AS database, current_user AS login_user, "
    "pg_is_in_recovery() AS in_recovery, "
    "(SELECT count(*) FROM pg_replication_slots)::int AS slots_in_use, "
    "(SELECT count(*) FROM pg_stat_replication)::int AS wal_senders_in_use, "
    "(SELECT coalesce(array_agg(name::text ORDER BY name), '{}') FROM pg_settings WHERE pending_restart) "
    "AS pending_restart"
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
        "(SELECT coalesce(array_agg(ARRAY[n.nspname::text, c.relname::text]), '{}') FROM pg_publication_rel pr "
        " JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        " WHERE pr.prpubid = p.oid) AS tables, "
        + schemas + " AS schemas "
        "FROM pg_publication p WHERE p.pubname = %s"
    )


# Published relations (pg_publication_tables resolves ALL TABLES, schemas and
# partition roots), expanded to their partitions, plus every ordinary or
# partitioned table of the tracked schemas: one row per relation to judge.
TABLES_QUERY = (
    "WITH pub AS ("
    " SELECT c.oid FROM pg_publication_tables pt"
    " JOIN pg_namespace n ON n.nspname = pt.schemaname"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
    " WHERE pt.pubname = %(publication)s), "
    "published AS (SELECT oid FROM pub UNION SELECT t.relid FROM pub, pg_partition_tree(pub.oid) t), "
    "role AS (SELECT oid FROM pg_roles WHERE rolname = %(role)s) "
    "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind, "
    "c.relreplident::text AS identity, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_primary_key, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_identity_index, "
    "c.oid IN (SELECT oid FROM published) AS published, "
    "(n.nspname = ANY(%(schemas)s) OR (%(all_schemas)s AND " + USER_SCHEMA_CONDITION + ")) AS in_schemas, "
    "CASE WHEN c.oid IN (SELECT oid FROM published) THEN "
    " has_table_privilege((SELECT oid FROM role), c.oid, 'SELECT') END AS role_can_select "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    " AND d.objid = c.oid AND d.deptype = 'e') "
    "AND (c.oid IN (SELECT oid FROM published) "
    " OR n.nspname = ANY(%(schemas)s) OR (%(all_schemas)s AND " + USER_SCHEMA_CONDITION + ")) "
    "ORDER BY 1, 2"
)

SCHEMAS_QUERY = "SELECT nspname::text AS name FROM pg_namespace WHERE nspname = ANY(%s)"

EVENT_TRIGGER_QUERY = (
    "SELECT e.evtname::text AS name, e.evtenabled::text AS enabled, e.evtevent::text AS event, "
    "coalesce(e.evttags, '{}')::text[] AS tags, fn.nspname::text AS function_schema, "
    "f.proname::text AS function_name, f.prosrc AS source "
    "FROM pg_event_trigger e JOIN pg_proc f ON f.oid = e.evtfoid "
    "JOIN pg_namespace fn ON fn.oid = f.pronamespace "
    "WHERE e.evtname = %s"
)

ROLE_QUERY = (
    "SELECT r.rolname::text AS name, r.rolcanlogin AS login, r.rolreplication AS replication, "
    "r.rolsuper AS superuser, "
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


def has_marker(source):
    return event_trigger.is_ours(source)


# -- reading ----------------------------------------------------------------

def guarded(conn, notes, login_user, what, statement, args=None):
    """Rows of a catalog read, or None (with a note) when this login may not read it."""
    try:
        return query(conn, statement, args)
    except DatabaseError as exc:
        if not is_insufficient_privilege(exc):
            raise
        notes.append('%s: unknown, because %s may not read it (%s). Fix: run bemi_info as a superuser or a member '
                     'of pg_monitor.' % (what, login_user, str(exc).strip().splitlines()[0]))
        return None


def gather(conn, options):
    """All facts ``assess`` needs, in a fixed number of queries (never one per table)."""
    notes = []
    server = query_one(conn, SERVER_QUERY)
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
    }
    facts['restart_pending'] = restart_pending(facts['settings'], settings, RESTART_SETTINGS)

    facts['replication_slots'] = guarded(conn, notes, login, 'Replication slots',
                                         slot_utils.slots_query(server['server_version_num']))
    facts['slot_health'] = slot_utils.read_health(lambda statement, args: query(conn, statement, args),
                                                  server['server_version_num'], options.get('sample_seconds', 0))

    rows = guarded(conn, notes, login, 'Publication %s' % options['publication'],
                   publication_query(server['server_version_num']), (options['publication'],))
    facts['publication'] = None if rows is None else (publication_report(rows[0]) if rows else False)

    schemas = [name for name in options['schemas'] if name != '*']
    all_schemas = '*' in options['schemas']
    table_args = {'publication': options['publication'], 'role': options['role'], 'schemas': schemas,
                  'all_schemas': all_schemas}
    table_args.update(SYSTEM_SCHEMA_PARAMS)
    facts['tables'] = guarded(conn, notes, login, 'Tables', TABLES_QUERY, table_args)
    existing = query(conn, SCHEMAS_QUERY, (schemas,)) if schemas else []
    facts['missing_schemas'] = sorted(set(schemas) - set(row['name'] for row in existing))

    rows = guarded(conn, notes, login, 'Event trigger %s' % event_trigger.TRIGGER, EVENT_TRIGGER_QUERY,
                   (event_trigger.TRIGGER,))
    facts['event_trigger'] = None if rows is None else (rows[0] if rows else False)

    rows = guarded(conn, notes, login, 'Role %s' % options['role'], ROLE_QUERY, (options['role'],))
    facts['role'] = None if rows is None else (rows[0] if rows else False)
    return facts


def publication_report(row):
    """The shape bemi_publication returns."""
    operations = [op for op in OPERATIONS if row['pub' + op]]
    return {
        'name': row['name'],
        'all_tables': row['all_tables'],
        'tables': sorted(display_table(schema, table) for schema, table in row['tables']),
        'schemas': sorted(row['schemas'] or []),
        'operations': operations,
        'publish_via_partition_root': row['publish_via_partition_root'],
    }


# -- judging (pure) ---------------------------------------------------------

def name_list(names):
    names = list(names)
    shown = ', '.join(names[:MAX_NAMED])
    if len(names) > MAX_NAMED:
        shown += ' and %d more' % (len(names) - MAX_NAMED)
    return shown


def tables_phrase(names):
    return ('table %s' if len(names) == 1 else 'tables %s') % name_list(names)


def assess(facts, options):
    """The report: facts reshaped for users, plus sorted ``problems`` and ``notes`` and ``ready``.

    ``facts`` comes from ``gather`` (or a test). A fact that could not be read
    is None: it is reported as unknown and never turned into a problem.
    """
    problems = []
    notes = list(facts.get('notes') or [])
    slot_name = options['slot']
    role_name = options['role']
    publication_name = options['publication']
    database = facts['database']
    threshold = options['max_retained_wal']
    settings = facts['settings']

    report = {
        'server_version': facts['server_version'],
        'wal_level': dict(settings['wal_level']),
        'restart_required': bool(facts['restart_pending'] or facts['pending_restart']),
        'max_replication_slots': {
            'running': settings['max_replication_slots']['running'],
            'configured': settings['max_replication_slots']['configured'],
            'in_use': facts['slots_in_use']},
        'max_wal_senders': {
            'running': settings['max_wal_senders']['running'],
            'configured': settings['max_wal_senders']['configured'],
            'in_use': facts['wal_senders_in_use']},
        'max_slot_wal_keep_size': settings['max_slot_wal_keep_size']['running'],
    }

    # wal_level and restarts
    wal_level = settings['wal_level']
    if wal_level['running'] != 'logical':
        if wal_level['configured'] == 'logical':
            problems.append('wal_level is configured as logical but the server still runs with %s. '
                            'Fix: restart PostgreSQL.' % wal_level['running'])
        else:
            problems.append('wal_level is %s, but Bemi needs logical. Fix: ALTER SYSTEM SET wal_level = logical '
                            '(bemi.postgresql.bemi_wal_level), then restart PostgreSQL.' % wal_level['running'])
    if not facts['settings_readable']:
        notes.append('%s cannot read pg_file_settings, so configured values come from pg_settings and are null '
                     'where a restart is pending. Fix: run as a superuser, or GRANT EXECUTE ON FUNCTION '
                     'pg_show_all_file_settings() to it.' % facts['login_user'])
    if report['restart_required']:
        differing = [name for name in RESTART_SETTINGS
                     if settings[name]['configured'] is not None and settings[name]['configured'] != settings[name]['running']]
        described = ['%s (running %s, configured %s)' % (name, settings[name]['running'], settings[name]['configured'])
                     for name in differing]
        described += [name for name in facts['pending_restart'] if name not in differing]
        problems.append('A restart of PostgreSQL is pending for %s, so the new values are not in force yet. '
                        'Fix: restart PostgreSQL.' % (', '.join(described) or 'changed settings'))

    # replication slots
    slots = facts['replication_slots']
    bemi_slot = None
    if slots is None:
        report['replication_slots'] = None
    else:
        report['replication_slots'] = [slot_utils.report(slot) for slot in sorted(slots, key=lambda s: s['name'])]
        bemi_slot = next((slot for slot in slots if slot['name'] == slot_name), None)
        for slot in report['replication_slots']:
            problems.extend(slot_problems(slot, slot_name, database, threshold, report['max_slot_wal_keep_size']))
        if bemi_slot is None:
            notes.append('Replication slot %s does not exist yet. Bemi creates it when it first connects.'
                         % slot_name)
    max_slots = settings['max_replication_slots']['running']
    if bemi_slot is None and slots is not None and max_slots is not None \
            and facts['slots_in_use'] is not None and facts['slots_in_use'] >= max_slots:
        problems.append('No replication slot is free for Bemi: %d of max_replication_slots = %d are in use. '
                        'Fix: drop an unused slot, or raise max_replication_slots (bemi.postgresql.bemi_wal_level '
                        'min_replication_slots) and restart PostgreSQL.' % (facts['slots_in_use'], max_slots))
    max_senders = settings['max_wal_senders']['running']
    if not (bemi_slot and bemi_slot['active']) and max_senders is not None \
            and facts['wal_senders_in_use'] is not None and facts['wal_senders_in_use'] >= max_senders:
        problems.append('No WAL sender is free for Bemi: %d of max_wal_senders = %d are in use. '
                        'Fix: raise max_wal_senders (bemi.postgresql.bemi_wal_level min_wal_senders) and restart '
                        'PostgreSQL.' % (facts['wal_senders_in_use'], max_senders))

    # slot health (WAL budget, invalidation): findings, adapted to today's sentences
    if facts.get('slot_health') is not None:
        fields, findings = slot_utils.health(facts['replication_slots'], slot_name, report['max_slot_wal_keep_size'],
                                             facts['slot_health'])
        report.update(fields)
        more_problems, more_notes = slot_utils.as_problems_and_notes(findings)
        problems.extend(more_problems)
        notes.extend(more_notes)

    # publication
    publication = facts['publication']
    report['publication'] = publication or None
    if publication is False:
        problems.append('Publication %s does not exist in database %s. Fix: create it with '
                        'bemi.postgresql.bemi_publication (CREATE PUBLICATION %s FOR ALL TABLES).'
                        % (quote_ident(publication_name), database, quote_ident(publication_name)))
    elif publication:
        missing_ops = [op for op in ('insert', 'update', 'delete') if op not in publication['operations']]
        if missing_ops:
            problems.append('Publication %s does not publish %s, so Bemi misses those changes. Fix: publish all '
                            'operations with bemi.postgresql.bemi_publication.'
                            % (quote_ident(publication_name), ', '.join(missing_ops).upper()))
    for schema in facts['missing_schemas']:
        notes.append('Schema %s (in the schemas option) does not exist in database %s.' % (quote_ident(schema), database))

    # tables
    tables = facts['tables']
    if tables is None:
        for key in ('tables_without_full_identity', 'tables_without_primary_key'):
            report[key] = None
    else:
        problems.extend(table_problems(tables, publication, publication_name, report))

    # event trigger
    problems.extend(event_trigger_problems(facts['event_trigger'], options['schemas'], report))

    # role
    problems.extend(role_problems(facts['role'], role_name, tables, report))

    report['problems'] = sorted(problems)
    report['notes'] = sorted(notes)
    report['ready'] = not problems
    return report


def slot_problems(slot, slot_name, database, threshold, keep_size):
    problems = []
    name = quote_ident(slot['name'])
    retained = slot['retained_wal_bytes']
    if slot['name'] == slot_name and slot['database'] is not None and slot['database'] != database:
        problems.append('Replication slot %s belongs to database %s, not %s, and slot names are server-wide. '
                        'Fix: if Bemi no longer reads %s, drop the slot there (SELECT pg_drop_replication_slot(%s)); '
                        'otherwise give this database\'s connection another slot name.'
                        % (name, slot['database'], database, slot['database'], quote_literal(slot['name'])))
    # Bemi's own slot is judged by slot_utils.health (with the re-sync fix).
    if slot['wal_status'] == 'lost' and slot['name'] != slot_name:
        problems.append('Replication slot %s has lost WAL it needed (wal_status lost), so its reader cannot resume. '
                        'Fix: drop it (SELECT pg_drop_replication_slot(%s)) and let Bemi create it again.'
                        % (name, quote_literal(slot['name'])))
    if not slot['active']:
        big = retained is not None and retained > threshold
        if big and (slot['name'] == slot_name or slot['type'] == 'logical'):
            problems.append('Replication slot %s is inactive and retains %s of WAL (more than max_retained_wal %s); '
                            'the disk fills while nobody reads it. Fix: reconnect its reader (Bemi), or drop the slot '
                            'if it is no longer used (SELECT pg_drop_replication_slot(%s)).'
                            % (name, format_size(retained), format_size(threshold), quote_literal(slot['name'])))
        if keep_size == -1:
            problems.append('Replication slot %s is inactive and max_slot_wal_keep_size = -1 (unlimited), so it can '
                            'keep WAL until the disk is full. Fix: ALTER SYSTEM SET max_slot_wal_keep_size = \'50GB\' '
                            '(a size your disk can hold) and reload, or drop the slot if it is no longer used.'
                            % name)
    return problems


def quote_literal(text):
    return "'%s'" % text.replace("'", "''")


def table_problems(tables, publication, publication_name, report):
    problems = []
    pub = quote_ident(publication_name)
    tracked = [t for t in tables if t['published'] or t['in_schemas']]
    report['tables_without_full_identity'] = sorted(
        display_table(t['schema'], t['name']) for t in tracked if t['identity'] != 'f')
    report['tables_without_primary_key'] = sorted(
        display_table(t['schema'], t['name']) for t in tracked if not t['has_primary_key'])

    published = [t for t in tables if t['published']]
    no_full = sorted(display_table(t['schema'], t['name']) for t in published if t['identity'] != 'f')
    if no_full:
        problems.append('Published %s of publication %s %s no REPLICA IDENTITY FULL, so Bemi gets no before-state '
                        'for their UPDATE and DELETE. Fix: bemi.postgresql.bemi_replica_identity (ALTER TABLE ... '
                        'REPLICA IDENTITY FULL).'
                        % (tables_phrase(no_full), pub, 'has' if len(no_full) == 1 else 'have'))
    publishes_changes = publication and ('update' in publication['operations'] or 'delete' in publication['operations'])
    keyless = sorted(display_table(t['schema'], t['name']) for t in published if t['kind'] == 'r' and (
        t['identity'] == 'n'
        or (t['identity'] == 'd' and not t['has_primary_key'])
        or (t['identity'] == 'i' and not t['has_identity_index'])))
    if keyless and publishes_changes:
        problems.append('Published %s of publication %s %s no primary key and no replica identity: UPDATE and DELETE '
                        'on %s fail. Fix: ALTER TABLE ... REPLICA IDENTITY FULL (bemi.postgresql.bemi_replica_identity), '
                        'or add a primary key.'
                        % (tables_phrase(keyless), pub, 'has' if len(keyless) == 1 else 'have',
                           'it' if len(keyless) == 1 else 'them'))
    if publication:
        # Partitioned parents are covered through their partitions.
        unpublished = sorted(display_table(t['schema'], t['name']) for t in tables
                             if t['in_schemas'] and not t['published'] and t['kind'] == 'r')
        if unpublished:
            problems.append('Publication %s does not publish %s of the tracked schemas, so Bemi sees no changes '
                            'there. Fix: add them with bemi.postgresql.bemi_publication (ALTER PUBLICATION %s ADD '
                            'TABLE ...), or publish FOR ALL TABLES.' % (pub, tables_phrase(unpublished), pub))
    return problems


def event_trigger_problems(trigger, schemas, report):
    problems = []
    name = event_trigger.TRIGGER
    fix = ('Fix: bemi.postgresql.bemi_replica_identity with track_new_tables: true')
    if trigger is None:
        report['event_trigger'] = None
        return problems
    if trigger is False:
        report['event_trigger'] = {'present': False, 'enabled': None, 'up_to_date': None, 'tags': None,
                                   'tracked_schemas': None}
        problems.append('Event trigger %s does not exist, so tables created later do not get REPLICA IDENTITY FULL. '
                        '%s installs it.' % (name, fix))
        return problems
    up_to_date = has_marker(trigger['source'])
    tracked = parse_tracked_schemas(trigger['source']) if up_to_date else None
    report['event_trigger'] = {
        'present': True,
        'enabled': trigger['enabled'] != 'D',
        'up_to_date': up_to_date,
        'tags': sorted(trigger['tags'] or []),
        'tracked_schemas': tracked,
    }
    if trigger['enabled'] == 'D':
        problems.append('Event trigger %s is disabled, so tables created later do not get REPLICA IDENTITY FULL. '
                        'Fix: ALTER EVENT TRIGGER %s ENABLE.' % (name, name))
    if not up_to_date:
        problems.append('Event trigger %s is outdated (for example Bemi\'s manual version, which scans every table on '
                        'each CREATE TABLE, fails with another search_path and misses CREATE TABLE AS). %s replaces it.'
                        % (name, fix))
    elif tracked is not None and '*' not in tracked:
        uncovered = sorted(set(schema for schema in schemas if schema != '*') - set(tracked))
        if '*' in schemas or uncovered:
            problems.append('Event trigger %s covers only schemas %s, not %s. %s and the same schemas option.'
                            % (name, ', '.join(tracked) or 'none', ', '.join(uncovered) or 'every schema', fix))
    return problems


def role_problems(role, role_name, tables, report):
    problems = []
    name = quote_ident(role_name)
    if role is None:
        report['role'] = None
        return problems
    if role is False:
        report['role'] = {'name': role_name, 'exists': False, 'login': None, 'replication': None,
                          'rds_replication': None, 'superuser': None, 'cannot_select': None}
        problems.append('Role %s does not exist, so Bemi cannot connect. Fix: create it with bemi.postgresql.bemi_role.'
                        % name)
        return problems
    cannot_select = None
    if tables is not None:
        cannot_select = sorted(display_table(t['schema'], t['name']) for t in tables
                               if t['published'] and t['role_can_select'] is False)
    report['role'] = {
        'name': role['name'],
        'exists': True,
        'login': role['login'],
        'replication': role['replication'],
        'rds_replication': role['rds_replication'],
        'superuser': role['superuser'],
        'cannot_select': cannot_select,
    }
    if not role['login']:
        problems.append('Role %s cannot log in (NOLOGIN). Fix: ALTER ROLE %s LOGIN (bemi.postgresql.bemi_role).'
                        % (name, name))
    if not (role['replication'] or role['rds_replication'] or role['superuser']):
        problems.append('Role %s has no REPLICATION attribute (nor membership in rds_replication), so it cannot '
                        'stream changes. Fix: ALTER ROLE %s REPLICATION (bemi.postgresql.bemi_role with '
                        'replication: true).' % (name, name))
    if cannot_select:
        problems.append('Role %s cannot SELECT published %s, so Bemi cannot read them. Fix: GRANT SELECT on them '
                        '(bemi.postgresql.bemi_role with their schemas).' % (name, tables_phrase(cannot_select)))
    return problems
