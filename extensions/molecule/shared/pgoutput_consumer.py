# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Bemi-like change consumer for the failover tests: it reads a `pgoutput` slot over a
logical replication connection, as Bemi does, and confirms each transaction it has read
(so the slot moves on exactly as far as the consumer got, and no further).

    consumer = Consumer(dsn, slot='bemi', publication='bemi')
    ids = consumer.read_ids('orders', until=lambda seen: ..., timeout=60)   # first column of inserted rows
    consumer.close()
"""

from __future__ import annotations

import select
import struct
import time

import psycopg2
import psycopg2.extras


def _string(buf, pos):
    end = buf.index(b'\0', pos)
    return buf[pos:end].decode(), end + 1


def _tuple(buf, pos):
    """Text values of a TupleData (None for null or unchanged TOAST), and the position after it."""
    (count,) = struct.unpack_from('>h', buf, pos)
    pos += 2
    values = []
    for dummy in range(count):
        kind = buf[pos:pos + 1]
        pos += 1
        if kind == b't':
            (length,) = struct.unpack_from('>i', buf, pos)
            pos += 4
            values.append(buf[pos:pos + length].decode())
            pos += length
        else:
            values.append(None)
    return values, pos


class Consumer(object):

    def __init__(self, dsn, slot='bemi', publication='bemi'):
        self.conn = psycopg2.connect(dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
        self.cur = self.conn.cursor()
        self.cur.start_replication(slot_name=slot, decode=False,
                                   options={'proto_version': '1', 'publication_names': publication})
        self.relations = {}
        self.confirmed = 0

    def _handle(self, payload, table, found):
        kind = payload[:1]
        if kind == b'R':
            (relid,) = struct.unpack_from('>I', payload, 1)
            namespace, pos = _string(payload, 5)
            name, pos = _string(payload, pos)
            self.relations[relid] = (namespace, name)
        elif kind == b'I':
            (relid,) = struct.unpack_from('>I', payload, 1)
            if self.relations.get(relid, (None, None))[1] == table:
                values, _pos = _tuple(payload, 6)  # after relid and the 'N' byte
                found.append(int(values[0]))
        elif kind == b'C':
            # Commit: flags (1), commit LSN (8), end LSN (8): confirm up to the end of this transaction.
            (end_lsn,) = struct.unpack_from('>Q', payload, 10)
            self.cur.send_feedback(write_lsn=end_lsn, flush_lsn=end_lsn, reply=True)
            self.confirmed = max(self.confirmed, end_lsn)

    def read_ids(self, table, until, timeout=60):
        """First-column values of rows inserted into ``table``, read until ``until(ids)`` or the timeout."""
        found = []
        deadline = time.time() + timeout
        while not until(found) and time.time() < deadline:
            msg = self.cur.read_message()
            if msg is None:
                select.select([self.conn], [], [], 0.5)
                continue
            self._handle(msg.payload, table, found)
        # One last reply so the server has recorded how far this consumer confirmed.
        if self.confirmed:
            self.cur.send_feedback(flush_lsn=self.confirmed, reply=True, force=True)
        return found

    def close(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass


def insert_orders(dsn, ids, item):
    """Rows (id, item, 1) in public.orders, ten per transaction, each commit flushed (the test servers
    run with synchronous_commit off, whose commits a crash may lose on any server)."""
    conn = psycopg2.connect(dsn, options='-c synchronous_commit=on')
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for chunk in (list(ids)[i:i + 10] for i in range(0, len(ids), 10)):
                cur.execute('INSERT INTO public.orders (id, item, qty) SELECT i, %s, 1 FROM unnest(%s::int[]) AS i',
                            (item, chunk))
    finally:
        conn.close()


def delivery(read_before, read_after, wanted):
    """What arrived after the move: ``missing`` must be empty; ``duplicates`` are at-least-once redeliveries."""
    after = set(read_after)
    return {
        'read_before': len(read_before),
        'read_after': len(read_after),
        'missing': sorted(set(wanted) - after),
        'duplicates': len(read_after) - len(after) + len(after & set(read_before)),
    }


def lsn_number(text):
    high, low = text.split('/')
    return (int(high, 16) << 32) + int(low, 16)
