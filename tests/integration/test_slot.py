"""bemi_slot and the WAL budget on real servers of every major.

A slot is held active by a real consumer (pg_recvlogical reading pgoutput, as
Bemi does), which every test stops in a ``finally``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from ansible_run import collections_path, run_playbook, run_module

DB = 'slotdb'
SLOTS = 'SELECT slot_name, database, plugin, active FROM pg_replication_slots ORDER BY 1'


def prepare_database(cluster):
    cluster.query('CREATE DATABASE %s' % DB)
    cluster.query('CREATE TABLE t (id bigserial PRIMARY KEY, payload text)', dbname=DB)
    cluster.query('CREATE PUBLICATION bemi FOR ALL TABLES', dbname=DB)


@pytest.fixture
def server(pool, major):
    """This file's server of the major, with no slot at the start and the end of each test."""
    fresh = (major, 'slot') not in pool.clusters
    cluster = pool.get(major, 'slot', settings={'wal_level': 'logical'})
    if fresh:
        prepare_database(cluster)
    try:
        yield cluster
    finally:
        cluster.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active')
        # A terminated walsender releases its slot as it exits, a moment after pg_terminate_backend returns.
        deadline = time.monotonic() + 10
        while cluster.scalar('SELECT count(*) FROM pg_replication_slots WHERE active') and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, _db, _plugin, _active in slots(cluster):
            cluster.query('SELECT pg_drop_replication_slot(%s)', (name,))


def create_slot(cluster, name='bemi', dbname=DB):
    cluster.query("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,), dbname=dbname)


def slots(cluster):
    return cluster.query(SLOTS)


def pg_recvlogical():
    path = shutil.which('pg_recvlogical')
    if path is None:
        pytest.skip('pg_recvlogical is not installed (PostgreSQL client tools), so no consumer can hold the slot')
    return path


class Consumer(object):
    """pg_recvlogical streaming pgoutput from a slot over TCP; stopped by ``stop`` whatever happens."""

    def __init__(self, cluster, slot='bemi', dbname=DB):
        self.cluster = cluster
        self.out = tempfile.NamedTemporaryFile(prefix='bemi-recv-', delete=False)
        argv = [pg_recvlogical(), '-h', '127.0.0.1', '-p', str(cluster.port), '-U', 'postgres', '-d', dbname,
                '--slot', slot, '--start', '--no-loop', '-f', '-', '-o', 'proto_version=1',
                '-o', 'publication_names=bemi']
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT)
        self.wait_active(slot)

    def wait_active(self, slot, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.cluster.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s AND active',
                                      (slot,))
            if rows:
                self.pid = rows[0][0]
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError('pg_recvlogical did not start streaming: %s' % open(self.out.name).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        os.unlink(self.out.name)


def slot_args(cluster, **extra):
    args = dict(cluster.connection_args(), login_db=DB)
    args.update(extra)
    return args


def check_then_apply(cluster, args):
    before = slots(cluster)
    predicted = run_module('bemi_slot', args, check=True)
    assert not predicted.failed, predicted
    assert slots(cluster) == before, 'check mode changed the slots'
    real = run_module('bemi_slot', args)
    assert not real.failed, real
    for key in ('changed', 'queries', 'diff'):
        assert predicted[key] == real[key], key
    # What the slot is (not what only the server knows, such as retained WAL) was predicted.
    if real['slot'] is not None:
        assert set(predicted['slot']) == set(real['slot'])
        for key in ('name', 'type', 'database', 'plugin', 'active', 'failover'):
            assert predicted['slot'][key] == real['slot'][key], key
    return real


def test_present_reports_and_never_creates(server):
    missing = run_module('bemi_slot', slot_args(server))
    assert not missing.failed, missing
    assert missing['changed'] is False and missing['queries'] == [] and missing['slot'] is None
    assert slots(server) == []

    create_slot(server)
    present = run_module('bemi_slot', slot_args(server))
    assert present['changed'] is False and present['queries'] == []
    slot = present['slot']
    assert (slot['name'], slot['type'], slot['database'], slot['plugin'], slot['active']) == \
        ('bemi', 'logical', DB, 'pgoutput', False)
    assert slot['wal_status'] == 'reserved' and slot['retained_wal_bytes'] >= 0
    assert present['diff']['before'] == present['diff']['after']
    # The same shape as bemi_info's replication_slots entries.
    info = run_module('bemi_info', dict(slot_args(server)))
    assert info['failover'] == {'supported': server.major >= 17, 'standby': False, 'streaming_standbys': 0,
                                'slot_failover': False if server.major >= 17 else None, 'slot_synced':
                                False if server.major >= 17 else None, 'slot_lag_bytes': None}
    # (retained WAL grows between the two reads)
    assert [dict(s, retained_wal_bytes=0) for s in info['replication_slots']] == [dict(slot, retained_wal_bytes=0)]


def test_drop_inactive_check_real_idempotent(server):
    create_slot(server)
    args = slot_args(server, state='absent')
    real = check_then_apply(server, args)
    assert real['changed'] is True
    assert real['queries'] == ["SELECT pg_drop_replication_slot('bemi')"]
    assert real['diff']['before']['name'] == 'bemi' and real['diff']['after'] is None
    assert slots(server) == []
    for check in (True, False):
        again = run_module('bemi_slot', args, check=check)
        assert again['changed'] is False and again['queries'] == [], again


def test_slot_of_another_database_is_left_alone(server):
    create_slot(server, dbname='postgres')
    result = run_module('bemi_slot', slot_args(server, state='absent'))
    assert not result.failed and result['changed'] is False, result
    assert any('belongs to database postgres' in warning for warning in result.get('warnings', []))
    assert [row[0] for row in slots(server)] == ['bemi']


def test_active_slot_refused_then_terminated(server):
    create_slot(server)
    consumer = Consumer(server)
    try:
        before = slots(server)
        for check in (True, False):
            refused = run_module('bemi_slot', slot_args(server, state='absent'), check=check)
            assert refused.failed, refused
            assert 'pid %d' % consumer.pid in refused['msg'], refused['msg']
            assert 'client 127.0.0.1:' in refused['msg'], refused['msg']
            assert 'terminate: true' in refused['msg']
            assert refused['queries'] == []
            assert slots(server) == before

        args = slot_args(server, state='absent', terminate=True)
        predicted = run_module('bemi_slot', args, check=True)
        assert predicted['queries'] == ['SELECT pg_terminate_backend(%d)' % consumer.pid,
                                        "SELECT pg_drop_replication_slot('bemi')"]
        assert slots(server) == before and consumer.proc.poll() is None

        real = run_module('bemi_slot', args)
        assert not real.failed, real
        assert real['changed'] is True
        assert real['queries'] == predicted['queries']
        assert real['diff'] == predicted['diff']
        assert real['diff']['before']['active_pid'] == consumer.pid
        assert slots(server) == []
        assert consumer.proc.wait(10) != 0  # its walsender was terminated
        again = run_module('bemi_slot', args)
        assert again['changed'] is False and again['queries'] == []
    finally:
        consumer.stop()


def test_create_only_when_asked(server):
    args = slot_args(server, create=True)
    real = check_then_apply(server, args)
    assert real['changed'] is True
    assert real['queries'] == ["SELECT pg_create_logical_replication_slot('bemi', 'pgoutput')"]
    assert real['diff']['before'] is None and real['diff']['after']['name'] == 'bemi'
    assert [row[:3] for row in slots(server)] == [('bemi', DB, 'pgoutput')]
    for check in (True, False):
        again = run_module('bemi_slot', args, check=check)
        assert again['changed'] is False and again['queries'] == [], again


def test_failover_needs_17(server, major):
    if major >= 17:
        pytest.skip('PostgreSQL 17 and newer have failover slots (tested below)')
    create_slot(server)
    result = run_module('bemi_slot', slot_args(server, failover=True))
    assert result.failed and 'need PostgreSQL 17 or newer' in result['msg'], result
    assert result['queries'] == []


@pytest.mark.min_major(17)
def test_failover_flag(server):
    server.query("SELECT pg_create_logical_replication_slot('bemi', 'pgoutput')", dbname=DB)
    args = slot_args(server, failover=True)
    real = check_then_apply(server, args)
    assert real['queries'] == ['ALTER_REPLICATION_SLOT "bemi" ( FAILOVER true )']
    assert real['diff']['before']['failover'] is False and real['diff']['after']['failover'] is True
    assert server.scalar("SELECT failover FROM pg_replication_slots WHERE slot_name = 'bemi'") is True
    for check in (True, False):
        again = run_module('bemi_slot', args, check=check)
        assert again['changed'] is False and again['queries'] == [], again

    # PostgreSQL changes the flag only on an idle slot: refused while read, unless terminate.
    consumer = Consumer(server)
    try:
        off = slot_args(server, failover=False)
        refused = run_module('bemi_slot', off)
        assert refused.failed and 'pid %d' % consumer.pid in refused['msg'], refused
        assert server.scalar("SELECT failover FROM pg_replication_slots WHERE slot_name = 'bemi'") is True
        done = run_module('bemi_slot', dict(off, terminate=True))
        assert not done.failed, done
        assert done['queries'] == ['SELECT pg_terminate_backend(%d)' % consumer.pid,
                                   'ALTER_REPLICATION_SLOT "bemi" ( FAILOVER false )']
        assert server.scalar("SELECT failover FROM pg_replication_slots WHERE slot_name = 'bemi'") is False
    finally:
        consumer.stop()


def test_create_with_failover(server, major):
    args = slot_args(server, create=True, failover=True)
    if major < 17:
        result = run_module('bemi_slot', args)
        assert result.failed and 'need PostgreSQL 17' in result['msg']
        return
    real = check_then_apply(server, args)
    assert real['queries'] == ["SELECT pg_create_logical_replication_slot('bemi', 'pgoutput', failover => true)"]
    assert server.scalar("SELECT failover FROM pg_replication_slots WHERE slot_name = 'bemi'") is True


def write_until(cluster, stop):
    conn = cluster.connect(dbname=DB)
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO t (payload) SELECT repeat('y', 200) FROM generate_series(1, 200)")
                time.sleep(0.05)
    finally:
        conn.close()


def generate_wal(cluster, megabytes):
    """About ``megabytes`` of WAL: inserts, segment switches and checkpoints."""
    for dummy in range(megabytes // 16 + 1):
        cluster.query("INSERT INTO t (payload) SELECT repeat('x', 1000) FROM generate_series(1, 12000)", dbname=DB)
        cluster.query('SELECT pg_switch_wal()')
    cluster.query('CHECKPOINT')


TEARDOWN_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: bemi.postgresql.tracking
      vars:
        bemi_state: absent
        bemi_login_unix_socket: {socket}
        bemi_login_port: {port}
        bemi_psql: {psql}
        bemi_databases: [{{name: {db}}}]
"""


def test_budget_invalidates_the_slot_and_postgres_keeps_running(pool, major):
    """The issue's "done when": a 64MB budget, a pgoutput slot never read, WAL written past it."""
    cluster = pool.fresh(major, 'budget', settings={
        'wal_level': 'logical', 'min_wal_size': "'32MB'", 'max_wal_size': "'64MB'", 'checkpoint_timeout': "'30s'"})
    try:
        prepare_database(cluster)
        args = dict(cluster.connection_args(), max_slot_wal_keep_size='64MB')
        files = 'SELECT name, setting FROM pg_file_settings ORDER BY seqno'
        before = cluster.query(files)
        predicted = run_module('bemi_wal_level', args, check=True)
        assert not predicted.failed, predicted
        assert cluster.query(files) == before, 'check mode changed the configuration'
        budget = run_module('bemi_wal_level', args)
        assert not budget.failed and budget['changed'], budget
        for key in ('changed', 'queries', 'diff', 'restart_required'):
            assert predicted[key] == budget[key], key
        assert budget['queries'] == ['ALTER SYSTEM SET max_slot_wal_keep_size = 64', 'SELECT pg_reload_conf()']
        # The diff shows the budget with its unit.
        assert budget['diff'] == {'before': {'wal_level': 'logical', 'max_slot_wal_keep_size': 'unlimited'},
                                  'after': {'wal_level': 'logical', 'max_slot_wal_keep_size': '64MB'}}
        # The module waits for its own reload: the running value is already the new one.
        assert budget['max_slot_wal_keep_size'] == {'running': 64, 'configured': 64}
        assert budget['restart_required'] is False
        assert budget['idle_replication_slot_timeout'] == (0 if major >= 18 else None)
        for check in (True, False):
            again = run_module('bemi_wal_level', args, check=check)
            assert again['changed'] is False and again['queries'] == [], again
        # lower_max_slot_wal_keep_size false never lowers it
        kept = run_module('bemi_wal_level', dict(args, max_slot_wal_keep_size='32MB', lower_max_slot_wal_keep_size=False))
        assert kept['changed'] is False and kept['max_slot_wal_keep_size']['configured'] == 64, kept
        wait_for(lambda: cluster.scalar("SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'") == '64')
        create_slot(cluster)

        # The outage budget: WAL written while bemi_info samples for 2 s.
        stop = threading.Event()
        writer = threading.Thread(target=write_until, args=(cluster, stop))
        writer.start()
        try:
            sampled = run_module('bemi_info', dict(cluster.connection_args(), login_db=DB, sample_seconds=2))
        finally:
            stop.set()
            writer.join()
        assert not sampled.failed, sampled
        rate = sampled['wal_rate_bytes_per_second']
        assert rate > 0
        slot = next(s for s in sampled['replication_slots'] if s['name'] == 'bemi')
        # safe_wal_size counts to the end of the segment past the budget: 64MB plus up to one 16MB segment.
        assert 0 <= sampled['outage_budget_seconds'] <= (64 + 16) * 1024 * 1024 // rate
        assert sampled['outage_budget_seconds'] == max(0, slot['safe_wal_size']) // rate

        generate_wal(cluster, 160)

        assert cluster.scalar("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'bemi'") == 'lost'
        cluster.query("INSERT INTO t (payload) VALUES ('still writable')", dbname=DB)
        assert cluster.scalar("SELECT count(*) FROM t WHERE payload = 'still writable'", dbname=DB) == 1

        info = run_module('bemi_info', dict(cluster.connection_args(), login_db=DB))
        slot = next(s for s in info['replication_slots'] if s['name'] == 'bemi')
        assert slot['wal_status'] == 'lost'
        if major >= 17:
            assert slot['invalidation_reason'] == 'wal_removed'
        assert any(p.startswith('Replication slot bemi is invalidated') and 'Bemi must re-sync' in p
                   for p in info['problems']), info['problems']
        assert info['ready'] is False

        playbook = os.path.join(cluster.base_dir, 'teardown.yml')
        with open(playbook, 'w') as handle:
            handle.write(textwrap.dedent(TEARDOWN_PLAYBOOK.format(
                socket=cluster.socket_dir, port=cluster.port, psql=shutil.which('psql'), db=DB)))
        proc = run_playbook(playbook, extra_args=['-i', 'localhost,', '-c', 'local',
                                                  '-e', 'ansible_python_interpreter=%s' % sys.executable])
        assert proc.returncode == 0, proc.stdout
        assert slots(cluster) == []
    finally:
        pool.clusters.pop((major, 'budget')).destroy()


def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, 'timed out'
        time.sleep(0.1)


def test_secrets_are_masked(server):
    """bemi_slot masks a password in connect_params (-vvv) and one inside a login_db URI (its failure message)."""
    secret = 'Slot-S3cret-pw'
    server.query("CREATE ROLE slot_login LOGIN REPLICATION PASSWORD '%s'" % secret)
    try:
        base = dict(login_host='127.0.0.1', login_port=server.port, login_user='slot_login', login_db=DB)
        ok = run_module('bemi_slot', dict(base, connect_params={'password': secret}), verbosity=3)
        assert not ok.failed, ok
        assert ok['invocation']['module_args']['connect_params']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
        uri = 'postgresql://slot_login:%s@127.0.0.1:%d/%s' % ('Wr0ng-slot-pw', server.port, DB)
        bad = run_module('bemi_slot', dict(base, login_db=uri), verbosity=3)
        assert bad.failed and bad['connect_error'] == 'authentication_failed', bad
        for run in (ok, bad):
            text = run.stdout + run.stderr + json.dumps(run.result)
            assert secret not in text and 'Wr0ng-slot-pw' not in text, text
    finally:
        server.query('DROP ROLE slot_login')


def test_physical_slot_is_refused(server):
    """A physical slot (a standby's) of that name is never dropped, with or without terminate."""
    server.query("SELECT pg_create_physical_replication_slot('bemi', true)")
    before = slots(server)
    for terminate in (False, True):
        for check in (True, False):
            refused = run_module('bemi_slot', slot_args(server, state='absent', terminate=terminate), check=check)
            assert refused.failed and 'is a physical slot' in refused['msg'], refused
            assert refused['queries'] == [] and not refused.get('changed')
            assert slots(server) == before


def test_reader_that_connects_after_the_check_is_left_alone(server):
    """Without terminate, a walsender that took the slot after bemi_slot found it idle is not ended:
    the drop fails cleanly, naming its pid, and nothing changes (the module's drop step, on a real server)."""
    if collections_path() not in sys.path:
        sys.path.insert(0, collections_path())
    from ansible_collections.bemi.postgresql.plugins.module_utils import connection, slot as slot_utils

    create_slot(server)
    consumer = Consumer(server)
    conn = server.connect(dbname=DB)
    try:
        statement = slot_utils.slots_query(conn.info.server_version, one=True)
        with pytest.raises(slot_utils.SlotError) as failed:
            slot_utils.drop(conn, 'bemi', lambda: connection.query_one(conn, statement, ('bemi',)))
        assert 'PID %d' % consumer.pid in str(failed.value) and 'terminate: true' in str(failed.value)
        assert failed.value.executed == []
        assert consumer.proc.poll() is None
        assert slots(server) == [('bemi', DB, 'pgoutput', True)]
    finally:
        conn.close()
        consumer.stop()
