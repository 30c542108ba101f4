"""bemi_info on real servers: each problem built for real, a healthy database, a non-superuser, check mode."""

from __future__ import annotations

import os
import re

import pytest

from ansible_run import run_module

TRIGGER_FUNCTION_SQL = """
CREATE FUNCTION public._bemi_set_replica_identity_func() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
-- bemi.postgresql event trigger v4
-- bemi.postgresql tracked schemas: ["public"]
-- bemi.postgresql tracked partition trees: []
DECLARE
  cmd record;
BEGIN
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
    EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', cmd.objid::regclass);
  END LOOP;
END
$fn$;
CREATE PROCEDURE public._bemi_set_replica_identity() LANGUAGE sql AS $p$ SELECT 1 $p$;
CREATE EVENT TRIGGER _bemi_set_replica_identity_trigger ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
  EXECUTE FUNCTION public._bemi_set_replica_identity_func();
"""

# Bemi's published manual version (abridged): no marker line, so it is reported as outdated.
MANUAL_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION public._bemi_set_replica_identity_func() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  CALL _bemi_set_replica_identity();
END
$fn$;
"""

SNAPSHOT_QUERIES = (
    "SELECT n.nspname, c.relname, c.relkind, c.relreplident FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1, 2",
    "SELECT pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication "
    "ORDER BY 1",
    "SELECT prpubid, prrelid FROM pg_publication_rel ORDER BY 1, 2",
    "SELECT evtname, evtenabled, evtfoid FROM pg_event_trigger ORDER BY 1",
    "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE '%%bemi%%' ORDER BY 1",
    "SELECT rolname, rolcanlogin, rolreplication, rolsuper FROM pg_roles ORDER BY 1",
    "SELECT slot_name, database, restart_lsn::text, confirmed_flush_lsn::text FROM pg_replication_slots ORDER BY 1",
    "SELECT name, setting, sourcefile FROM pg_file_settings ORDER BY seqno",
    "SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
    "ORDER BY 1, 2, 3, 4",
)


def snapshot(cluster, dbname):
    return [cluster.query(statement, dbname=dbname) for statement in SNAPSHOT_QUERIES]


def info(cluster, dbname, check=False, **options):
    args = dict(cluster.connection_args(), login_db=dbname)
    args.update(options)
    return run_module('bemi_info', args, check=check)


def report_of(run):
    assert not run.failed, run.result
    assert run['changed'] is False
    assert run['queries'] == []
    return dict((key, value) for key, value in run.result.items() if key not in ('invocation', '_ansible_no_log'))


def without_wal_positions(report):
    """The report minus what moves on its own: the WAL position (the server logs running transactions by itself)
    and the free disk space (every process on this machine writes)."""
    report = dict(report)
    report['replication_slots'] = [dict(slot, retained_wal_bytes=None, safe_wal_size=None)
                                   for slot in report['replication_slots']]
    if report.get('server', {}).get('pg_wal'):
        report['server'] = dict(report['server'], pg_wal=dict(report['server']['pg_wal'], free_bytes=None))
    return report


# What a server that listens on 127.0.0.1 with initdb's pg_hba.conf gets: Bemi could not reach it from elsewhere.
NETWORK_NOTES = ['pg_hba_no_remote_rule', 'server_listens_locally']


def note_codes(report):
    return sorted(f['code'] for f in report['findings'] if f['severity'] == 'note')


def statement_count(log_text, dbname):
    """Statements the module sent (log_statement = all) to ``dbname`` as postgres."""
    return len(re.findall(r' postgres@%s LOG:  statement: ' % re.escape(dbname), log_text))


def has(problems, *fragments):
    """The one problem sentence that contains every fragment."""
    found = [p for p in problems if all(fragment in p for fragment in fragments)]
    assert len(found) == 1, (fragments, problems)
    return found[0]


def test_unhealthy_database(pool, major):
    cluster = pool.get(major, 'info', settings={'wal_level': 'logical'})
    cluster.query('CREATE DATABASE shop')
    cluster.query("""
        CREATE TABLE public.no_pk (a int, b text);
        CREATE TABLE public.with_pk (id int PRIMARY KEY);
        CREATE TABLE "We ird"(id int PRIMARY KEY);
        ALTER TABLE "We ird" REPLICA IDENTITY FULL;
        CREATE PUBLICATION bemi FOR TABLE public.no_pk, "We ird";
        CREATE ROLE bemi_lacking LOGIN PASSWORD 'lacking-pw';
        GRANT SELECT ON public.no_pk TO bemi_lacking;
    """, dbname='shop')
    # An inactive logical slot, then WAL written after it: the slot keeps all of it.
    cluster.query("SELECT pg_create_logical_replication_slot('stale', 'pgoutput')", dbname='shop')
    cluster.query("SELECT pg_create_logical_replication_slot('bemi_other', 'pgoutput')", dbname='postgres')
    cluster.query("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g; "
                  "DROP TABLE filler; SELECT pg_switch_wal()", dbname='postgres')
    options = dict(role='bemi_lacking', slot='bemi_other', max_retained_wal='1MB')

    before = snapshot(cluster, 'shop')
    log_offset = len(cluster.log_text())
    checked = report_of(info(cluster, 'shop', check=True, **options))
    statements = statement_count(cluster.log_text()[log_offset:], 'shop')
    assert snapshot(cluster, 'shop') == before
    real = report_of(info(cluster, 'shop', **options))
    assert snapshot(cluster, 'shop') == before
    assert without_wal_positions(real) == without_wal_positions(checked)

    assert real['ready'] is False
    assert real['publication'] == {'name': 'bemi', 'all_tables': False, 'tables': ['public."We ird"', 'public.no_pk'],
                                   'schemas': [], 'operations': ['insert', 'update', 'delete', 'truncate'],
                                   'publish_via_partition_root': False, 'row_filters': {}, 'column_lists': {}}
    assert real['tables_without_full_identity'] == ['public.no_pk', 'public.with_pk']
    assert real['tables_without_primary_key'] == ['public.no_pk']
    assert real['event_trigger']['present'] is False
    assert real['role'] == {'name': 'bemi_lacking', 'exists': True, 'login': True, 'replication': False,
                            'rds_replication': False, 'superuser': False, 'inherit': True, 'bypassrls': False,
                            'valid_until': None, 'expired': False, 'can_connect': True,
                            'cannot_select': ['public."We ird"']}
    slots = dict((slot['name'], slot) for slot in real['replication_slots'])
    assert [slot['name'] for slot in real['replication_slots']] == ['bemi_other', 'stale']
    assert slots['stale']['active'] is False and slots['stale']['database'] == 'shop'
    assert slots['stale']['plugin'] == 'pgoutput'
    assert slots['stale']['retained_wal_bytes'] > 1024 * 1024
    assert real['max_replication_slots']['in_use'] == 2

    problems = real['problems']
    assert problems == sorted(problems)
    has(problems, 'Published table public.no_pk of publication bemi has no primary key and no replica identity: '
                  'UPDATE and DELETE on it fail.', 'Fix:')
    has(problems, 'Published table public.no_pk of publication bemi has no REPLICA IDENTITY FULL', 'Fix:')
    has(problems, 'Publication bemi does not publish table public.with_pk of the tracked schemas', 'Fix:')
    has(problems, 'Event trigger _bemi_set_replica_identity_trigger does not exist', 'track_new_tables: true')
    has(problems, 'Role bemi_lacking has no REPLICATION attribute', 'Fix: ALTER ROLE bemi_lacking REPLICATION')
    has(problems, 'Role bemi_lacking cannot SELECT published table public."We ird"', 'GRANT SELECT')
    has(problems, 'Replication slot stale is inactive and retains', 'more than max_retained_wal 1 MB',
        "pg_drop_replication_slot('stale')")
    has(problems, 'Replication slot stale is inactive and max_slot_wal_keep_size = -1')
    has(problems, 'Replication slot bemi_other belongs to database postgres, not shop')
    # The test servers listen on 127.0.0.1 only, and initdb's pg_hba.conf admits only local hosts.
    assert note_codes(real) == NETWORK_NOTES
    # One read per kind of fact: compared with the healthy database's 60 tables below.
    assert 5 <= statements <= 12, statements


def test_healthy_database(pool, major):
    cluster = pool.get(major, 'info-ready', settings={'wal_level': 'logical'})
    cluster.query('CREATE DATABASE ready')
    cluster.query("""
        DO $$ BEGIN
          FOR i IN 1..60 LOOP
            EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text)', i);
            EXECUTE format('ALTER TABLE public.t%s REPLICA IDENTITY FULL', i);
          END LOOP;
        END $$;
        CREATE TABLE public.log_only (at timestamptz, line text);
        ALTER TABLE public.log_only REPLICA IDENTITY FULL;
        CREATE PUBLICATION bemi FOR ALL TABLES;
        CREATE ROLE bemi LOGIN REPLICATION PASSWORD 'bemi-pw';
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO bemi;
        CREATE ROLE monitor LOGIN PASSWORD 'monitor-pw' IN ROLE pg_monitor;
    """ + TRIGGER_FUNCTION_SQL, dbname='ready')

    before = snapshot(cluster, 'ready')
    log_offset = len(cluster.log_text())
    real = report_of(info(cluster, 'ready'))
    statements = statement_count(cluster.log_text()[log_offset:], 'ready')
    assert real['ready'] is True, real['problems']
    assert real['problems'] == []
    assert note_codes(real) == sorted(['slot_missing'] + NETWORK_NOTES)
    assert 'Replication slot bemi does not exist yet. Bemi creates it when it first connects.' in real['notes']
    assert real['wal_level'] == {'running': 'logical', 'configured': 'logical'}
    assert real['restart_required'] is False
    assert real['publication']['all_tables'] is True
    assert real['tables_without_full_identity'] == []
    assert real['tables_without_primary_key'] == ['public.log_only']
    assert real['event_trigger'] == {'present': True, 'enabled': True, 'up_to_date': True,
                                     'tags': ['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO'],
                                     'tracked_schemas': ['public'], 'tracked_partition_trees': [],
                                     'owner': 'postgres'}
    assert real['role'] == {'name': 'bemi', 'exists': True, 'login': True, 'replication': True,
                            'rds_replication': False, 'superuser': False, 'inherit': True, 'bypassrls': False,
                            'valid_until': None, 'expired': False, 'can_connect': True, 'cannot_select': []}
    assert real['server'] == {'in_recovery': False, 'version_num': real['server']['version_num'],
                              'data_directory': cluster.data_dir,
                              'config_file': os.path.join(cluster.data_dir, 'postgresql.conf'),
                              'hba_file': os.path.join(cluster.data_dir, 'pg_hba.conf'),
                              'cluster_name': '', 'min_wal_size_mb': 80, 'streaming_standbys': 0, 'role_exists': True,
                              'user_schemas': ['public'], 'pg_wal': real['server']['pg_wal'], 'ssl': False,
                              'conf_load_time': real['server']['conf_load_time']}
    assert real['server']['conf_load_time'] == pytest.approx(
        cluster.scalar('SELECT extract(epoch FROM pg_conf_load_time())::float8'))
    assert real['server']['version_num'] // 10000 == major
    # pg_wal's filesystem, measured where bemi_info runs (here: the server's own host).
    pg_wal = os.statvfs(os.path.join(cluster.data_dir, 'pg_wal'))
    assert real['server']['pg_wal']['path'] == os.path.realpath(os.path.join(cluster.data_dir, 'pg_wal'))
    assert real['server']['pg_wal']['size_bytes'] == pg_wal.f_blocks * pg_wal.f_frsize
    assert 0 < real['server']['pg_wal']['free_bytes'] <= real['server']['pg_wal']['size_bytes']
    assert real['replication_slots'] == []
    assert real['max_wal_senders']['in_use'] == 0
    assert 5 <= statements <= 12, statements

    checked = report_of(info(cluster, 'ready', check=True))
    assert without_wal_positions(checked) == without_wal_positions(real)
    assert snapshot(cluster, 'ready') == before

    # A non-superuser member of pg_monitor, over TCP: the same verdict.
    monitor = report_of(info(cluster, 'ready', login_host='127.0.0.1', login_user='monitor',
                             login_password='monitor-pw', login_unix_socket=''))
    assert monitor['ready'] is True, monitor['problems']
    for key in ('server_version', 'wal_level', 'restart_required', 'publication', 'tables_without_full_identity',
                'tables_without_primary_key', 'event_trigger', 'role', 'replication_slots', 'problems'):
        assert monitor[key] == real[key], key
    assert without_wal_positions(monitor)['server'] == without_wal_positions(real)['server']
    assert 'monitor-pw' not in str(monitor)
    assert snapshot(cluster, 'ready') == before

    # Bemi's manual trigger function, disabled: outdated and disabled.
    cluster.query(MANUAL_FUNCTION_SQL + 'ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger DISABLE',
                  dbname='ready')
    stale = report_of(info(cluster, 'ready', schemas=['public']))
    assert stale['ready'] is False
    assert stale['event_trigger'] == {'present': True, 'enabled': False, 'up_to_date': False,
                                      'tags': ['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO'],
                                      'tracked_schemas': None, 'tracked_partition_trees': None,
                                      'owner': 'postgres'}
    has(stale['problems'], 'Event trigger _bemi_set_replica_identity_trigger is outdated', "Bemi's manual version")
    has(stale['problems'], 'Event trigger _bemi_set_replica_identity_trigger is disabled',
        'ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger ENABLE')
    assert len(stale['problems']) == 2

    # Our own earlier version (v3, before partition trees were tracked): outdated.
    cluster.query(TRIGGER_FUNCTION_SQL.split('CREATE PROCEDURE', maxsplit=1)[0].replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')
                  .replace('event trigger v4', 'event trigger v3')
                  + 'ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger ENABLE', dbname='ready')
    old = report_of(info(cluster, 'ready', schemas=['public']))
    assert old['event_trigger']['up_to_date'] is False
    has(old['problems'], 'Event trigger _bemi_set_replica_identity_trigger is outdated', 'track_new_tables')


def test_pending_restart_and_unreadable_settings(pool, major):
    cluster = pool.fresh(major, 'info-restart')
    cluster.query("ALTER SYSTEM SET max_wal_senders = 7")
    cluster.query("CREATE ROLE plain LOGIN PASSWORD 'plain-pw'")

    real = report_of(info(cluster, 'postgres'))
    assert real['restart_required'] is True
    assert real['max_wal_senders'] == {'running': 10, 'configured': 7, 'in_use': 0}
    has(real['problems'], 'A restart of PostgreSQL is pending for max_wal_senders (running 10, configured 7)',
        'Fix: restart PostgreSQL')
    has(real['problems'], 'wal_level is replica, but Bemi needs logical', 'ALTER SYSTEM SET wal_level = logical')
    has(real['problems'], 'Publication bemi does not exist in database postgres')
    has(real['problems'], 'Role bemi does not exist')

    # A role without any monitoring privilege: pg_file_settings is unknown, never a failure.
    cluster.query("SELECT pg_reload_conf()")
    plain = report_of(info(cluster, 'postgres', login_host='127.0.0.1', login_user='plain',
                           login_password='plain-pw', login_unix_socket=''))
    assert plain['restart_required'] is True
    assert plain['max_wal_senders']['configured'] is None
    assert plain['wal_level'] == {'running': 'replica', 'configured': 'replica'}
    has(plain['notes'], 'plain cannot read pg_file_settings')
    # data_directory, config_file and hba_file need pg_read_all_settings: null, with a note.
    assert plain['server']['data_directory'] is None and plain['server']['hba_file'] is None
    assert plain['server']['role_exists'] is False
    has(plain['notes'], 'config_file, data_directory, hba_file: unknown, because plain may not read them')
    has(plain['problems'], 'A restart of PostgreSQL is pending for max_wal_senders')

    # Bad input: a clear error; a hostile schema name is only a name that does not exist.
    bad = info(cluster, 'postgres', max_retained_wal='lots')
    assert bad.failed and 'max_retained_wal must be a size' in bad['msg']
    # Unquoted, only ASCII A-Z fold to lower case (as PostgreSQL does in UTF-8): Ünïcode stays Ünïcode.
    hostile = report_of(info(cluster, 'postgres', schemas=['"x""; DROP TABLE t; --"', 'Ünïcode']))
    assert sorted(note for note in hostile['notes'] if note.startswith('Schema')) == [
        'Schema "x""; DROP TABLE t; --" (in the schemas option) does not exist in database postgres.',
        'Schema "Ünïcode" (in the schemas option) does not exist in database postgres.']
