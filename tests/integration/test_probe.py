"""bemi_info's end-to-end probe on real servers: success, one failure per cause, the fix, and no slot left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import psycopg2
import psycopg2.extras
import pytest

from ansible_run import ROOT, VENV_BIN, ansible_env, run_module

PASSWORD = "pr0be'pw;--é"
SETTINGS = {'wal_level': 'logical', 'log_replication_commands': 'on'}
APP_SQL = """
CREATE TABLE public.items (id int PRIMARY KEY, note text);
ALTER TABLE public.items REPLICA IDENTITY FULL;
CREATE PUBLICATION bemi FOR ALL TABLES;
"""
# The harness's pg_hba.conf without the line that lets other roles in over TCP.
HBA_WITHOUT_TCP = """\
local   all          all                       trust
host    all          postgres   127.0.0.1/32   trust
local   replication  all                       trust
host    replication  postgres   127.0.0.1/32   trust
"""
STEPS = ['connect', 'identify_system', 'publication', 'create_slot', 'start_replication', 'receive_message', 'cleanup']


def prepare(cluster):
    """Database app with a publication, and role bemi as Bemi needs it (password over scram, REPLICATION)."""
    cluster.query('CREATE DATABASE app')
    cluster.query(APP_SQL, dbname='app')
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            # The password is sent as a verifier, so the server log never holds it.
            verifier = psycopg2.extensions.encrypt_password(PASSWORD, 'bemi', conn, 'scram-sha-256')
            cur.execute('CREATE ROLE bemi LOGIN REPLICATION PASSWORD %s', (verifier,))
    finally:
        conn.close()
    return cluster


@pytest.fixture(scope='session')
def server(pool, major):
    """One server per major for the probe tests; each test puts back what it changed."""
    return prepare(pool.get(major, 'probe', SETTINGS))


def probe(cluster, verbosity=0, python=None, **options):
    args = dict(cluster.connection_args(), login_db='app', probe=True, probe_password=PASSWORD, probe_timeout=5)
    args.update(options)
    run = run_module('bemi_info', args, verbosity=verbosity, python=python)
    assert not run.failed, run.result
    assert run['changed'] is False and run['queries'] == []
    return run


def leftover_slots(cluster):
    return cluster.query('SELECT slot_name, active_pid FROM pg_replication_slots')


def expected_steps(major):
    return [step for step in STEPS if major >= 14 or step != 'receive_message']


def assert_ok(run, major):
    result = run['probe']
    assert result['ok'] is True, result
    assert [step['name'] for step in result['steps']] == expected_steps(major)
    assert all(step['ok'] and step['error'] is None for step in result['steps'])
    assert result['problem'] is None and result['code'] is None
    assert not [problem for problem in run['problems'] if 'end-to-end probe' in problem]


def assert_failed(run, step, code, *fragments):
    """The probe failed at ``step`` with ``code``; its problem names the step and the fix; the report is not ready."""
    result = run['probe']
    assert result['ok'] is False, result
    assert result['code'] == code, result
    names = [entry['name'] for entry in result['steps']]
    assert names[-2:] == [step, 'cleanup'], names
    assert result['steps'][-2]['ok'] is False and result['steps'][-2]['error']
    assert result['steps'][-1]['ok'] is True, result['steps'][-1]
    assert 'failed at step %s' % step in result['problem'] and 'Fix: ' in result['problem']
    for fragment in fragments:
        assert fragment in result['problem'], (fragment, result['problem'])
    assert result['problem'] in run['problems']
    assert run['ready'] is False
    return result


def test_probe_succeeds_and_keeps_secrets(server, major):
    offset = len(server.log_text())
    run = probe(server, verbosity=3)
    assert_ok(run, major)
    assert run['probe']['seconds'] < 5
    assert leftover_slots(server) == []
    log = server.log_text()[offset:]
    # Bemi's path really ran: a temporary pgoutput slot and a stream on the quoted publication name.
    assert 'CREATE_REPLICATION_SLOT "bemi_probe_' in log and 'TEMPORARY LOGICAL pgoutput' in log
    assert "publication_names '\"bemi\"'" in log
    assert ("messages 'true'" in log) == (major >= 14)
    for text in (run.stdout, run.stderr, log, repr(run.result)):
        assert PASSWORD not in text and 'pr0be' not in text


def test_probe_off_is_read_only(server):
    offset = len(server.log_text())
    run = run_module('bemi_info', dict(server.connection_args(), login_db='app', probe_password=PASSWORD))
    assert not run.failed and 'probe' not in run.result
    log = server.log_text()[offset:]
    assert 'REPLICATION' not in log and 'emit_message' not in log and 'bemi@' not in log


def test_wrong_password(server, major):
    assert_failed(probe(server, probe_password='not-the-password'), 'connect', 'probe_password',
                  'password authentication failed for user "bemi"', 'VALID UNTIL')
    assert leftover_slots(server) == []


def test_no_replication_attribute(server, major):
    server.query('ALTER ROLE bemi NOREPLICATION')
    try:
        assert_failed(probe(server), 'connect', 'probe_replication', 'ALTER ROLE bemi REPLICATION')
        assert leftover_slots(server) == []
    finally:
        server.query('ALTER ROLE bemi REPLICATION')
    assert_ok(probe(server), major)


def test_publication_missing(server, major):
    server.query('DROP PUBLICATION bemi', dbname='app')
    try:
        assert_failed(probe(server), 'publication', 'probe_publication',
                      'publication bemi does not exist in database app', 'bemi_publication')
        assert leftover_slots(server) == []
    finally:
        server.query('CREATE PUBLICATION bemi FOR ALL TABLES', dbname='app')
    assert_ok(probe(server), major)


def hold_transaction(cluster):
    """An open transaction with an xid: logical slot creation waits for it to end."""
    conn = cluster.connect(dbname='app')
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute('INSERT INTO public.items VALUES (1, %s)', ('held',))
        cur.execute('SELECT pg_backend_pid()')
        pid = cur.fetchone()[0]
    return conn, pid


def test_transaction_held_open(server, major):
    conn, pid = hold_transaction(server)
    try:
        result = assert_failed(probe(server, probe_timeout=3), 'create_slot', 'probe_blocked',
                               'backend pid %d (user postgres, database app, idle in transaction)' % pid,
                               'transaction open for', 'last query started at',
                               'pg_terminate_backend(%d)' % pid)
        # Bounded: 3 s for the steps, then the cleanup's grace (measured inside the module: Ansible's own
        # start-up on a loaded machine says nothing about the probe).
        assert result['seconds'] < 3 + 3.5, result
        assert leftover_slots(server) == []
    finally:
        conn.rollback()
        conn.close()
    assert_ok(probe(server), major)


def wait_for(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError('timed out waiting for %s' % condition)


def probe_walsender(cluster):
    rows = cluster.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'bemi.postgresql probe'")
    return rows[0][0] if rows else None


def test_walsender_killed_during_slot_creation(server, major):
    """The probe's walsender ends mid-step: the probe says so, and the slot goes with it."""
    conn, dummy = hold_transaction(server)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(run=probe(server, probe_timeout=60)))
    try:
        worker.start()
        walsender = wait_for(lambda: probe_walsender(server))
        wait_for(lambda: leftover_slots(server))
        server.query('SELECT pg_terminate_backend(%s)', (walsender,))
        worker.join(60)
        result = assert_failed(outcome['run'], 'create_slot', 'probe_connection_lost',
                               'pg_terminate_backend, a restart, or the network')
        assert result['seconds'] < 30
        assert leftover_slots(server) == []
    finally:
        conn.rollback()
        conn.close()
        worker.join(60)


def test_frozen_walsender_never_holds_the_probe(server, major):
    """A walsender that stops answering, even the cancel: the probe returns in time and says the slot is left."""
    conn, dummy = hold_transaction(server)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(run=probe(server, probe_timeout=10)))
    walsender = None
    try:
        worker.start()
        walsender = wait_for(lambda: probe_walsender(server))
        wait_for(lambda: leftover_slots(server))
        os.kill(walsender, signal.SIGSTOP)
        worker.join(300)
        result = outcome['run']['probe']
        assert result['code'] == 'probe_blocked', result
        assert [(step['name'], step['ok']) for step in result['steps']][-2:] == [('create_slot', False),
                                                                                 ('cleanup', False)]
        assert 'still exists' in result['problem'] and 'pg_terminate_backend(%d)' % walsender in result['problem']
        # The steps' 10 s, the watchdog's 1.5 s wait for the cancel, and the cleanup's 3 s.
        assert result['seconds'] < 10 + 1.5 + 3 + 1, result
    finally:
        if walsender:
            os.kill(walsender, signal.SIGCONT)
        conn.rollback()
        conn.close()
        worker.join(300)
    # Awake again, the walsender acts on the termination, and its temporary slot goes with it.
    wait_for(lambda: leftover_slots(server) == [], timeout=30)


def test_probe_process_killed(server, major):
    """The module's process dies mid-probe: the temporary slot goes with the session once it can end."""
    conn, dummy = hold_transaction(server)
    args = dict(server.connection_args(), login_db='app', probe=True, probe_password=PASSWORD, probe_timeout=60)
    argv = [os.path.join(VENV_BIN, 'ansible'), 'localhost', '-m', 'bemi.postgresql.bemi_info', '-a', json.dumps(args)]
    proc = subprocess.Popen(argv, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for(lambda: leftover_slots(server))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        # The walsender waits for this transaction before it can notice its client is gone.
        conn.rollback()
        conn.close()
    wait_for(lambda: leftover_slots(server) == [], timeout=30)


def test_missing_pg_hba_line(pool, major):
    cluster = prepare(pool.fresh(major, 'probe-hba', SETTINGS))
    cluster.write_file('pg_hba.conf', HBA_WITHOUT_TCP)
    cluster.reload()
    assert_failed(probe(cluster), 'connect', 'probe_pg_hba',
                  # PostgreSQL 13 words it "for replication connection", yet matches the database's lines.
                  'no pg_hba.conf entry for', 'user "bemi"',
                  'pg_hba.conf has no line for database app user bemi from 127.0.0.1: '
                  'add "host app bemi 127.0.0.1/32 scram-sha-256"')
    assert leftover_slots(cluster) == []
    # The documented fix: that line, and a reload.
    cluster.write_file('pg_hba.conf', HBA_WITHOUT_TCP + 'host    app          bemi       127.0.0.1/32   scram-sha-256\n')
    cluster.reload()
    assert_ok(probe(cluster), major)
    pool.clusters.pop((major, 'probe-hba')).destroy()


def test_no_free_wal_sender(pool, major):
    cluster = prepare(pool.fresh(major, 'probe-senders', dict(SETTINGS, max_wal_senders=1)))
    # Another replication client holds the only WAL sender.
    other = psycopg2.connect(host=cluster.socket_dir, port=cluster.port, user='postgres', dbname='app',
                             connection_factory=psycopg2.extras.LogicalReplicationConnection)
    try:
        assert_failed(probe(cluster), 'connect', 'probe_wal_senders', 'max_wal_senders', '(currently 1)',
                      'no free WAL sender', 'min_wal_senders')
        assert leftover_slots(cluster) == []
    finally:
        other.close()
    wait_for(lambda: cluster.scalar('SELECT count(*) FROM pg_stat_replication') == 0)
    assert_ok(probe(cluster), major)
    pool.clusters.pop((major, 'probe-senders')).destroy()


def test_probe_is_skipped_in_check_mode(server, major):
    """Check mode changes nothing: no slot, no WAL message, no login as Bemi; a note says the probe was skipped."""
    offset = len(server.log_text())
    args = dict(server.connection_args(), login_db='app', probe=True, probe_password=PASSWORD)
    run = run_module('bemi_info', args, check=True)
    assert not run.failed, run.result
    assert run['probe']['skipped'] is True and run['probe']['ok'] is None and run['probe']['steps'] == []
    (note,) = [f for f in run['findings'] if f['code'] == 'probe_skipped']
    assert note['severity'] == 'note' and 'check mode changes nothing' in note['message']
    assert run['probe']['note'] in run['notes']
    log = server.log_text()[offset:]
    assert 'CREATE_REPLICATION_SLOT' not in log and 'emit_message' not in log and 'bemi@' not in log


def assert_only_a_note(run, code, cause):
    """The probe failed for want of room that Bemi, holding its own, does not need: a note, not a problem."""
    result = run['probe']
    assert result['ok'] is False and result['code'] == cause, result
    assert result['problem'] is None and result['note'] in run['notes'], result
    assert 'probe_failed' not in [f['code'] for f in run['findings']], run['problems']
    (note,) = [f for f in run['findings'] if f['code'] == code]
    assert note['severity'] == 'note' and note['object'] == 'bemi'
    assert 'not a problem for Bemi' in note['message']


def test_no_spare_slot_or_wal_sender_beside_bemis_own_is_a_note(pool, major):
    """Bemi's slot takes the last slot, or Bemi streams on the last WAL sender: Bemi works, only the probe cannot."""
    cluster = prepare(pool.fresh(major, 'probe-capacity', dict(SETTINGS, max_wal_senders=1, max_replication_slots=1)))
    bemi = psycopg2.connect(host=cluster.socket_dir, port=cluster.port, user='postgres', dbname='app',
                            connection_factory=psycopg2.extras.LogicalReplicationConnection)
    try:
        stream = bemi.cursor()
        stream.create_replication_slot('bemi', output_plugin='pgoutput')
        stream.start_replication(slot_name='bemi', decode=False,
                                 options={'proto_version': '1', 'publication_names': 'bemi'})
        wait_for(lambda: cluster.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = 'bemi'"))
        assert_only_a_note(probe(cluster), 'probe_no_spare_wal_sender', 'probe_wal_senders')
    finally:
        bemi.close()
    wait_for(lambda: cluster.scalar('SELECT count(*) FROM pg_stat_replication') == 0)
    # Bemi between two connections: its slot is the only one, and the probe cannot have another.
    assert_only_a_note(probe(cluster), 'probe_no_spare_slot', 'probe_slots')
    assert [row[0] for row in leftover_slots(cluster)] == ['bemi']

    # The same full server without Bemi's slot: Bemi could not create one, so it is a problem.
    cluster.query("SELECT pg_drop_replication_slot('bemi')")
    cluster.query("SELECT pg_create_logical_replication_slot('other_tool', 'pgoutput')", dbname='app')
    assert_failed(probe(cluster), 'create_slot', 'probe_slots', 'all replication slots are in use',
                  'drop a replication slot')
    cluster.query("SELECT pg_drop_replication_slot('other_tool')")
    assert_ok(probe(cluster), major)
    pool.clusters.pop((major, 'probe-capacity')).destroy()


PSYCOPG3_MAJORS = (15, 18)


def test_probe_with_psycopg3(server, major):
    """The same probe where psycopg 3 is the only driver (its session speaks libpq's CopyBoth directly)."""
    if major not in PSYCOPG3_MAJORS:
        pytest.skip('the second driver is checked on PostgreSQL %s' % ', '.join(map(str, PSYCOPG3_MAJORS)))
    python = os.path.join(ROOT, '.cache', 'venv-psycopg3', 'bin', 'python')
    if not os.path.exists(python):
        pytest.skip('no psycopg 3 venv (.cache/venv-psycopg3; test_psycopg3.py builds it)')
    assert_ok(probe(server, python=python), major)
    assert_failed(probe(server, python=python, probe_password='nope'), 'connect', 'probe_password')
    conn, pid = hold_transaction(server)
    try:
        assert_failed(probe(server, python=python, probe_timeout=2), 'create_slot', 'probe_blocked',
                      'backend pid %d' % pid)
        assert leftover_slots(server) == []
    finally:
        conn.rollback()
        conn.close()
    server.query('DROP PUBLICATION bemi', dbname='app')
    try:
        assert_failed(probe(server, python=python), 'publication', 'probe_publication')
    finally:
        server.query('CREATE PUBLICATION bemi FOR ALL TABLES', dbname='app')
    assert leftover_slots(server) == []
