"""bemi_info's verdict is right both ways, on real servers.

Each faulty state is built for real and must give ``ready: false`` with a finding
that names the object and the fix; applying that fix (plain SQL, as an operator
would) must give ``ready: true``. The reverse cases (unlogged tables, a restart
pending for an unrelated setting, Bemi's own slot between two connections, a
standby's slot) must never make a server not ready. Where it is cheap, the test
also shows that the finding is real (the login really fails, the new table
really stays without REPLICA IDENTITY FULL).

Roles and slots are server-wide, so each test uses its own database, role and
slot names, and drops the slots it made whatever the outcome.
"""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from ansible_run import run_module
from test_info import TRIGGER_FUNCTION_SQL, info, report_of


@pytest.fixture
def server(pool, major):
    # Ready means a WAL budget too (wal_budget_unlimited): this server has one, as the tracking role leaves it.
    return pool.get(major, 'readiness', settings={'wal_level': 'logical', 'max_slot_wal_keep_size': "'4GB'"})


def ready_database(cluster, dbname, role, password='bemi-pw'):
    """A database that is ready for Bemi: published FOR ALL TABLES, FULL identity, trigger, role with grants."""
    cluster.query('CREATE DATABASE %s' % dbname)
    cluster.query("""
        CREATE TABLE public.items (id int PRIMARY KEY, name text);
        ALTER TABLE public.items REPLICA IDENTITY FULL;
        CREATE PUBLICATION bemi FOR ALL TABLES;
        CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s';
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s;
    """ % (role, password, role) + TRIGGER_FUNCTION_SQL, dbname=dbname)


def verdict(cluster, dbname, role, slot='bemi', **options):
    return report_of(info(cluster, dbname, role=role, slot=slot, **options))


# These servers listen on 127.0.0.1 only and keep initdb's pg_hba.conf, so every report has these two notes
# (test_info checks them): left out here, where each test is about one other finding.
NETWORK_NOTES = ('pg_hba_no_remote_rule', 'server_listens_locally')


def codes(report, severity=None):
    return [f['code'] for f in report['findings']
            if severity in (None, f['severity']) and f['code'] not in NETWORK_NOTES]


def assert_ready(report):
    assert report['ready'] is True, report['problems']
    assert codes(report, 'problem') == []


def the_problem(report, code, obj, *in_fix):
    """The report is not ready because of exactly this finding; return it."""
    assert report['ready'] is False
    assert codes(report, 'problem') == [code], report['problems']
    (item,) = [f for f in report['findings'] if f['code'] == code]
    assert item['severity'] == 'problem' and item['object'] == obj, item
    for text in in_fix:
        assert text in item['fix'], (text, item['fix'])
    assert '%s Fix: %s' % (item['message'], item['fix']) in report['problems']
    return item


def can_login(cluster, dbname, role, password='bemi-pw'):
    """Log in as Bemi does: TCP with a password."""
    try:
        psycopg2.connect(host='127.0.0.1', port=cluster.port, dbname=dbname, user=role, password=password,
                         connect_timeout=5).close()
        return True
    except psycopg2.OperationalError:
        return False


@contextlib.contextmanager
def slots_dropped(cluster, *names):
    """Slots are server-wide: never leave one behind for the next test."""
    try:
        yield
    finally:
        for name in names:
            cluster.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s',
                          (name,))


@contextlib.contextmanager
def settings_reset(cluster, *names):
    try:
        yield
    finally:
        for name in names:
            cluster.query('ALTER SYSTEM RESET %s' % name)
        cluster.query('SELECT pg_reload_conf()')


def test_expired_role(server):
    ready_database(server, 'r_expired', 'bemi_expired')
    assert_ready(verdict(server, 'r_expired', 'bemi_expired'))

    server.query("ALTER ROLE bemi_expired VALID UNTIL '2001-02-03'")
    assert not can_login(server, 'r_expired', 'bemi_expired')
    report = verdict(server, 'r_expired', 'bemi_expired')
    item = the_problem(report, 'role_expired', 'bemi_expired', "ALTER ROLE bemi_expired VALID UNTIL 'infinity'")
    assert 'VALID UNTIL 2001-02-03' in item['message']
    assert report['role']['expired'] is True

    server.query("ALTER ROLE bemi_expired VALID UNTIL 'infinity'")
    assert can_login(server, 'r_expired', 'bemi_expired')
    report = verdict(server, 'r_expired', 'bemi_expired')
    assert_ready(report)
    assert report['role']['valid_until'] == 'infinity' and report['role']['expired'] is False


def test_role_without_connect(server):
    ready_database(server, 'r_connect', 'bemi_connect')
    server.query('REVOKE CONNECT ON DATABASE r_connect FROM PUBLIC')
    assert not can_login(server, 'r_connect', 'bemi_connect')
    report = verdict(server, 'r_connect', 'bemi_connect')
    the_problem(report, 'role_no_connect', 'bemi_connect', 'GRANT CONNECT ON DATABASE r_connect TO bemi_connect')
    assert report['role']['can_connect'] is False

    server.query('GRANT CONNECT ON DATABASE r_connect TO bemi_connect')
    assert can_login(server, 'r_connect', 'bemi_connect')
    assert_ready(verdict(server, 'r_connect', 'bemi_connect'))


def test_trigger_owner_that_cannot_alter_the_tables(server):
    ready_database(server, 'r_owner', 'bemi_owner')
    server.query("""
        DROP EVENT TRIGGER _bemi_set_replica_identity_trigger;
        DROP FUNCTION public._bemi_set_replica_identity_func();
        DROP PROCEDURE public._bemi_set_replica_identity();
        CREATE ROLE r_owner_app NOLOGIN;
        CREATE ROLE r_owner_admin NOLOGIN NOSUPERUSER;
        GRANT CREATE ON SCHEMA public TO r_owner_app;
        ALTER TABLE public.items OWNER TO r_owner_app;
    """, dbname='r_owner')
    # The collection's own trigger, then handed to a role that is not a superuser (as on a managed service).
    args = dict(server.connection_args(), login_db='r_owner', schemas=['public'], track_new_tables=True)
    assert not run_module('bemi_replica_identity', args).failed
    server.query('ALTER FUNCTION public._bemi_set_replica_identity_func() OWNER TO r_owner_admin', dbname='r_owner')

    server.query('SET ROLE r_owner_app; CREATE TABLE public.later (id int PRIMARY KEY)', dbname='r_owner')
    assert server.scalar("SELECT relreplident FROM pg_class WHERE oid = 'public.later'::regclass",
                         dbname='r_owner') == 'd'
    # What the trigger should have done, and the grant bemi_role's default privileges would give.
    server.query('ALTER TABLE public.later REPLICA IDENTITY FULL; GRANT SELECT ON public.later TO bemi_owner',
                 dbname='r_owner')
    report = verdict(server, 'r_owner', 'bemi_owner')
    item = the_problem(report, 'event_trigger_owner_cannot_alter', 'public._bemi_set_replica_identity_func()',
                       'GRANT r_owner_app TO r_owner_admin', 'OWNER TO a superuser')
    assert 'table public.items' in item['message'] or 'tables public.items' in item['message']
    assert report['event_trigger']['owner'] == 'r_owner_admin'

    server.query('GRANT r_owner_app TO r_owner_admin')
    report = verdict(server, 'r_owner', 'bemi_owner')
    assert_ready(report)
    assert 'event_trigger_owner_not_superuser' in codes(report, 'note')
    server.query('SET ROLE r_owner_app; CREATE TABLE public.later2 (id int PRIMARY KEY); RESET ROLE; '
                 'GRANT SELECT ON public.later2 TO bemi_owner', dbname='r_owner')
    assert server.scalar("SELECT relreplident FROM pg_class WHERE oid = 'public.later2'::regclass",
                         dbname='r_owner') == 'f'

    # The other fix: a superuser owns the function again, and the note goes too.
    server.query('ALTER FUNCTION public._bemi_set_replica_identity_func() OWNER TO postgres', dbname='r_owner')
    report = verdict(server, 'r_owner', 'bemi_owner')
    assert_ready(report)
    assert 'event_trigger_owner_not_superuser' not in codes(report)


def test_unlogged_tables_never_make_a_server_not_ready(server):
    ready_database(server, 'r_unlogged', 'bemi_unlogged')
    server.query('CREATE UNLOGGED TABLE public.cache (k text, v text)', dbname='r_unlogged')
    report = verdict(server, 'r_unlogged', 'bemi_unlogged')
    assert_ready(report)
    assert codes(report, 'note') == ['slot_missing', 'table_unlogged']
    assert report['tables_without_primary_key'] == []

    # A table list: the unlogged table cannot be added (PostgreSQL refuses), so it must not be asked for.
    server.query('DROP PUBLICATION bemi; CREATE PUBLICATION bemi FOR TABLE public.items', dbname='r_unlogged')
    with pytest.raises(psycopg2.Error):
        server.query('ALTER PUBLICATION bemi ADD TABLE public.cache', dbname='r_unlogged')
    report = verdict(server, 'r_unlogged', 'bemi_unlogged')
    assert_ready(report)
    assert 'table_unlogged' in codes(report, 'note')

    # A logged table left out of the list is still a problem, and SET LOGGED makes the unlogged one one too.
    server.query('ALTER TABLE public.cache SET LOGGED', dbname='r_unlogged')
    the_problem(verdict(server, 'r_unlogged', 'bemi_unlogged'), 'table_not_published', 'bemi', 'ALTER PUBLICATION bemi ADD TABLE')


def test_restart_pending_for_an_unrelated_setting_is_a_note(pool, major):
    # PostgreSQL keeps a setting flagged pending_restart even once the change is reverted: a server of its own.
    server = pool.fresh(major, 'readiness-restart', settings={'wal_level': 'logical'})
    ready_database(server, 'r_restart', 'bemi_restart')
    try:
        server.query('ALTER SYSTEM SET max_locks_per_transaction = 128')
        server.query('SELECT pg_reload_conf()')
        report = verdict(server, 'r_restart', 'bemi_restart')
        assert_ready(report)
        assert report['restart_required'] is True
        assert 'restart_pending_unrelated' in codes(report, 'note')

        # A setting Bemi depends on is still a problem, whose fix is the restart.
        server.query('ALTER SYSTEM SET max_wal_senders = 7')
        server.query('SELECT pg_reload_conf()')
        the_problem(verdict(server, 'r_restart', 'bemi_restart'), 'restart_pending', 'max_wal_senders',
                    'restart PostgreSQL')

        # Reverted (the flag stays, the files agree with the running value): ready again.
        server.query('ALTER SYSTEM RESET max_wal_senders')
        server.query('SELECT pg_reload_conf()')
        assert_ready(verdict(server, 'r_restart', 'bemi_restart'))
    finally:
        server.destroy()


def test_bemi_slot_without_a_budget_is_a_problem_and_a_standby_slot_a_note(server):
    ready_database(server, 'r_slots', 'bemi_slots')
    with slots_dropped(server, 'r_slots_bemi', 'r_slots_standby', 'r_slots_stale'), \
            settings_reset(server, 'max_slot_wal_keep_size'):
        server.query('ALTER SYSTEM SET max_slot_wal_keep_size = -1')
        server.query('SELECT pg_reload_conf()')
        # A standby's physical slot, with max_slot_wal_keep_size = -1: normal while it reconnects.
        server.query("SELECT pg_create_physical_replication_slot('r_slots_standby', true)")
        report = verdict(server, 'r_slots', 'bemi_slots', slot='r_slots_bemi')
        assert_ready(report)
        assert report['max_slot_wal_keep_size'] == -1
        unbounded = [f for f in report['findings'] if f['code'] == 'slot_wal_unbounded']
        assert [f['object'] for f in unbounded] == ['r_slots_standby']
        assert all('max_slot_wal_keep_size' in f['fix'] for f in unbounded)

        # Bemi's slot (between two connections) with no budget: nothing stops it from filling the disk.
        server.query("SELECT pg_create_logical_replication_slot('r_slots_bemi', 'pgoutput')", dbname='r_slots')
        the_problem(verdict(server, 'r_slots', 'bemi_slots', slot='r_slots_bemi'), 'wal_budget_unlimited',
                    'max_slot_wal_keep_size', 'bemi_max_slot_wal_keep_size')

        # Someone else's forgotten logical slot is a problem too: it keeps WAL without limit.
        server.query("SELECT pg_create_logical_replication_slot('r_slots_stale', 'pgoutput')", dbname='r_slots')
        report = verdict(server, 'r_slots', 'bemi_slots', slot='r_slots_bemi')
        assert sorted(codes(report, 'problem')) == ['inactive_slot_unbounded_wal', 'wal_budget_unlimited']
        stale = [f for f in report['findings'] if f['object'] == 'r_slots_stale']
        assert "pg_drop_replication_slot('r_slots_stale')" in stale[0]['fix']

        # With a WAL budget, an inactive slot is no risk to the disk: ready, and no note either.
        server.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'")
        server.query('SELECT pg_reload_conf()')
        report = verdict(server, 'r_slots', 'bemi_slots', slot='r_slots_bemi')
        assert_ready(report)
        assert 'slot_wal_unbounded' not in codes(report)


def test_bemi_slot_with_another_plugin(server):
    ready_database(server, 'r_plugin', 'bemi_plugin')
    with slots_dropped(server, 'r_plugin_slot'):
        server.query("SELECT pg_create_logical_replication_slot('r_plugin_slot', 'test_decoding')", dbname='r_plugin')
        report = verdict(server, 'r_plugin', 'bemi_plugin', slot='r_plugin_slot')
        item = the_problem(report, 'slot_plugin_not_pgoutput', 'r_plugin_slot',
                           "pg_drop_replication_slot('r_plugin_slot')")
        assert 'plugin test_decoding' in item['message']

        server.query("SELECT pg_drop_replication_slot('r_plugin_slot')")
        server.query("SELECT pg_create_logical_replication_slot('r_plugin_slot', 'pgoutput')", dbname='r_plugin')
        assert_ready(verdict(server, 'r_plugin', 'bemi_plugin', slot='r_plugin_slot'))


def test_wal_level_configured_lower_says_set_it_back(server):
    ready_database(server, 'r_wal', 'bemi_wal')
    with slots_dropped(server, 'r_wal_slot'), settings_reset(server, 'wal_level'):
        server.query("SELECT pg_create_logical_replication_slot('r_wal_slot', 'pgoutput')", dbname='r_wal')
        server.query('ALTER SYSTEM SET wal_level = replica')
        server.query('SELECT pg_reload_conf()')
        report = verdict(server, 'r_wal', 'bemi_wal', slot='r_wal_slot')
        item = the_problem(report, 'wal_level_configured_not_logical', 'wal_level',
                           'ALTER SYSTEM SET wal_level = logical', 'Do not restart PostgreSQL')
        assert 'FATAL: logical replication slot "r_wal_slot" exists, but wal_level < logical' in item['message']
        assert not any(f['fix'] == 'restart PostgreSQL.' for f in report['findings'])
        assert report['wal_level'] == {'running': 'logical', 'configured': 'replica'}

        server.query('ALTER SYSTEM SET wal_level = logical')
        server.query('SELECT pg_reload_conf()')
        report = verdict(server, 'r_wal', 'bemi_wal', slot='r_wal_slot')
        assert_ready(report)
        assert report['restart_required'] is False


def test_noinherit_and_bypassrls_are_reported(server):
    ready_database(server, 'r_attrs', 'bemi_attrs')
    server.query('ALTER ROLE bemi_attrs NOINHERIT BYPASSRLS')
    report = verdict(server, 'r_attrs', 'bemi_attrs')
    assert_ready(report)
    assert codes(report, 'note') == ['role_bypassrls', 'role_noinherit', 'slot_missing']
    assert report['role']['inherit'] is False and report['role']['bypassrls'] is True

    server.query('ALTER ROLE bemi_attrs INHERIT NOBYPASSRLS')
    assert codes(verdict(server, 'r_attrs', 'bemi_attrs')) == ['slot_missing']


def test_a_server_bemi_cannot_reach_is_noted(server):
    ready_database(server, 'r_net', 'bemi_net')
    found = verdict(server, 'r_net', 'bemi_net')['findings']
    network = dict((f['code'], f) for f in found if f['code'] in NETWORK_NOTES)
    assert sorted(network) == list(NETWORK_NOTES)
    assert network['server_listens_locally']['message'].startswith("listen_addresses = '127.0.0.1'")
    assert 'bemi_pg_hba_addresses' in network['pg_hba_no_remote_rule']['fix']

    # A line for Bemi's network, as the server has loaded it, clears the pg_hba note; a hostssl line on a
    # server without SSL never matches (pg_hba_file_rules gives it an error), so it does not.
    hba = server.read_file('pg_hba.conf')
    try:
        for line, left in (('hostssl', list(NETWORK_NOTES)), ('host', ['server_listens_locally'])):
            server.write_file('pg_hba.conf', '%s r_net bemi_net 192.0.2.0/24 scram-sha-256\n%s' % (line, hba))
            server.query('SELECT pg_reload_conf()')
            found = verdict(server, 'r_net', 'bemi_net')['findings']
            assert sorted(f['code'] for f in found if f['code'] in NETWORK_NOTES) == left, line
    finally:
        server.write_file('pg_hba.conf', hba)
        server.query('SELECT pg_reload_conf()')
