"""The shipped exporter queries (files/monitoring/queries.yaml) on every major, against bemi_info.

Each query runs as postgres_exporter runs it; its values must be what bemi_info reports for the
same slot and server a moment later (retained WAL only grows in between).
"""

from __future__ import annotations

import os
import time

import yaml

from ansible_run import ROOT, run_module

QUERIES = os.path.join(ROOT, 'files', 'monitoring', 'queries.yaml')
SLOT = 'monitoring_probe'


def run_query(cluster, namespace):
    with open(QUERIES) as handle:
        spec = yaml.safe_load(handle)[namespace]
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(spec['query'])
            names = [column.name for column in cur.description]
            rows = [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        conn.close()
    # postgres_exporter needs every column the file declares, and nothing else.
    assert names == [list(metric)[0] for metric in spec['metrics']], names
    return rows


def set_budget(cluster, value):
    cluster.query("ALTER SYSTEM SET max_slot_wal_keep_size = %s", (value,))
    cluster.query('SELECT pg_reload_conf()')
    deadline = time.time() + 10
    while cluster.scalar("SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'") != value:
        assert time.time() < deadline, 'the reload did not apply max_slot_wal_keep_size'
        time.sleep(0.1)


def test_shipped_queries_match_bemi_info(pg):
    pg.query("SELECT pg_create_physical_replication_slot(%s, true)", (SLOT,))
    # A budget (in MB, as pg_settings shows it), so the bytes are computed, not just -1.
    set_budget(pg, '96')
    try:
        slots = dict((row['slot'], row) for row in run_query(pg, 'bemi_slot'))
        statuses = [row for row in run_query(pg, 'bemi_slot_wal') if row['slot'] == SLOT]
        budget = run_query(pg, 'bemi_wal')
        standbys = run_query(pg, 'bemi_streaming')
        info = run_module('bemi_info', dict(pg.connection_args(), login_db='postgres')).result
        reported = dict((row['name'], row) for row in info['replication_slots'])
        assert set(slots) == set(reported)
        for name, row in slots.items():
            slot = reported[name]
            assert row['database'] == (slot['database'] or '')
            assert row['active'] == (1 if slot['active'] else 0)
            assert row['failover'] == (1 if slot['failover'] else 0)
            assert row['synced'] == (1 if slot['synced'] else 0)
            if slot['retained_wal_bytes'] is None:
                assert row['retained_wal_bytes'] is None
            else:
                assert 0 <= slot['retained_wal_bytes'] - row['retained_wal_bytes'] < 16 * 1024 * 1024
        assert slots[SLOT]['retained_wal_bytes'] is not None
        assert sorted((row['wal_status'], row['status']) for row in statuses) == sorted(
            (status, 1 if status == reported[SLOT]['wal_status'] else 0)
            for status in ('reserved', 'extended', 'unreserved', 'lost'))
        keep = info['max_slot_wal_keep_size']
        assert budget == [{'budget_bytes': keep * 1024 * 1024 if keep >= 0 else -1}]
        assert standbys == [{'standbys': info['server']['streaming_standbys']}]
        assert budget == [{'budget_bytes': 96 * 1024 * 1024}]
    finally:
        pg.query("SELECT pg_drop_replication_slot(%s)", (SLOT,))
        pg.query('ALTER SYSTEM RESET max_slot_wal_keep_size')
        pg.query('SELECT pg_reload_conf()')
