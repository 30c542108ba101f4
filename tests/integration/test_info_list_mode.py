"""bemi_info in list mode (issue 29): a user who publishes a list of tables asks for the readiness of exactly
those. The choices of that least-privilege mode (no trigger for new tables, no SELECT, the other tables not
published) are not problems; what Bemi would miss still is."""

from __future__ import annotations

import os

import pytest

from ansible_run import run_module
from test_replica_identity import own_database, run

PREFIX = 'ilm'

# What list mode must not report as problems when the list is set up as bemi_publication and
# bemi_replica_identity set it up (the server-wide findings of the shared server are not about the list).
LIST_CODES = {'table_not_published', 'event_trigger_missing', 'event_trigger_schemas_not_covered',
              'event_trigger_partitions_not_covered', 'role_cannot_select', 'table_identity_not_full',
              'table_without_replica_identity', 'listed_table_missing'}


@pytest.fixture
def db(pg):
    """A database of its own on the major's shared server (event triggers are per database)."""
    yield from own_database(pg, PREFIX)


def info(db, **options):
    result = run_module('bemi_info', db.args(**options))
    assert not result.failed, result.result
    assert result['changed'] is False and result['queries'] == []
    return result


def codes(result, severity='problem'):
    return sorted(f['code'] for f in result['findings'] if f['severity'] == severity and f['code'] in LIST_CODES
                  | {'role_cannot_select_listed'})


def finding(result, code):
    found = [f for f in result['findings'] if f['code'] == code]
    assert len(found) == 1, result['findings']
    return found[0]


def test_list_mode_judges_the_listed_tables_only(db):
    role = 'bemi_list_%d' % os.getpid()
    db.pg.query('DROP ROLE IF EXISTS %s' % role)
    db.pg.query('CREATE ROLE %s LOGIN REPLICATION' % role)
    try:
        db.sql("""
            CREATE SCHEMA parts;
            CREATE TABLE public.t1 (id int, v text);
            CREATE TABLE public.t2 (id int PRIMARY KEY);
            CREATE TABLE public.t3 (id int);
            CREATE TABLE public.events (id int, at int) PARTITION BY RANGE (at);
            CREATE TABLE parts.events_0 PARTITION OF public.events FOR VALUES FROM (0) TO (100);
            CREATE PUBLICATION bemi FOR TABLE public.t1, public.events;
        """)
        listed = ['t1', 'public.events']
        # As the tracking role sets up a list: FULL on the list, the trigger for the listed partitioned table.
        assert not run(db, tables=listed, track_new_tables=False).failed
        ready = info(db, tables=listed, role=role)
        assert codes(ready) == [], ready['findings']
        # Bemi streams the list without SELECT: a note, not a problem.
        assert codes(ready, 'note') == ['role_cannot_select_listed']
        assert ready['event_trigger']['tracked_partition_trees'] == ['public.events']
        assert ready['tables_without_full_identity'] == []
        # The tables judged are the listed ones and their partitions: t3 is not published on purpose.
        assert ready['tables_without_primary_key'] == ['parts.events_0', 'public.events', 'public.t1']
        # Without tables, the same database reads as not ready (the choices of list mode become problems).
        whole = info(db, role=role)
        assert {'table_not_published', 'event_trigger_schemas_not_covered', 'role_cannot_select'} <= set(codes(whole))

        # What list mode still reports: a listed table not published, one that does not exist, and new partitions
        # that the trigger would not give FULL.
        db.sql('DROP EVENT TRIGGER _bemi_set_replica_identity_trigger')
        broken = info(db, tables=listed + ['t2', 'gone'], role=role)
        assert codes(broken) == ['event_trigger_partitions_not_covered', 'listed_table_missing', 'table_not_published']
        assert 'public.t2' in finding(broken, 'table_not_published')['message']
        assert 'public.t3' not in finding(broken, 'table_not_published')['message']
        assert 'public.gone' in finding(broken, 'listed_table_missing')['message']
        partitions = finding(broken, 'event_trigger_partitions_not_covered')
        assert 'public.events' in partitions['message'] and 'does not exist' in partitions['message']
        assert 'bemi_replica_identity' in partitions['fix']
        # A trigger that tracks the partition root's schema covers the tree too.
        assert not run(db, tables=['t1'], schemas=['public'], track_new_tables=True, track_partitions=False).failed
        assert codes(info(db, tables=listed, role=role)) == []
        # One that tracks another schema does not; no partitioned table listed, no trigger needed.
        assert not run(db, tables=['t1'], schemas=['parts'], track_new_tables=True, track_partitions=False).failed
        assert codes(info(db, tables=listed, role=role)) == ['event_trigger_partitions_not_covered']
        db.sql('DROP EVENT TRIGGER _bemi_set_replica_identity_trigger')
        assert codes(info(db, tables=['t1'], role=role)) == []
    finally:
        db.pg.query('DROP OWNED BY %s' % role, dbname=db.name)
        db.pg.query('DROP ROLE %s' % role)


def test_list_mode_bad_input(db):
    result = run_module('bemi_info', db.args(tables=[]))
    assert result.failed and 'tables is an empty list' in result['msg']
    result = run_module('bemi_info', db.args(tables=['a.b.c']))
    assert result.failed and result['msg'].startswith('tables:')
