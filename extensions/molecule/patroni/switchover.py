# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bemi's slot across a Patroni switchover or failover: does every committed row still arrive?

    python switchover.py BASE DB SLOT PUBLICATION [switchover|kill]

A Bemi-like consumer reads the slot on the leader and confirms what it read; then rows
are committed that it has not read, `patronictl switchover` moves the leadership (or, with
`kill`, the leader's Patroni and PostgreSQL are killed with SIGKILL and Patroni fails over),
the consumer reconnects to the new leader with the same slot name, and more rows follow.
The scenario's cluster commits asynchronously: before the kill, the replicas have replayed
the unread rows (rows a replica never received are lost to any client, not only to Bemi).
Prints a JSON summary: the rows missing (must be none) and the duplicates (at-least-once
redelivery after the last confirmation is allowed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'shared'))

from pgoutput_consumer import Consumer, delivery, insert_orders, lsn_number  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), '.cache', 'venv-patroni', 'bin')


def cluster(state):
    with urllib.request.urlopen('http://127.0.0.1:%d/cluster' % state['rest'][0], timeout=5) as response:  # nosec
        return json.loads(response.read().decode())['members']


def leader(state, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            found = [m for m in cluster(state) if m['role'] == 'leader' and m['state'] == 'running']
            if found:
                return found[0]
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit('no leader after %d s' % timeout)


def dsn(member, db):
    return 'host=127.0.0.1 port=%d user=postgres dbname=%s' % (member['port'], db)


def insert(member, db, ids):
    insert_orders(dsn(member, db), ids, 'switchover')


def slot_position(member, db, slot):
    conn = psycopg2.connect(dsn(member, db))
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s', (slot,))
            row = cur.fetchone()
            return lsn_number(row[0]) if row and row[0] else None
    finally:
        conn.close()


def current_lsn(member, db):
    conn = psycopg2.connect(dsn(member, db))
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT pg_current_wal_lsn()::text')
            return lsn_number(cur.fetchone()[0])
    finally:
        conn.close()


def wait_writable(member, db, timeout=60):
    """Until the new leader has left recovery: Patroni lists it as the running leader while its promotion
    is still under way, when a write would fail as read-only."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = psycopg2.connect(dsn(member, db))
            try:
                with conn.cursor() as cur:
                    cur.execute('SELECT pg_is_in_recovery()')
                    if not cur.fetchone()[0]:
                        return
            finally:
                conn.close()
        except psycopg2.OperationalError:
            pass
        time.sleep(0.5)
    raise SystemExit('the new leader %s was still in recovery after %d s' % (member['name'], timeout))


def wait_replayed(state, lsn, timeout=30):
    """Until every replica has replayed up to lsn (asynchronous replication: a kill may otherwise lose rows)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        replicas = [m for m in cluster(state) if m['role'] != 'leader']
        if replicas and all(lsn_number(m.get('replay_lsn', '0/0')) >= lsn for m in replicas
                            if m.get('replay_lsn', 'unknown') != 'unknown'):
            return
        time.sleep(1)
    raise SystemExit('the replicas did not replay to %X in %d s' % (lsn, timeout))


def kill_leader(base, state, name):
    """SIGKILL the member's Patroni (its process group) and its postmaster: a crash, no clean handover."""
    with open(os.path.join(base, name, 'data', 'postmaster.pid')) as handle:
        postmaster = int(handle.readline())
    for kill in (lambda: os.killpg(state['pids'][name], signal.SIGKILL), lambda: os.kill(postmaster, signal.SIGKILL)):
        try:
            kill()
        except ProcessLookupError:
            pass


def main(argv):
    base, db, slot, publication = argv[1:5]
    mode = argv[5] if len(argv) > 5 else 'switchover'
    # Each mode its own order ids, so that both can run on one database.
    first = 1001 if mode == 'switchover' else 2001
    READ, UNREAD, AFTER = range(first, first + 50), range(first + 50, first + 100), range(first + 100, first + 150)
    with open(os.path.join(base, 'cluster.json')) as handle:
        state = json.load(handle)
    old = leader(state)

    consumer = Consumer(dsn(old, db), slot, publication)
    insert(old, db, READ)
    seen = consumer.read_ids('orders', lambda ids: set(READ) <= set(ids), timeout=60)
    consumer.close()
    confirmed = slot_position(old, db, slot)

    # Patroni advances the replicas' copies of the slot every loop_wait.
    replicas = [m for m in cluster(state) if m['role'] != 'leader']
    synced = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        synced = dict((m['name'], (slot_position(m, db, slot) or 0) >= (confirmed or 0)) for m in replicas)
        if all(synced.values()):
            break
        time.sleep(1)

    insert(old, db, UNREAD)
    if mode == 'kill':
        wait_replayed(state, current_lsn(old, db))
        kill_leader(base, state, old['name'])
        # The survivors' REST APIs answer; the killed member's does not.
        state = dict(state, rest=[port for port, m in zip(state['rest'], ('pat1', 'pat2', 'pat3')) if m != old['name']])
    else:
        candidate = sorted(m['name'] for m in replicas)[0]
        subprocess.run([os.path.join(VENV_BIN, 'patronictl'), '-c', os.path.join(base, old['name'], 'patroni.yml'),
                        'switchover', '--leader', old['name'], '--candidate', candidate, '--force'],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    new = leader(state)
    while new['name'] == old['name'] and time.time() < deadline:
        time.sleep(1)
        new = leader(state)

    wait_writable(new, db)
    insert(new, db, AFTER)
    consumer = Consumer(dsn(new, db), slot, publication)
    wanted = set(UNREAD) | set(AFTER)
    after = consumer.read_ids('orders', lambda ids: wanted <= set(ids), timeout=90)
    consumer.close()

    print(json.dumps(dict(delivery(seen, after, wanted), mode=mode, old_leader=old['name'], new_leader=new['name'],
                          replica_slots_caught_up=synced)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
