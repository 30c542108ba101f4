"""bemi_publication on real servers, run through Ansible.

Every step: check mode first (catalog snapshot unchanged, exact queries), then the real
run (same changed/queries/diff/result as predicted, verified in the catalog), then a
re-run that changes nothing. The servers of this file run with wal_level=logical so
that a pgoutput slot can show what the publication really publishes.
"""

from __future__ import annotations

import pytest

from ansible_run import run_module

ALL_OPS = "publish = 'insert, update, delete, truncate', publish_via_partition_root = false"


@pytest.fixture
def server(pool, major):
    return pool.get(major, 'publication', settings={'wal_level': 'logical'})


def make_db(cluster, name, setup):
    cluster.query('DROP DATABASE IF EXISTS %s' % name)
    cluster.query('CREATE DATABASE %s' % name)
    cluster.query(setup, dbname=name)


def snapshot(cluster, db):
    """Everything a publication change could touch."""
    snap = [
        cluster.query('SELECT oid, pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot '
                      'FROM pg_publication ORDER BY oid', dbname=db),
        cluster.query('SELECT prpubid, prrelid::regclass::text FROM pg_publication_rel ORDER BY 1, 2', dbname=db),
    ]
    if cluster.major >= 15:
        snap.append(cluster.query('SELECT pnpubid, pnnspid::regnamespace::text FROM pg_publication_namespace '
                                  'ORDER BY 1, 2', dbname=db))
        snap.append(cluster.query('SELECT prpubid, prrelid::regclass::text, pg_get_expr(prqual, prrelid), '
                                  'prattrs::text FROM pg_publication_rel ORDER BY 1, 2', dbname=db))
    return snap


def published(cluster, db, name='bemi'):
    """(all_tables, tables, schemas) as the catalog has them, or None."""
    row = cluster.query('SELECT oid, puballtables FROM pg_publication WHERE pubname = %s', (name,), dbname=db)
    if not row:
        return None
    oid, all_tables = row[0]
    tables = sorted(r[0] for r in cluster.query(
        'SELECT prrelid::regclass::text FROM pg_publication_rel WHERE prpubid = %s', (oid,), dbname=db))
    schemas = []
    if cluster.major >= 15:
        schemas = sorted(r[0] for r in cluster.query(
            'SELECT pnnspid::regnamespace::text FROM pg_publication_namespace WHERE pnpubid = %s', (oid,), dbname=db))
    return all_tables, tables, schemas


def converge(cluster, db, args, queries):
    """Check run, real run, re-run; return the real run's result."""
    args = dict(cluster.connection_args(), login_db=db, **args)
    before = snapshot(cluster, db)
    check = run_module('bemi_publication', args, check=True)
    assert not check.failed, check.result
    assert snapshot(cluster, db) == before, 'check mode changed the catalog'
    assert check['queries'] == queries
    assert check['changed'] is bool(queries)

    log_start = len(cluster.log_text())
    real = run_module('bemi_publication', args)
    assert not real.failed, real.result
    for key in ('changed', 'queries', 'diff', 'publication', 'tables_added', 'tables_removed'):
        assert real[key] == check[key], key
    if len(queries) > 1:
        # Several statements commit together (a change of scope is never seen half done).
        log = [line for line in cluster.log_text()[log_start:].splitlines() if 'statement: ' in line]
        texts = [line.split('statement: ', 1)[1] for line in log]
        first = texts.index(queries[0])
        assert texts[first - 1] == 'BEGIN'
        assert texts[first:first + len(queries)] == queries
        assert texts[first + len(queries)] == 'COMMIT'

    again = run_module('bemi_publication', args)
    assert not again.failed, again.result
    assert again['changed'] is False
    assert again['queries'] == []
    assert again['publication'] == real['publication']
    assert again['tables_added'] == again['tables_removed'] == []
    return real


def report(all_tables=False, tables=(), schemas=(), operations=('insert', 'update', 'delete', 'truncate'),
           via_root=False, row_filters=None, column_lists=None):
    return {'name': 'bemi', 'all_tables': all_tables, 'tables': list(tables), 'schemas': list(schemas),
            'operations': list(operations), 'publish_via_partition_root': via_root,
            'row_filters': row_filters or {}, 'column_lists': column_lists or {}}


SETUP = '''
CREATE TABLE t1 (id int PRIMARY KEY);
CREATE SCHEMA "we ird";
CREATE TABLE "we ird"."Mixed Case" (id int PRIMARY KEY);
CREATE TABLE "a""b" (id int PRIMARY KEY);
CREATE TABLE "semi;colon" (id int PRIMARY KEY);
CREATE TABLE "Ünïcode" (id int PRIMARY KEY);
CREATE SCHEMA s2;
CREATE TABLE s2.other (id int PRIMARY KEY);
CREATE TABLE measurements (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
'''


def test_transitions(server, major):
    db = 'pub_transitions'
    make_db(server, db, SETUP)
    try:
        # none -> all
        result = converge(server, db, {}, ['CREATE PUBLICATION "bemi" FOR ALL TABLES WITH (%s)' % ALL_OPS])
        assert result['publication'] == report(all_tables=True)
        assert result['diff'] == {'before': {}, 'after': report(all_tables=True)}
        assert published(server, db) == (True, [], [])
        # Every table by name; the partition comes with its partitioned table.
        everything = sorted(['"we ird"."Mixed Case"', 'public."a""b"', 'public."semi;colon"', 'public."Ünïcode"',
                             'public.measurements', 'public.t1', 's2.other'])
        assert result['tables_added'] == everything and result['tables_removed'] == []

        # all -> list: hostile and mixed-case names, a non-public schema, a partitioned table
        tables = ['t1', '"we ird"."Mixed Case"', 'public."a""b"', 'S2.Other', 'measurements', '"Ünïcode"']
        listed = ['"we ird"."Mixed Case"', 'public."a""b"', 'public."Ünïcode"', 'public.measurements', 'public.t1',
                  's2.other']
        result = converge(server, db, {'tables': tables}, [
            'DROP PUBLICATION "bemi"',
            # sorted by (schema, table), whatever the order given
            'CREATE PUBLICATION "bemi" FOR TABLE ONLY "public"."a""b", ONLY "public"."measurements", ONLY "public"."t1", '
            'ONLY "public"."Ünïcode", ONLY "s2"."other", ONLY "we ird"."Mixed Case" WITH (%s)' % ALL_OPS,
        ])
        assert result['publication'] == report(tables=listed)
        assert result['tables_added'] == [] and result['tables_removed'] == ['public."semi;colon"']
        assert published(server, db) == (False, sorted(['"we ird"."Mixed Case"', '"a""b"', 'measurements', 't1',
                                                        's2.other', '"Ünïcode"']), [])

        # append: start tracking one more table (the one with a ';' in its name)
        listed.insert(2, 'public."semi;colon"')
        result = converge(server, db, {'tables': ['"semi;colon"'], 'append': True},
                          ['ALTER PUBLICATION "bemi" ADD TABLE ONLY "public"."semi;colon"'])
        assert result['publication'] == report(tables=listed)
        assert result['tables_added'] == ['public."semi;colon"'] and result['tables_removed'] == []
        assert '"semi;colon"' in published(server, db)[1]

        # exact list: stop tracking one
        result = converge(server, db, {'tables': [t for t in listed if t != 'public.t1']},
                          ['ALTER PUBLICATION "bemi" DROP TABLE ONLY "public"."t1"'])
        listed.remove('public.t1')
        assert result['publication'] == report(tables=listed)
        assert result['tables_added'] == [] and result['tables_removed'] == ['public.t1']
        assert 't1' not in published(server, db)[1]

        # exact list that adds and removes: one SET TABLE; options read back from pg_publication
        result = converge(server, db, {'tables': ['t1', 's2.other'], 'operations': ['update', 'insert'],
                                       'publish_via_partition_root': True}, [
            'ALTER PUBLICATION "bemi" SET TABLE ONLY "public"."t1", ONLY "s2"."other"',
            'ALTER PUBLICATION "bemi" SET (publish = \'insert, update\', publish_via_partition_root = true)',
        ])
        assert result['publication'] == report(tables=['public.t1', 's2.other'], operations=['insert', 'update'],
                                               via_root=True)
        assert result['tables_added'] == ['public.t1']
        assert result['tables_removed'] == [t for t in listed if t != 's2.other']
        assert server.query("SELECT pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication",
                            dbname=db) == [(True, True, False, False, True)]

        # schemas (15+); a clear error and nothing changed on 13/14
        if major >= 15:
            result = converge(server, db, {'schemas': ['s2', '"we ird"']}, [
                'ALTER PUBLICATION "bemi" SET TABLES IN SCHEMA "s2", "we ird"',
                'ALTER PUBLICATION "bemi" SET (%s)' % ALL_OPS,
            ])
            assert result['publication'] == report(schemas=['"we ird"', 's2'])
            assert result['tables_added'] == ['"we ird"."Mixed Case"'] and result['tables_removed'] == ['public.t1']
            assert published(server, db) == (False, [], ['"we ird"', 's2'])
        else:
            before = snapshot(server, db)
            failed = run_module('bemi_publication', dict(server.connection_args(), login_db=db, schemas=['s2']))
            assert failed.failed
            assert 'need PostgreSQL 15 or newer' in failed['msg']
            assert snapshot(server, db) == before

        # back to all tables: DROP and CREATE in one transaction
        result = converge(server, db, {'all_tables': True}, [
            'DROP PUBLICATION "bemi"', 'CREATE PUBLICATION "bemi" FOR ALL TABLES WITH (%s)' % ALL_OPS])
        assert result['publication'] == report(all_tables=True)
        assert result['tables_removed'] == [] and 'public."semi;colon"' in result['tables_added']
        assert published(server, db) == (True, [], [])

        # absent
        result = converge(server, db, {'state': 'absent'}, ['DROP PUBLICATION "bemi"'])
        assert result['publication'] is None
        assert result['diff'] == {'before': report(all_tables=True), 'after': {}}
        assert result['tables_removed'] == everything and result['tables_added'] == []
        assert published(server, db) is None
    finally:
        server.query('DROP DATABASE IF EXISTS %s' % db)


def test_bad_input_changes_nothing(server, major):
    db = 'pub_errors'
    make_db(server, db, SETUP + '''
        CREATE VIEW v AS SELECT * FROM t1;
        CREATE FOREIGN DATA WRAPPER dummy;
        CREATE SERVER nowhere FOREIGN DATA WRAPPER dummy;
        CREATE FOREIGN TABLE remote (id int) SERVER nowhere;
        CREATE PUBLICATION bemi FOR TABLE t1;
        CREATE ROLE app LOGIN PASSWORD 'app-pw';
        GRANT CREATE ON DATABASE pub_errors TO app;
        CREATE TABLE app_owned (id int PRIMARY KEY);
        ALTER TABLE app_owned OWNER TO app;
    ''')
    conn = dict(server.connection_args(), login_db=db)
    try:
        before = snapshot(server, db)
        # unknown table, a view, a foreign table: each named, nothing changed
        failed = run_module('bemi_publication', dict(conn, tables=['t1', 'nope', 'v', 's2.remote', 'remote']))
        assert failed.failed
        for text in ('table public.nope does not exist', 'public.v is a view',
                     'table s2.remote does not exist', 'public.remote is a foreign table'):
            assert text in failed['msg']
        assert failed['queries'] == []
        assert snapshot(server, db) == before

        # contradictory options are rejected before connecting (the port is closed)
        failed = run_module('bemi_publication', dict(conn, login_port=1, all_tables=True, tables=['t1']))
        assert failed.failed
        assert 'all_tables: true' in failed['msg'] and 'cannot be combined' in failed['msg']

        # FOR ALL TABLES without superuser: clear error, in check mode too, nothing changed
        app = {'login_host': '127.0.0.1', 'login_port': server.port, 'login_user': 'app',
               'login_password': 'app-pw', 'login_db': db, 'name': 'app_pub'}
        for check in (True, False):
            failed = run_module('bemi_publication', app, check=check)
            assert failed.failed
            assert 'Only a superuser may create a FOR ALL TABLES publication' in failed['msg']
            assert 'app-pw' not in str(failed.result)
        assert snapshot(server, db) == before

        # the suggested fix works: a list of the role's own tables
        done = run_module('bemi_publication', dict(app, tables=['app_owned']))
        assert not done.failed, done.result
        assert published(server, db, 'app_pub') == (False, ['app_owned'], [])
    finally:
        server.query('DROP DATABASE IF EXISTS %s' % db)
        server.query('DROP ROLE IF EXISTS app')


def test_logical_decoding_sees_only_listed_tables(server, major):
    db = 'pub_decoding'
    make_db(server, db, '''
        CREATE TABLE tracked (id int PRIMARY KEY);
        CREATE TABLE ignored (id int PRIMARY KEY);
        CREATE TABLE parts (id int NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (100);
    ''')
    conn = dict(server.connection_args(), login_db=db)
    try:
        done = run_module('bemi_publication', dict(conn, tables=['tracked', 'parts']))
        assert not done.failed, done.result
        server.query("SELECT pg_create_logical_replication_slot('bemi_test', 'pgoutput')", dbname=db)
        try:
            # synchronous_commit is off on test servers: the peek only decodes flushed WAL.
            server.query('SET synchronous_commit = on; INSERT INTO tracked VALUES (1); INSERT INTO ignored VALUES (2); INSERT INTO parts VALUES (3)',
                         dbname=db)
            rows = server.query("SELECT data FROM pg_logical_slot_peek_binary_changes('bemi_test', NULL, NULL, "
                                "'proto_version', '1', 'publication_names', 'bemi')", dbname=db)
            stream = b''.join(bytes(row[0]) for row in rows)
            assert b'tracked\x00' in stream
            assert b'parts_low\x00' in stream  # a partition, under its own name (publish_via_partition_root=false)
            assert b'ignored\x00' not in stream

            # A dry run of a teardown whose earlier step drops the slot: no warning about that slot.
            check = run_module('bemi_publication', dict(conn, state='absent', slots_dropped_before=['bemi_test']),
                               check=True)
            assert check.result['changed'] and not check.get('warnings'), check.result
            check = run_module('bemi_publication', dict(conn, state='absent'), check=True)
            assert any('bemi_test' in warning for warning in check.get('warnings', [])), check.result

            # absent while a pgoutput slot may still read it: a warning, also when a real run was told
            # the slot would be gone by now (it reads the slots as they are)
            done = run_module('bemi_publication', dict(conn, state='absent', slots_dropped_before=['bemi_test']))
            assert not done.failed, done.result
            assert any('bemi_test' in warning and 'stops receiving changes' in warning
                       for warning in done.get('warnings', []))
        finally:
            server.query("SELECT pg_drop_replication_slot('bemi_test')", dbname=db)
    finally:
        server.query('DROP DATABASE IF EXISTS %s' % db)


def qualifiers(cluster, db):
    """Each listed table's row filter and column list, as the catalog has them."""
    return cluster.query('SELECT prrelid::regclass::text, pg_get_expr(prqual, prrelid), prattrs::text '
                         'FROM pg_publication_rel ORDER BY 1', dbname=db)


def decoded(cluster, db, statement):
    """The pgoutput stream of ``statement``, as a slot on publication bemi reads it."""
    cluster.query("SELECT pg_create_logical_replication_slot('bemi_qualifiers', 'pgoutput')", dbname=db)
    try:
        # synchronous_commit is off on test servers: the peek only decodes flushed WAL.
        cluster.query('SET synchronous_commit = on; ' + statement, dbname=db)
        rows = cluster.query("SELECT data FROM pg_logical_slot_peek_binary_changes('bemi_qualifiers', NULL, NULL, "
                             "'proto_version', '1', 'publication_names', 'bemi')", dbname=db)
        return b''.join(bytes(row[0]) for row in rows)
    finally:
        cluster.query("SELECT pg_drop_replication_slot('bemi_qualifiers')", dbname=db)


@pytest.mark.min_major(15)
def test_row_filters_and_column_lists_are_removed(server, major):
    """A row filter or column list is a difference: the table is published in full again, in one transaction."""
    db = 'pub_qualifiers'
    make_db(server, db, '''
        CREATE TABLE orders (id int PRIMARY KEY, amount int, secret_note text);
        CREATE TABLE items (id int PRIMARY KEY, label text);
        CREATE PUBLICATION bemi FOR TABLE orders WHERE (amount > 100), items (id);
    ''')
    try:
        # Bemi does not see a small order, nor an item's label.
        stream = decoded(server, db, "INSERT INTO orders VALUES (1, 5, 'small'); INSERT INTO items VALUES (1, 'lbl')")
        assert b'small' not in stream and b'lbl' not in stream and b'items\x00' in stream

        filtered = {'row_filters': {'public.orders': '(amount > 100)'}, 'column_lists': {'public.items': ['id']}}
        # The exact list: one SET TABLE of the same tables, which lists them without qualifiers.
        result = converge(server, db, {'tables': ['orders', 'items']},
                          ['ALTER PUBLICATION "bemi" SET TABLE ONLY "public"."items", ONLY "public"."orders"'])
        assert result['diff'] == {'before': report(tables=['public.items', 'public.orders'], **filtered),
                                  'after': report(tables=['public.items', 'public.orders'])}
        assert result['publication'] == report(tables=['public.items', 'public.orders'])
        assert result['tables_added'] == result['tables_removed'] == []
        assert qualifiers(server, db) == [('items', None, None), ('orders', None, None)]
        stream = decoded(server, db, "INSERT INTO orders VALUES (2, 6, 'small2'); INSERT INTO items VALUES (2, 'lbl2')")
        assert b'small2' in stream and b'lbl2' in stream

        # append: the filtered table asked for is dropped and added again in one transaction; the other
        # qualified table, not asked for, is left as it is.
        server.query('ALTER PUBLICATION bemi SET TABLE orders WHERE (amount > 100), items (id)', dbname=db)
        result = converge(server, db, {'tables': ['orders'], 'append': True},
                          ['ALTER PUBLICATION "bemi" DROP TABLE ONLY "public"."orders"',
                           'ALTER PUBLICATION "bemi" ADD TABLE ONLY "public"."orders"'])
        assert result['diff']['before']['row_filters'] == filtered['row_filters']
        assert result['publication'] == report(tables=['public.items', 'public.orders'],
                                               column_lists={'public.items': ['id']})
        assert qualifiers(server, db) == [('items', None, '1'), ('orders', None, None)]

        # append with a column list on the table asked for, and one more table to add.
        server.query('CREATE TABLE refunds (id int PRIMARY KEY)', dbname=db)
        result = converge(server, db, {'tables': ['items', 'refunds'], 'append': True},
                          ['ALTER PUBLICATION "bemi" DROP TABLE ONLY "public"."items"',
                           'ALTER PUBLICATION "bemi" ADD TABLE ONLY "public"."items", ONLY "public"."refunds"'])
        assert result['tables_added'] == ['public.refunds']
        assert result['publication'] == report(tables=['public.items', 'public.orders', 'public.refunds'])
    finally:
        server.query('DROP DATABASE IF EXISTS %s' % db)
