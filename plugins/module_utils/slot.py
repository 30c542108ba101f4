# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bemi's replication slot: how it is read (for bemi_slot and bemi_info), dropped, and judged.

The slot report has one shape everywhere (``REPORT_KEYS``). ``drop`` ends the
walsender first when asked to, and retries while that walsender exits.
``health`` judges Bemi's slot as findings with stable codes (module_utils/findings.py),
which bemi_info reports with its other findings.
"""

from __future__ import annotations

import time

from ansible_collections.bemi.postgresql.plugins.module_utils import driver
from ansible_collections.bemi.postgresql.plugins.module_utils.driver import DatabaseError, sql
from ansible_collections.bemi.postgresql.plugins.module_utils.failover import slot_list
from ansible_collections.bemi.postgresql.plugins.module_utils.findings import finding
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import backoff_delay, render
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports

# Every key of a slot in a report (bemi_slot's ``slot``, bemi_info's ``replication_slots``).
REPORT_KEYS = ('name', 'type', 'database', 'plugin', 'active', 'active_pid', 'retained_wal_bytes', 'wal_status',
               'safe_wal_size', 'inactive_since', 'invalidation_reason', 'conflicting', 'failover', 'synced')

# Columns that newer servers have; older ones report null.
OPTIONAL_COLUMNS = (
    ('conflicting', 'slot_conflicting', 'conflicting'),
    ('invalidation_reason', 'slot_invalidation_reason', 'invalidation_reason::text'),
    ('failover', 'failover_slots', 'failover'),
    ('synced', 'failover_slots', 'synced'),
    ('inactive_since', 'slot_inactive_since', "to_char(inactive_since AT TIME ZONE 'UTC', "
                                              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"),
)

OBJECT_IN_USE = '55006'
UNDEFINED_OBJECT = '42704'
# How long a terminated walsender may take to exit before the drop gives up.
DROP_TIMEOUT = 30.0


class SlotError(Exception):
    """A refusal or a failed drop; ``executed`` holds what had already run."""

    def __init__(self, message, executed=()):
        super(SlotError, self).__init__(message)
        self.executed = list(executed)


def slots_query(server_version, one=False):
    """All slots (or, with ``one``, the slot named by the only parameter), with their walsender's address.

    ``backend_type`` tells a walsender (Bemi) from other holders, such as a standby's slot
    synchronization worker or a session calling pg_logical_slot_get_changes.

    The current position minus restart_lsn is what the slot keeps on disk.
    """
    optional = ', '.join('%s AS %s' % (expression if supports(server_version, feature) else 'NULL', column)
                         for column, feature, expression in OPTIONAL_COLUMNS)
    return (
        "SELECT s.slot_name::text AS name, s.database::text AS database, s.plugin::text AS plugin, "
        "s.slot_type AS type, s.active, s.active_pid, s.wal_status, s.safe_wal_size, "
        "pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, "
        "s.restart_lsn)::bigint AS retained_wal_bytes, "
        "pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, "
        "s.confirmed_flush_lsn)::bigint AS lag_bytes, " + optional + ", "
        "host(a.client_addr) AS client_addr, a.client_port, a.application_name::text AS application_name, "
        "a.usename::text AS client_user, a.backend_type::text AS backend_type "
        "FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid "
        + ("WHERE s.slot_name = %s " if one else "") + "ORDER BY s.slot_name"
    )


def report(row):
    """The slot as users see it (``REPORT_KEYS``), or None."""
    if row is None:
        return None
    return dict((key, row.get(key)) for key in REPORT_KEYS)


def walsender(row):
    """``pid 1234 (client 10.0.0.5:53422, application bemi, user bemi)``: who holds the slot."""
    if row['client_addr']:
        where = 'client %s:%s' % (row['client_addr'], row['client_port'])
    elif row['client_port'] == -1:
        where = 'client on the local unix socket'
    else:
        where = 'client address not visible to this login'
    details = [where]
    if row.get('application_name'):
        details.append('application %s' % row['application_name'])
    if row.get('client_user'):
        details.append('user %s' % row['client_user'])
    return 'pid %s (%s)' % (row['active_pid'], ', '.join(details))


def refusal(row):
    """The error for dropping an active slot without ``terminate``."""
    return ('Replication slot %s is active: the walsender %s is streaming from it. Refusing to drop it, since that '
            'would cut that reader off. Fix: stop the reader (Bemi) first, or run again with terminate: true '
            '(bemi_terminate_slot: true in the role) to end that walsender and drop the slot.'
            % (row['name'], walsender(row)))


def check_manageable(row):
    """SlotError unless the slot in ``row`` is a logical slot of this server's own (not a standby's physical
    slot, nor a copy synchronized from the primary, PostgreSQL 17+)."""
    if row['type'] != 'logical':
        raise SlotError('Replication slot %s is a physical slot (a standby or a backup tool streams WAL through it), '
                        'not a logical slot such as Bemi\'s, so bemi_slot leaves it alone. Fix: check the name; drop '
                        'a physical slot that is no longer used by hand (pg_drop_replication_slot).' % row['name'])
    if row.get('synced'):
        raise SlotError('Replication slot %s is synchronized from the primary (synced): the primary owns it, and this '
                        'standby\'s slot synchronization worker keeps the copy in step. Fix: run bemi_slot on the '
                        'primary; dropping the slot there removes this copy too.' % row['name'])


def check_terminable(row):
    """SlotError unless the process that holds the slot is a walsender, the only kind bemi_slot ends."""
    if row.get('backend_type') != 'walsender':
        raise SlotError('Replication slot %s is in use by a %s (pid %s), not by a walsender; bemi_slot ends only '
                        'walsenders. Fix: wait until that process releases the slot, then run again.'
                        % (row['name'], row.get('backend_type') or 'process', row['active_pid']))


def terminate_statement(pid):
    return sql.SQL('SELECT pg_terminate_backend({})').format(sql.Literal(pid))


def drop_statement(name):
    return sql.SQL('SELECT pg_drop_replication_slot({})').format(sql.Literal(name))


def plan_drop(row, terminate):
    """The statements that drop the slot in ``row`` (None: nothing to drop); SlotError when refused."""
    if row is None:
        return []
    check_manageable(row)
    statements = []
    if row['active']:
        check_terminable(row)
        if not terminate:
            raise SlotError(refusal(row))
        statements.append(terminate_statement(row['active_pid']))
    statements.append(drop_statement(row['name']))
    return statements


def create_statement(name, failover):
    if failover:
        return sql.SQL("SELECT pg_create_logical_replication_slot({}, 'pgoutput', failover => true)").format(
            sql.Literal(name))
    return sql.SQL("SELECT pg_create_logical_replication_slot({}, 'pgoutput')").format(sql.Literal(name))


def alter_failover_statement(name, failover):
    """A replication command (over a ``replication=database`` connection), not SQL."""
    return sql.SQL('ALTER_REPLICATION_SLOT {} ( FAILOVER {} )').format(
        sql.Identifier(name), sql.SQL('true' if failover else 'false'))


def plan_present(row, name, create, failover, terminate):
    """[('sql' | 'replication', statement)] for state=present; SlotError when it cannot be done.

    Never creates a slot unless ``create``; ``failover`` None leaves the flag alone.
    """
    if row is None:
        return [('sql', create_statement(name, failover))] if create else []
    if failover is None or row['failover'] is None or bool(row['failover']) == failover:
        return []
    if row['synced']:
        raise SlotError('Replication slot %s is synchronized from the primary (synced), so its failover flag is set '
                        'there. Fix: run bemi_slot with failover on the primary.' % name)
    if row['type'] != 'logical':
        raise SlotError('Replication slot %s is a physical slot; failover applies to logical slots.' % name)
    steps = []
    if row['active']:
        check_terminable(row)
        if not terminate:
            raise SlotError('Replication slot %s is active: the walsender %s is streaming from it, and PostgreSQL '
                            'changes the failover flag only of an idle slot. Fix: stop the reader (Bemi) for a '
                            'moment, or run again with terminate: true to end that walsender (Bemi reconnects and '
                            'resumes from the slot, losing nothing).' % (name, walsender(row)))
        steps.append(('sql', terminate_statement(row['active_pid'])))
    steps.append(('replication', alter_failover_statement(name, failover)))
    return steps


def drop(conn, name, read_row, terminate=False, sleep=time.sleep, clock=time.monotonic, timeout=DROP_TIMEOUT):
    """Drop the slot, with ``terminate`` ending its walsender first (again if a reader reconnects)."""
    return when_idle(conn, name, read_row, lambda executed: _run(conn, drop_statement(name), executed),
                     'drop', terminate, sleep, clock, timeout)


def when_idle(conn, name, read_row, action, verb, terminate, sleep=time.sleep, clock=time.monotonic,
              timeout=DROP_TIMEOUT):
    """Run ``action(executed)`` on the slot once no walsender holds it; the statements run.

    ``read_row()`` re-reads the slot. Without ``terminate``, a reader that
    connected since the plan was made is left alone: PostgreSQL refuses the
    action ("replication slot ... is active for PID n"), which becomes a
    SlotError. With it, the walsender (never another kind of process) is
    terminated; it exits asynchronously, so the action is retried (with
    back-off) while PostgreSQL says the slot is in use.
    """
    executed = []
    terminated = set()
    deadline = clock() + timeout
    attempt = 0
    while True:
        row = read_row()
        if row is None:
            return executed
        if terminate and row['active'] and row['active_pid'] and row['active_pid'] not in terminated:
            check_terminable(row)
            terminated.add(row['active_pid'])
            _run(conn, terminate_statement(row['active_pid']), executed)
        done = len(executed)
        try:
            action(executed)
            return executed
        except DatabaseError as exc:
            del executed[done:]
            if driver.sqlstate(exc) == UNDEFINED_OBJECT and verb == 'drop':
                # Gone meanwhile (a cluster manager dropped it, or another run): what was asked.
                return executed
            if driver.sqlstate(exc) == OBJECT_IN_USE and not terminate:
                raise SlotError('Could not %s replication slot %s: a reader connected after it was found idle (%s), '
                                'and it was left streaming; nothing was changed. Fix: stop the reader (Bemi) first, '
                                'or run again with terminate: true to end that walsender.'
                                % (verb, name, first_line(exc)), executed)
            if driver.sqlstate(exc) != OBJECT_IN_USE or clock() > deadline:
                raise SlotError('Could not %s replication slot %s: %s (after running: %s)'
                                % (verb, name, first_line(exc), '; '.join(executed) or 'nothing'),
                                executed)
        sleep(min(backoff_delay(attempt, base=0.2, cap=1.0, rand=lambda: 1.0), max(0.0, deadline - clock())))
        attempt += 1


def first_line(exc):
    return str(exc).strip().splitlines()[0]


def replication_run(conn, params, statement, executed):
    """Run a replication command over a new ``replication=database`` connection with ``params`` (libpq)."""
    text = render(conn, statement)
    executed.append(text)
    try:
        repl = driver.connect(dict(params, replication='database'))
    except DatabaseError as exc:
        raise SlotError('Could not open a replication connection for %s: %s Fix: pg_hba.conf must allow a '
                        '"replication" connection for this login (and it needs the REPLICATION attribute).'
                        % (text, str(exc).strip().splitlines()[0]), executed[:-1])
    try:
        repl.autocommit = True
        with repl.cursor() as cur:
            cur.execute(text)
    finally:
        repl.close()


def _run(conn, statement, executed):
    executed.append(render(conn, statement))
    with conn.cursor() as cur:
        cur.execute(statement)


# -- health -----------------------------------------------------------------

MB = 1024 * 1024
GB = 1024 * MB
RESYNC_FIX = ('Bemi must re-sync: drop the slot (bemi.postgresql.bemi_slot with state: absent), then reconnect Bemi so '
              'it creates a new slot and takes a fresh snapshot of the tracked tables; the changes made while the '
              'slot was invalid are not in the audit trail.')

HEALTH_QUERY = (
    "SELECT name, setting, unit FROM pg_settings "
    "WHERE name IN ('idle_replication_slot_timeout', 'max_wal_size', 'max_slot_wal_keep_size', "
    "'synchronized_standby_slots')"
)
# Physical walsenders (standbys streaming from here) have no database.
STREAMING_STANDBYS = ("(SELECT count(*) FROM pg_stat_activity "
                      "WHERE backend_type = 'walsender' AND datname IS NULL)::int")
LSN_QUERY = (
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn, "
    "extract(epoch FROM clock_timestamp())::float8 AS at"
)
LSN_DIFF_QUERY = "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)::float8 AS bytes"

SECONDS_PER_UNIT = {'ms': 0.001, 's': 1, 'min': 60, 'h': 3600, 'd': 86400}


def seconds_setting(row):
    """A time setting of pg_settings in seconds (0 stays 0, meaning off)."""
    if row is None:
        return None
    return int(float(row['setting']) * SECONDS_PER_UNIT.get(row['unit'] or 's', 1))


def read_health(query, server, sample_seconds, sleep=time.sleep):
    """Server facts for slot health; with ``sample_seconds``, the WAL rate in bytes per second.

    ``server`` holds what the caller read already: ``server_version_num``, ``in_recovery``
    and ``streaming_standbys`` (STREAMING_STANDBYS).
    ``query(statement, args)`` returns rows as dicts. The rate comes from two
    reads of the current WAL position (the replayed one on a standby), which
    counts every WAL record, as pg_stat_wal would, on every supported version.
    """
    settings = dict((row['name'], row) for row in query(HEALTH_QUERY, None))
    idle = None
    if supports(server['server_version_num'], 'idle_replication_slot_timeout'):
        idle = seconds_setting(settings.get('idle_replication_slot_timeout'))
    facts = {
        'server_version': server['server_version_num'],
        'in_recovery': server['in_recovery'],
        'standbys': server['streaming_standbys'],
        'idle_replication_slot_timeout': idle,
        'wal_rate_bytes_per_second': None,
        # PostgreSQL 17+ (absent before): the physical slots that failover slots wait for.
        'synchronized_standby_slots': slot_list((settings.get('synchronized_standby_slots') or {}).get('setting')),
    }
    if sample_seconds:
        first = query(LSN_QUERY, None)[0]
        sleep(sample_seconds)
        second = query(LSN_QUERY, None)[0]
        if first['lsn'] and second['lsn'] and second['at'] > first['at']:
            written = query(LSN_DIFF_QUERY, (second['lsn'], first['lsn']))[0]['bytes']
            facts['wal_rate_bytes_per_second'] = max(0, int(round(written / (second['at'] - first['at']))))
    return facts


def outage_budget(bemi_slot, keep_size_mb, rate, idle_timeout):
    """Seconds Bemi may stay away before its slot is invalidated; None when nothing would invalidate it.

    WAL left: the slot's ``safe_wal_size``, or the whole budget before Bemi has
    a slot. At ``rate`` bytes per second that lasts WAL-left / rate. On
    PostgreSQL 18, ``idle_replication_slot_timeout`` (when on) may end it sooner.
    """
    limits = []
    if rate is not None:
        if bemi_slot is not None:
            wal_left = bemi_slot.get('safe_wal_size')
        else:
            wal_left = keep_size_mb * MB if keep_size_mb is not None and keep_size_mb >= 0 else None
        if wal_left is not None and rate > 0:
            limits.append(int(max(0, wal_left) // rate))
    if idle_timeout:
        limits.append(idle_timeout)
    return min(limits) if limits else None


def slot_findings(slot, slot_name):
    """Findings about the health of one slot (only Bemi's slot is judged here)."""
    if slot is None or slot['name'] != slot_name:
        return []
    obj = 'replication slot %s' % slot['name']
    invalid = slot['wal_status'] == 'lost' or slot.get('invalidation_reason') or slot.get('conflicting')
    if invalid:
        why = 'wal_status %s' % slot['wal_status']
        if slot.get('invalidation_reason'):
            why += ', invalidation_reason %s' % slot['invalidation_reason']
        return [finding('slot_invalidated', obj,
                        'Replication slot %s is invalidated (%s), so Bemi cannot resume streaming from it.'
                        % (slot['name'], why), RESYNC_FIX)]
    if slot['wal_status'] == 'unreserved':
        return [finding('slot_unreserved', obj,
                        'Replication slot %s retains more WAL than max_slot_wal_keep_size allows (wal_status '
                        'unreserved): the next checkpoint removes that WAL and invalidates the slot.' % slot['name'],
                        'Reconnect Bemi now so it catches up, or raise max_slot_wal_keep_size '
                        '(bemi_max_slot_wal_keep_size in the tracking role) and reload PostgreSQL.')]
    if slot['wal_status'] == 'extended':
        return [finding('slot_extended', obj,
                        'Replication slot %s retains more WAL than max_wal_size (wal_status extended); it is still '
                        'within max_slot_wal_keep_size.' % slot['name'],
                        'Nothing to do if Bemi is connected and catching up; otherwise check Bemi.')]
    return []


def timeout_findings(idle_timeout, budget_by_wal, slot_name):
    """PostgreSQL 18: an idle_replication_slot_timeout shorter than what the WAL budget allows."""
    if not idle_timeout or (budget_by_wal is not None and idle_timeout >= budget_by_wal):
        return []
    window = ('the %d s the WAL budget would allow at the sampled rate' % budget_by_wal if budget_by_wal is not None
              else 'what the WAL budget allows')
    return [finding('idle_slot_timeout_short', 'setting idle_replication_slot_timeout',
                    'idle_replication_slot_timeout = %d s invalidates replication slot %s after that long without a '
                    'reader, sooner than %s; a normal Bemi outage could then force a re-sync.'
                    % (idle_timeout, slot_name, window),
                    'Set idle_replication_slot_timeout = 0 (off) or longer than the outages Bemi must survive, '
                    'and let max_slot_wal_keep_size bound the disk instead.')]


def health(slots, slot_name, keep_size_mb, facts, cluster_manager=None):
    """(report fields, findings) of slot health: Bemi's slot judged, the outage budget computed.

    ``slots`` are rows of ``slots_query`` (``lag_bytes`` is not in the report's shape) or None when unreadable;
    ``facts`` come from ``read_health``.
    Under a cluster manager (Patroni keeps its permanent slots on the replicas itself), PostgreSQL's
    failover slots are not how the slot survives, so their findings do not apply.
    """
    bemi_slot = next((slot for slot in slots or [] if slot['name'] == slot_name), None)
    rate = facts['wal_rate_bytes_per_second']
    idle = facts['idle_replication_slot_timeout']
    fields = {
        'wal_rate_bytes_per_second': rate,
        'outage_budget_seconds': outage_budget(bemi_slot, keep_size_mb, rate, idle),
        'idle_replication_slot_timeout': idle,
    }
    findings = slot_findings(bemi_slot, slot_name)
    if bemi_slot is None or not findings:
        findings += timeout_findings(idle, outage_budget(bemi_slot, keep_size_mb, rate, None), slot_name)
    if facts.get('server_version') is not None:
        fields['failover'] = failover_report(bemi_slot, facts)
        if cluster_manager is None:
            findings += failover_findings(fields['failover'], slot_name)
            findings += standby_slot_findings(slots, bemi_slot, facts)
    return fields, findings


def failover_report(bemi_slot, facts):
    """Whether Bemi's slot survives a promotion, as far as this server can tell."""
    return {
        'supported': supports(facts['server_version'], 'failover_slots'),
        'standby': facts['in_recovery'],
        'streaming_standbys': facts['standbys'],
        'slot_failover': bemi_slot.get('failover') if bemi_slot else None,
        'slot_synced': bemi_slot.get('synced') if bemi_slot else None,
        'slot_lag_bytes': bemi_slot.get('lag_bytes') if bemi_slot and facts['in_recovery'] else None,
    }


def standby_slot_findings(slots, bemi_slot, facts):
    """On a primary, each slot of synchronized_standby_slots that no standby streams from: failover slots wait for it.

    A standby that restarts is normal, so this is a note; one that never returns holds Bemi back for good.
    """
    listed = facts.get('synchronized_standby_slots') or []
    if facts['in_recovery'] or slots is None or not listed or (bemi_slot and bemi_slot.get('failover') is False):
        return []
    found = []
    by_name = dict((slot['name'], slot) for slot in slots)
    for name in listed:
        slot = by_name.get(name)
        if slot is not None and slot['active']:
            continue
        state = 'does not exist' if slot is None else 'has no standby streaming from it (inactive)'
        found.append(finding('synchronized_standby_slot_inactive', 'replication slot %s' % name,
                             'Physical slot %s is listed in synchronized_standby_slots but %s: failover slots, '
                             'Bemi\'s included, send no change that this standby has not received, so Bemi receives '
                             'nothing until it streams again.' % (name, state),
                             'bring that standby back; if it is gone for good, drop its slot on the primary '
                             '(pg_drop_replication_slot) and run bemi.postgresql.bemi_failover_slots again, or leave '
                             'it out of its standby_slots.'))
    return found


def failover_findings(failover, slot_name):
    """Failover safety of Bemi's slot (PostgreSQL 17 failover slots), judged on a primary or a standby."""
    obj = 'replication slot %s' % slot_name
    setup = ('on each standby set sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name and a '
             'dbname in primary_conninfo, and list the standbys\' physical slots in synchronized_standby_slots on '
             'the primary (the tracking role does all of this with bemi_failover_slots)')
    if not failover['supported']:
        if failover['standby'] or not failover['streaming_standbys']:
            return []
        return [finding('slot_not_failover_safe', obj,
                        'Replication slot %s lives only on this primary: before PostgreSQL 17 logical slots are not '
                        'synchronized to standbys, so after a failover Bemi must re-sync from the new primary.'
                        % slot_name,
                        'Upgrade to PostgreSQL 17 or newer and use failover slots (bemi.postgresql.bemi_slot with '
                        'failover: true), or a cluster manager that keeps logical slots across a promotion, such '
                        'as Patroni\'s permanent slots.')]
    if failover['standby']:
        if failover['slot_synced'] is None:
            return [finding('standby_slot_missing', obj,
                            'This standby has no synchronized copy of replication slot %s, so if it is promoted Bemi '
                            'must re-sync (unless Bemi has not created its slot on the primary yet).' % slot_name,
                            'Give the slot failover: true on the primary (bemi.postgresql.bemi_slot), and ' + setup + '.')]
        if not failover['slot_synced']:
            return [finding('standby_slot_not_synced', obj,
                            'Replication slot %s on this standby was created here, not synchronized from the '
                            'primary, so it does not follow Bemi\'s position.' % slot_name,
                            'Drop it on the standby, give the primary\'s slot failover: true, and ' + setup + '.')]
        return []
    if failover['streaming_standbys'] and failover['slot_failover'] is False:
        return [finding('slot_failover_off', obj,
                        'Replication slot %s has failover off, so standbys keep no copy of it: after a promotion it '
                        'is missing and Bemi must re-sync.' % slot_name,
                        'bemi.postgresql.bemi_slot with failover: true, and ' + setup + '.')]
    return []
