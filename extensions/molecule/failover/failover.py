# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bemi's slot across a promotion with PostgreSQL 17 failover slots: does every committed row still arrive?

    python failover.py PRIMARY_PORT STANDBY_PORT PRIMARY_BASE DB SLOT PUBLICATION

A Bemi-like consumer reads the failover slot on the primary and confirms what it read. Then
rows are committed that it has not read, the standby's copy of the slot is synchronized, the
primary stops (immediate: a crash), the standby is promoted, the consumer reconnects to it with
the same slot name, and more rows follow. Prints a JSON summary: the rows missing (must be
none) and the duplicates (at-least-once redelivery after the last confirmation is allowed).
"""

from __future__ import annotations

import json
import os
import sys
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'shared'))

import server as servers  # noqa: E402  pylint: disable=wrong-import-position
from pgoutput_consumer import Consumer, delivery, insert_orders, lsn_number  # noqa: E402  pylint: disable=wrong-import-position

READ, UNREAD, AFTER = range(2001, 2051), range(2051, 2101), range(2101, 2151)
HEARTBEAT = 9001  # rows written while the copy is synchronized, read and confirmed


def dsn(port, db):
    return 'host=127.0.0.1 port=%d user=postgres dbname=%s' % (port, db)


def run(port, db, statement, args=None):
    conn = psycopg2.connect(dsn(port, db))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def insert(port, db, ids):
    insert_orders(dsn(port, db), ids, 'failover')


def wait_until_synced(primary, standby, db, slot, consumer, timeout=90):
    """Keep the consumer reading until the standby's copy of the slot is synchronized and persistent.

    The copy stays temporary until the slot has moved past a running-xacts record: write one,
    then a row the consumer reads and confirms (as Bemi keeps doing), so the slot moves past it.
    Returns the heartbeat ids read meanwhile.
    """
    deadline = time.time() + timeout
    beats = []
    row = None
    while time.time() < deadline:
        run(primary, db, 'SELECT pg_log_standby_snapshot()')
        beat = HEARTBEAT + len(beats)
        insert(primary, db, [beat])
        beats += consumer.read_ids('orders', lambda ids, beat=beat: beat in ids, timeout=10)
        rows = run(standby, db, 'SELECT synced, temporary FROM pg_replication_slots WHERE slot_name = %s', (slot,))
        row = rows[0] if rows else None
        if row and row[0] and not row[1]:
            return beats
        time.sleep(1)
    raise SystemExit('the standby\'s copy of slot %s was not synchronized within %d s: %s' % (slot, timeout, row))


def wait_until_caught_up(standby, db, slot, confirmed, timeout=90):
    """The standby's copy is at least as far as the consumer confirmed on the primary."""
    deadline = time.time() + timeout
    position = None
    while time.time() < deadline:
        rows = run(standby, db, 'SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s',
                   (slot,))
        position = rows[0][0] if rows else None
        if position and lsn_number(position) >= confirmed:
            return position
        time.sleep(1)
    raise SystemExit('the standby\'s copy of slot %s stayed at %s, behind %d' % (slot, position, confirmed))


def main(argv):
    primary, standby = int(argv[1]), int(argv[2])
    primary_base, db, slot, publication = argv[3:7]

    consumer = Consumer(dsn(primary, db), slot, publication)
    insert(primary, db, READ)
    seen = consumer.read_ids('orders', lambda ids: set(READ) <= set(ids), timeout=60)
    seen += wait_until_synced(primary, standby, db, slot, consumer)
    consumer.close()
    confirmed = lsn_number(run(primary, db, 'SELECT confirmed_flush_lsn::text FROM pg_replication_slots '
                                            'WHERE slot_name = %s', (slot,))[0][0])
    copy = wait_until_caught_up(standby, db, slot, confirmed)

    # Committed on the primary, never read by the consumer: they must come from the promoted standby.
    insert(primary, db, UNREAD)
    wal_end = run(primary, db, 'SELECT pg_current_wal_flush_lsn()::text')[0][0]
    deadline = time.time() + 30
    while lsn_number(run(standby, db, 'SELECT pg_last_wal_replay_lsn()::text')[0][0]) < lsn_number(wal_end):
        if time.time() > deadline:
            raise SystemExit('the standby did not replay the primary\'s WAL')
        time.sleep(0.2)

    servers.cluster(os.path.abspath(primary_base)).stop()  # immediate: as a crash
    run(standby, db, 'SELECT pg_promote(true, 60)')

    insert(standby, db, AFTER)
    consumer = Consumer(dsn(standby, db), slot, publication)
    wanted = set(UNREAD) | set(AFTER)
    after = consumer.read_ids('orders', lambda ids: wanted <= set(ids), timeout=90)
    consumer.close()

    print(json.dumps(dict(delivery(seen, after, wanted), standby_copy_confirmed=copy)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
