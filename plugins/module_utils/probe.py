# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The end-to-end probe of bemi_info: Bemi's own login and stream, with a temporary slot.

``run(admin, params)`` logs in as the Bemi role over TCP with a
``replication=database`` connection, runs IDENTIFY_SYSTEM, checks the
publication as that role sees it, creates a TEMPORARY ``pgoutput`` slot, starts
streaming on the publication and (PostgreSQL 14+, pgoutput's ``messages``)
waits for a transactional message that the admin connection emits.

Every blocking step is bounded by ``probe_timeout``: a watchdog thread cancels
it (after noting which backends hold the transactions a slot creation waits
for). The slot is temporary, so it ends with the probe's session; the last
step checks from the admin connection that it is gone, and ends the session
if it is not.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

from ansible_collections.bemi.postgresql.plugins.module_utils import driver
from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    DatabaseError,
    error_text,
    query,
    sql,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.findings import finding, sentence, summarize
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports

APPLICATION_NAME = 'bemi.postgresql probe'
MESSAGE_PREFIX = 'bemi.postgresql.probe'
# libpq's connect_timeout: values under 2 s are raised to 2.
MIN_CONNECT_TIMEOUT = 2
# How long the cleanup step may take after the steps' budget, to make sure the slot is gone.
CLEANUP_GRACE = 3.0
# How long a cancelled step may take to return before the watchdog shuts its socket down.
ABORT_AFTER = 1.5

SLOT_QUERY = "SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = %s"

# The backends whose transactions a slot creation waits for: the lock holders of
# the waiting walsender, else (a wait not on a heavyweight lock) the oldest transactions with an xid.
BLOCKERS_QUERY = (
    "SELECT a.pid, a.usename::text AS usename, a.datname::text AS datname, a.client_addr::text AS client_addr, "
    "a.state, floor(extract(epoch FROM now() - a.xact_start))::int AS xact_age_seconds, "
    "to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS query_start "
    "FROM pg_catalog.pg_stat_activity a "
    "WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(%(pid)s)) "
    "OR (cardinality(pg_catalog.pg_blocking_pids(%(pid)s)) = 0 AND a.backend_xid IS NOT NULL "
    "    AND a.pid <> %(pid)s AND a.pid <> pg_catalog.pg_backend_pid()) "
    "ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 5"
)


class ProbeFailure(Exception):
    """A failed step: ``code`` for machines, ``error`` (what happened) and ``fix`` for people."""

    def __init__(self, code, error, fix):
        super(ProbeFailure, self).__init__(error)
        self.step = None
        self.code = code
        self.error = error
        self.fix = fix


def probe_target(params, admin):
    """libpq parameters of Bemi's login: TCP to probe_host (else a TCP login_host, else 127.0.0.1)."""
    login_host = params.get('login_host') or ''
    host = params.get('probe_host') or (login_host if login_host and not login_host.startswith('/') else '127.0.0.1')
    target = {
        'host': host,
        'port': params.get('probe_port') or params.get('login_port') or 5432,
        'user': params.get('probe_user') or params.get('role') or 'bemi',
        'dbname': admin.info.dbname,
        'sslmode': params.get('probe_ssl_mode') or params.get('ssl_mode') or 'prefer',
        'connect_timeout': max(MIN_CONNECT_TIMEOUT, int(params['probe_timeout'])),
        'application_name': APPLICATION_NAME,
    }
    if params.get('probe_password'):
        target['password'] = params['probe_password']
    if params.get('ca_cert'):
        target['sslrootcert'] = params['ca_cert']
    return target


def run(admin, params, publication):
    """Probe Bemi's path; return ``{ok, skipped, seconds, steps, code, problem, note}``."""
    return _Probe(admin, probe_target(params, admin), publication, float(params['probe_timeout'])).run()


def skipped_in_check_mode():
    """The probe's result in check mode: it creates a slot and writes WAL, and check mode changes nothing."""
    return {'ok': None, 'skipped': True, 'seconds': 0.0, 'steps': [], 'code': None, 'problem': None, 'note': None}


def add_to_report(report, result, slot_name):
    """Put the probe's result into a bemi_info report.

    A failed probe is a problem that makes the report not ready, except where only the probe lacks
    room that Bemi, holding its own slot or WAL sender, does not need: that is a note (``result``'s
    ``note`` instead of ``problem``). A probe skipped in check mode is a note too.
    """
    report['probe'] = result
    if result.get('skipped'):
        found = finding('probe_skipped', 'probe', 'The end-to-end probe was skipped: it creates a temporary '
                        'replication slot and writes a WAL message, and check mode changes nothing.',
                        'run bemi_info without check mode to probe.')
        result['note'] = sentence(found)
    elif not result['ok']:
        found = own_capacity_note(report, result, slot_name)
        if found:
            result['note'], result['problem'] = sentence(found), None
        else:
            found = finding('probe_failed', result['code'], result['problem'])
            report['ready'] = False
    else:
        return report
    report.update(summarize(report['findings'] + [found]))
    return report


def own_capacity_note(report, result, slot_name):
    """A note when the probe failed only for want of a slot or WAL sender while Bemi has its own, or None.

    Bemi reuses its existing slot (no new one needed), and while it streams it holds its WAL sender.
    """
    slots = report.get('replication_slots')
    bemi_slot = next((slot for slot in slots or [] if slot['name'] == slot_name), None)
    if bemi_slot is None:
        return None
    if result['code'] == 'probe_slots' and re.search('all replication slots are in use', result['problem'] or ''):
        return finding('probe_no_spare_slot', slot_name,
                       'The end-to-end probe could not create its temporary slot: every slot of '
                       'max_replication_slots (%s) is in use, one of them Bemi\'s own slot %s. Bemi reuses that '
                       'slot and needs no other, so this is not a problem for Bemi; the probe proved the login and '
                       'the publication only.' % (report['max_replication_slots']['running'], slot_name),
                       'nothing for Bemi. To probe all the way, raise max_replication_slots by one '
                       '(bemi.postgresql.bemi_wal_level min_replication_slots, then a restart).')
    if result['code'] == 'probe_wal_senders' and bemi_slot.get('active'):
        return finding('probe_no_spare_wal_sender', slot_name,
                       'The end-to-end probe could not log in: every WAL sender of max_wal_senders (%s) is in use, '
                       'one of them by Bemi streaming from slot %s now. Bemi has its connection, so this is not a '
                       'problem for Bemi, but the probe proved nothing.'
                       % (report['max_wal_senders']['running'], slot_name),
                       'nothing for Bemi. To probe, raise max_wal_senders by one (bemi.postgresql.bemi_wal_level '
                       'min_wal_senders, then a restart); Bemi then also has a sender free to reconnect while its '
                       'old one is still ending.')
    return None


class _Probe:
    def __init__(self, admin, target, publication, timeout):
        self.admin = admin
        self.target = target
        self.publication = publication
        self.timeout = timeout
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.steps = []
        self.session = None
        self.slot = 'bemi_probe_%s' % secrets.token_hex(6)
        self.blockers = None

    def run(self):
        failure = None
        try:
            self._run_steps()
        except ProbeFailure as exc:
            failure = exc
        cleanup = self._step('cleanup', self._cleanup)
        failures = [found for found in (failure, cleanup) if found]
        return {
            'ok': not failures,
            'skipped': False,
            'seconds': round(time.monotonic() - self.started, 3),
            'steps': self.steps,
            'code': failures[0].code if failures else None,
            'problem': ' '.join(self._sentence(found) for found in failures) or None,
            'note': None,
        }

    def _run_steps(self):
        for name, action in (('connect', self._connect), ('identify_system', self._identify_system),
                             ('publication', self._check_publication), ('create_slot', self._create_slot),
                             ('start_replication', self._start_replication)):
            failure = self._step(name, action)
            if failure:
                raise failure
        if supports(self.admin.info.server_version, 'pgoutput_messages'):
            failure = self._step('receive_message', self._receive_message)
            if failure:
                raise failure

    def _step(self, name, action):
        """Run one step, record it; return its ProbeFailure (or None)."""
        began = time.monotonic()
        failure = None
        try:
            action()
        except ProbeFailure as exc:
            failure = exc
        except DatabaseError as exc:
            failure = classify(name, exc, self.target)
        except (OSError, ValueError) as exc:  # a dropped socket, a libpq option it rejects
            failure = ProbeFailure('probe_error', str(exc).strip(), 'see the error; run the probe again')
        if failure:
            failure.step = name
        self.steps.append({'name': name, 'ok': failure is None, 'seconds': round(time.monotonic() - began, 3),
                           'error': failure.error if failure else None})
        return failure

    def _sentence(self, failure):
        return ('The end-to-end probe (role %s, database %s, via %s port %s) failed at step %s: %s. Fix: %s.'
                % (self.target['user'], self.target['dbname'], self.target['host'], self.target['port'],
                   failure.step, failure.error.rstrip('.'), failure.fix))

    def remaining(self):
        return self.deadline - time.monotonic()

    # -- the steps -----------------------------------------------------------
    def _connect(self):
        target = dict(self.target, connect_timeout=max(MIN_CONNECT_TIMEOUT, int(self.remaining() + 0.999)))
        self.session = driver.replication_connect(target)

    def _identify_system(self):
        rows = self._bounded(lambda: self.session.command(sql.SQL('IDENTIFY_SYSTEM')))
        if not rows or rows[0][3] != self.target['dbname']:
            raise ProbeFailure('probe_not_logical', 'IDENTIFY_SYSTEM did not report database %s'
                               % self.target['dbname'], 'connect with replication=database, as Bemi does')

    def _check_publication(self):
        statement = sql.SQL('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = {}').format(
            sql.Literal(self.publication))
        if not self._bounded(lambda: self.session.command(statement)):
            raise ProbeFailure(
                'probe_publication', 'publication %s does not exist in database %s'
                % (self.publication, self.target['dbname']),
                'create it in that database (bemi.postgresql.bemi_publication, or the tracking role)')

    def _create_slot(self):
        statement = sql.SQL('CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT').format(
            sql.Identifier(self.slot))
        self._bounded(lambda: self.session.command(statement), self._note_blockers)

    def _start_replication(self):
        # pgoutput splits publication_names like an identifier list: quote the name inside the literal.
        names = sql.Identifier(self.publication).as_string(self.session.conn)
        options = sql.SQL("proto_version '1', publication_names {}").format(sql.Literal(names))
        if supports(self.admin.info.server_version, 'pgoutput_messages'):
            options = sql.SQL("{}, messages 'true'").format(options)
        statement = sql.SQL('START_REPLICATION SLOT {} LOGICAL 0/0 ({})').format(sql.Identifier(self.slot), options)
        self._bounded(lambda: self.session.start(statement))

    def _receive_message(self):
        token = secrets.token_hex(8)
        try:
            query(self.admin, 'SELECT pg_catalog.pg_logical_emit_message(true, %s, %s)::text AS lsn',
                  (MESSAGE_PREFIX, token))
        except DatabaseError as exc:
            raise ProbeFailure('probe_emit', 'the admin connection could not emit the test message: %s'
                               % error_text(exc), 'probe as a login_user that may run pg_logical_emit_message') from exc
        wanted = token.encode('ascii')
        while self.remaining() > 0:
            payload = self.session.read(min(self.remaining(), 1.0))
            # pgoutput's logical message: 'M', flags, LSN, prefix, length, content.
            if payload and payload[:1] == b'M' and payload.endswith(wanted):
                return
        raise ProbeFailure('probe_no_message', 'the stream started, but a test message did not arrive within '
                           'probe_timeout (%g s)' % self.timeout,
                           'look for a busy or lagging WAL sender (pg_stat_replication), or raise probe_timeout')

    def _cleanup(self):
        """Close Bemi's session (its temporary slot goes with it) and make sure the slot is gone."""
        if self.session is not None:
            try:
                self.session.close()
            except DatabaseError:  # already broken: the server ends the session anyway
                pass
        # The slot's name is this probe's own, so whoever still holds it is the probe's walsender.
        terminate_at = max(self.deadline, time.monotonic()) + CLEANUP_GRACE / 2
        give_up = terminate_at + CLEANUP_GRACE / 2
        while True:
            rows = query(self.admin, SLOT_QUERY, (self.slot,))
            if not rows:
                return
            pid = rows[0]['active_pid']
            if pid and terminate_at and time.monotonic() > terminate_at:
                query(self.admin, 'SELECT pg_catalog.pg_terminate_backend(%s) AS ended', (pid,))
                terminate_at = None
            if time.monotonic() > give_up:
                raise ProbeFailure('probe_slot_left', 'the temporary slot %s still exists (walsender pid %s)'
                                   % (self.slot, pid), 'SELECT pg_terminate_backend(%s); the slot is dropped '
                                   'with its session' % pid)
            time.sleep(0.1)

    # -- bounding ----------------------------------------------------------
    def _bounded(self, call, on_expiry=None):
        """``call()``, cancelled by a watchdog when the probe's time is up."""
        expired = []
        done = threading.Event()

        def expire():
            expired.append(True)
            if on_expiry:
                on_expiry()
            # A cancel request opens its own connection, without a timeout: never wait for it here.
            threading.Thread(target=self.session.cancel, daemon=True).start()
            if not done.wait(ABORT_AFTER):  # a server that does not even act on the cancel
                self.session.abort()

        watchdog = threading.Timer(max(0.0, self.remaining()), expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            return call()
        except DatabaseError as exc:
            if expired:
                raise self._timeout(on_expiry is not None) from exc
            raise
        finally:
            done.set()
            watchdog.cancel()
            watchdog.join()

    def _note_blockers(self):
        try:
            self.blockers = query(self.admin, BLOCKERS_QUERY, {'pid': self.session.backend_pid})
        except DatabaseError:  # the diagnosis is a bonus; the timeout is reported regardless
            self.blockers = []

    def _timeout(self, diagnosed):
        if diagnosed and self.blockers:
            return ProbeFailure(
                'probe_blocked', 'creating the slot waited more than probe_timeout (%g s) for open transactions '
                'to end: %s' % (self.timeout, '; '.join(describe_backend(row) for row in self.blockers)),
                'end that transaction (COMMIT or ROLLBACK in its application, or SELECT pg_terminate_backend(%s)); '
                'Bemi creating its slot waits the same way' % self.blockers[0]['pid'])
        return ProbeFailure('probe_timeout', 'no answer within probe_timeout (%g s)' % self.timeout,
                            'look for long transactions (pg_stat_activity) or a busy server, or raise probe_timeout')


def describe_backend(row):
    """One blocking backend, for a problem sentence (never its query text, which may hold data)."""
    parts = ['backend pid %s' % row['pid']]
    who = ', '.join(value for value in (
        'user %s' % row['usename'] if row.get('usename') else None,
        'database %s' % row['datname'] if row.get('datname') else None,
        'from %s' % row['client_addr'] if row.get('client_addr') else None,
        row.get('state')) if value)
    if who:
        parts.append('(%s)' % who)
    if row.get('xact_age_seconds') is not None:
        parts.append('transaction open for %s s' % row['xact_age_seconds'])
    if row.get('query_start'):
        parts.append('last query started at %s' % row['query_start'])
    return ' '.join(parts)


# -- failures, by what the server said --------------------------------------
# (code, pattern in the message, fix); the first match wins. %(...)s are filled in from the target.
CONNECT_FAILURES = (
    ('probe_pg_hba', r'no pg_hba\.conf entry',
     'pg_hba.conf has no line for database %(dbname)s user %(user)s from %(client)s: '
     'add "host %(dbname)s %(user)s %(client)s/32 scram-sha-256" (or your network) to pg_hba.conf and reload '
     'PostgreSQL (the tracking role does it with bemi_manage_pg_hba: true); a logical replication connection '
     'matches ordinary database lines, not "replication" ones'),
    ('probe_password', r'password authentication failed|no password supplied|authentication failed',
     "give probe_password the password Bemi uses, set it on role %(user)s (bemi.postgresql.bemi_role, "
     "update_password: always), and check that the role's VALID UNTIL has not passed"),
    ('probe_role_missing', r'role "[^"]*" does not exist',
     'create role %(user)s (bemi.postgresql.bemi_role) or fix probe_user'),
    ('probe_replication', r'replication role to start walsender|permission denied to start WAL sender',
     'ALTER ROLE %(user)s REPLICATION (bemi.postgresql.bemi_role with replication: true), or on a managed '
     'service GRANT rds_replication TO %(user)s'),
    ('probe_wal_senders', r'exceeds "?max_wal_senders',
     'no free WAL sender: raise max_wal_senders (bemi.postgresql.bemi_wal_level min_wal_senders, then a restart) '
     'or stop a replication client that is not needed (pg_stat_replication)'),
    ('probe_connect_privilege', r'permission denied for database|CONNECT privilege',
     'GRANT CONNECT ON DATABASE %(dbname)s TO %(user)s'),
    ('probe_connections', r'too many clients|remaining connection slots are reserved',
     'raise max_connections or close idle connections: Bemi needs one more'),
    ('probe_database_missing', r'database "[^"]*" does not exist', 'create database %(dbname)s or fix login_db'),
    ('probe_unreachable', r'.',
     'check probe_host, probe_port and probe_ssl_mode, listen_addresses in postgresql.conf, and firewalls '
     'between this host and %(host)s'),
)
# After the login: the session ended under the probe (pg_terminate_backend, a restart, the network).
SESSION_FAILURES = (
    ('probe_connection_lost', r'server closed the connection|terminating connection|connection .*(lost|closed)',
     'the session of role %(user)s was ended (pg_terminate_backend, a restart, or the network): look in the '
     'server log for why, then run the probe again'),
)
SLOT_FAILURES = SESSION_FAILURES + (
    ('probe_wal_level', r'wal_level', 'set wal_level = logical and restart PostgreSQL (bemi.postgresql.bemi_wal_level)'),
    ('probe_slots', r'all replication slots are in use|max_replication_slots',
     'drop a replication slot that is not needed (pg_replication_slots) or raise max_replication_slots '
     '(a restart)'),
)


def classify(step, exc, target):
    """A ProbeFailure for a driver error in ``step``, with the fix that matches the server's message."""
    message = ' '.join(str(exc).split())
    if step == 'connect':
        # Drop libpq's 'connection to server at ... failed:' preamble; keep the server's sentence.
        message = re.sub(r'^(connection failed: )?connection to server at [^:]*?failed: (FATAL: +)?', '', message)
        table = CONNECT_FAILURES
    elif step == 'create_slot':
        table = SLOT_FAILURES
    else:
        table = SESSION_FAILURES
    client = re.search(r'host "([^"]+)"', message)
    values = dict(target, client=client.group(1) if client else target['host'])
    for code, pattern, fix in table:
        if re.search(pattern, message, re.IGNORECASE):
            return ProbeFailure(code, message, fix % values)
    if driver.sqlstate(exc) == '57014':  # canceled, not by our watchdog (else _bounded said so)
        return ProbeFailure('probe_canceled', message, 'something canceled the probe; run it again')
    return ProbeFailure('probe_error', message, 'see the error; fix it and run the probe again')
