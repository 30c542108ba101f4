# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How the probe reads the server's messages (as PostgreSQL 13-18 word them) into a step's failure and fix."""

from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils import driver
from ansible_collections.bemi.postgresql.plugins.module_utils.findings import finding, summarize
from ansible_collections.bemi.postgresql.plugins.module_utils.probe import (
    add_to_report,
    classify,
    describe_backend,
    probe_target,
    skipped_in_check_mode,
)

TARGET = {'host': '10.0.0.5', 'port': 5432, 'user': 'bemi', 'dbname': 'shop'}
PREAMBLE = 'connection to server at "10.0.0.5", port 5432 failed: FATAL:  '


def error(message):
    return driver.DatabaseError(message)


@pytest.mark.parametrize('message, code, fix', [
    ('no pg_hba.conf entry for host "10.0.0.9", user "bemi", database "shop", SSL off', 'probe_pg_hba',
     'pg_hba.conf has no line for database shop user bemi from 10.0.0.9: add "host shop bemi 10.0.0.9/32'),
    ('no pg_hba.conf entry for host "10.0.0.9", user "bemi", database "shop", no encryption', 'probe_pg_hba',
     'from 10.0.0.9'),
    ('password authentication failed for user "bemi"', 'probe_password', 'VALID UNTIL'),
    ('must be superuser or replication role to start walsender', 'probe_replication', 'ALTER ROLE bemi REPLICATION'),
    ('permission denied to start WAL sender\nDETAIL:  Only roles with the REPLICATION attribute may start a WAL '
     'sender process.', 'probe_replication', 'ALTER ROLE bemi REPLICATION'),
    ('number of requested standby connections exceeds max_wal_senders (currently 1)', 'probe_wal_senders',
     'no free WAL sender'),
    ('permission denied for database "shop"\nDETAIL:  User does not have CONNECT privilege.',
     'probe_connect_privilege', 'GRANT CONNECT ON DATABASE shop TO bemi'),
    ('role "bemi" does not exist', 'probe_role_missing', 'bemi_role'),
    ('sorry, too many clients already', 'probe_connections', 'max_connections'),
    ('Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?',
     'probe_unreachable', 'listen_addresses'),
])
def test_connect_failures(message, code, fix):
    failure = classify('connect', error(PREAMBLE + message), TARGET)
    assert failure.code == code
    assert fix in failure.fix
    assert not failure.error.startswith('connection to server'), failure.error
    assert '\n' not in failure.error


@pytest.mark.parametrize('step, message, code', [
    ('create_slot', 'logical decoding requires wal_level >= logical', 'probe_wal_level'),
    ('create_slot', 'all replication slots are in use', 'probe_slots'),
    ('create_slot', 'terminating connection due to administrator command', 'probe_connection_lost'),
    ('start_replication', 'server closed the connection unexpectedly', 'probe_connection_lost'),
    ('start_replication', 'something new', 'probe_error'),
])
def test_failures_after_login(step, message, code):
    assert classify(step, error(message), TARGET).code == code


def test_blocking_backend_sentence_leaves_out_what_is_unknown():
    row = {'pid': 42, 'usename': 'app', 'datname': 'shop', 'client_addr': '10.0.0.7/32', 'state': 'idle in transaction',
           'xact_age_seconds': 75, 'query_start': '2026-12-01T20:00:00Z'}
    assert describe_backend(row) == ('backend pid 42 (user app, database shop, from 10.0.0.7/32, idle in transaction) '
                                     'transaction open for 75 s last query started at 2026-12-01T20:00:00Z')
    hidden = dict.fromkeys(row, None)
    hidden['pid'] = 43
    assert describe_backend(hidden) == 'backend pid 43'


class FakeInfo(object):
    dbname = 'shop'


class FakeConn(object):
    info = FakeInfo()


@pytest.mark.parametrize('login_host, probe_host, expected', [
    ('', None, '127.0.0.1'),
    ('/var/run/postgresql', None, '127.0.0.1'),
    ('db1.example.com', None, 'db1.example.com'),
    ('db1.example.com', '10.0.0.5', '10.0.0.5'),
])
def test_probe_always_uses_tcp(login_host, probe_host, expected):
    params = {'login_host': login_host, 'probe_host': probe_host, 'login_port': 5433, 'probe_port': None,
              'probe_user': None, 'role': 'cdc', 'probe_ssl_mode': None, 'ssl_mode': 'require', 'probe_timeout': 1,
              'probe_password': 'pw', 'ca_cert': None}
    target = probe_target(params, FakeConn())
    assert target['host'] == expected
    assert (target['port'], target['user'], target['dbname'], target['sslmode']) == (5433, 'cdc', 'shop', 'require')
    assert target['connect_timeout'] == 2


def test_failed_probe_makes_the_report_not_ready():
    other = finding('role_no_connect', 'bemi', 'Z problem')
    report = dict(summarize([other]), ready=True)
    add_to_report(report, {'ok': False, 'code': 'probe_pg_hba', 'problem': 'A probe problem'}, 'bemi')
    assert report['ready'] is False and report['problems'] == ['A probe problem', 'Z problem']
    assert [(f['code'], f['object']) for f in report['findings']] == [('probe_failed', 'probe_pg_hba'),
                                                                      ('role_no_connect', 'bemi')]
    report = dict(summarize([]), ready=True)
    assert add_to_report(report, {'ok': True, 'code': None, 'problem': None}, 'bemi')['ready'] is True


def capacity_report(active):
    report = dict(summarize([]), ready=True, max_replication_slots={'running': 1}, max_wal_senders={'running': 1})
    report['replication_slots'] = [{'name': 'bemi', 'active': active}]
    return report


SLOTS_FULL = {'ok': False, 'code': 'probe_slots', 'note': None,
              'problem': 'The end-to-end probe ... failed at step create_slot: all replication slots are in use. Fix: x.'}
SENDERS_FULL = {'ok': False, 'code': 'probe_wal_senders', 'note': None,
                'problem': 'The end-to-end probe ... failed at step connect: number of requested standby connections '
                           'exceeds max_wal_senders (currently 1). Fix: x.'}


def test_no_spare_slot_or_sender_beside_bemis_own_is_a_note():
    report = add_to_report(capacity_report(False), dict(SLOTS_FULL), 'bemi')
    assert report['ready'] is True and report['problems'] == []
    assert [(f['code'], f['severity']) for f in report['findings']] == [('probe_no_spare_slot', 'note')]
    assert report['probe']['problem'] is None and report['probe']['note'] == report['notes'][0]
    assert 'max_replication_slots (1)' in report['notes'][0] and "Bemi's own slot bemi" in report['notes'][0]
    report = add_to_report(capacity_report(True), dict(SENDERS_FULL), 'bemi')
    assert report['ready'] is True
    assert [f['code'] for f in report['findings']] == ['probe_no_spare_wal_sender']


def test_no_spare_slot_or_sender_without_bemis_own_is_a_problem():
    # No Bemi slot: Bemi needs a slot of its own, so a full server blocks it.
    report = capacity_report(False)
    report['replication_slots'] = [{'name': 'other', 'active': False}]
    assert add_to_report(report, dict(SLOTS_FULL), 'bemi')['ready'] is False
    # Bemi's slot exists but nobody streams: Bemi needs a free WAL sender to connect.
    report = add_to_report(capacity_report(False), dict(SENDERS_FULL), 'bemi')
    assert report['ready'] is False and [f['code'] for f in report['findings']] == ['probe_failed']
    # Slots unreadable: unknown, so the failure stands.
    report = capacity_report(True)
    report['replication_slots'] = None
    assert add_to_report(report, dict(SLOTS_FULL), 'bemi')['ready'] is False


def test_probe_skipped_in_check_mode_is_a_note():
    report = add_to_report(dict(summarize([]), ready=True), skipped_in_check_mode(), 'bemi')
    assert report['ready'] is True and report['probe']['skipped'] is True and report['probe']['ok'] is None
    assert [f['code'] for f in report['findings']] == ['probe_skipped']
    assert report['probe']['note'] == report['notes'][0] and 'check mode changes nothing' in report['notes'][0]
