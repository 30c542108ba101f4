"""Hardening: concurrent DDL, locks and odd input never end in a false success, a traceback or a leak.

One test per case, each reproducing what went wrong before the fix: a lock timeout
outside the table loop, a table dropped or renamed mid-run, a deadlock, a non-ASCII
name created unquoted, secrets in connect_params, a needless reload, and one table
set back to DEFAULT tearing down the trigger.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os

import pytest

from ansible_run import Background, no_traceback, run_module, wait_for_backend

_counter = itertools.count()
TRIGGER_TAGS = ['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO']


class Db(object):
    """A database of its own on the major's shared server."""

    def __init__(self, pg, name):
        self.pg = pg
        self.name = name

    def sql(self, statement, args=None):
        return self.pg.query(statement, args, dbname=self.name)

    def scalar(self, statement, args=None):
        rows = self.sql(statement, args)
        return rows[0][0] if rows else None

    def connect(self):
        return self.pg.connect(dbname=self.name)

    def args(self, **extra):
        args = dict(self.pg.connection_args(), login_db=self.name)
        args.update(extra)
        return args

    def identities(self):
        return dict(self.sql("SELECT c.relnamespace::regnamespace::text || '.' || c.relname, c.relreplident::text "
                             "FROM pg_class c WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace"))

    def routines(self):
        return self.sql("SELECT proname, prosrc, proconfig FROM pg_proc WHERE proname LIKE '\\_bemi%%' ORDER BY 1")

    def event_triggers(self):
        return self.sql('SELECT evtname, evttags FROM pg_event_trigger ORDER BY 1')


@pytest.fixture
def db(pg):
    name = 'hard_%d_%d' % (os.getpid(), next(_counter))
    pg.query('CREATE DATABASE %s' % name)
    yield Db(pg, name)
    pg.query('DROP DATABASE %s WITH (FORCE)' % name)


def wait_for(db, condition, what):
    """Until a backend of this database matches ``condition`` (SQL on pg_stat_activity), else fail saying ``what``."""
    try:
        wait_for_backend(db.pg, db.name, condition)
    except AssertionError:
        raise AssertionError('timed out waiting for: %s' % what) from None


@contextlib.contextmanager
def held(db, *statements):
    """A connection with an open transaction that ran ``statements``: its locks are held until the block ends."""
    conn = db.connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        yield conn
    finally:
        conn.rollback()
        conn.close()


# -- 1. Only the per-table groups may be skipped after lock timeouts -------------------------------

def test_role_absent_under_a_lock_fails(db):
    """DROP OWNED BY waits on a table lock under a login-level lock_timeout: a failure, not changed=false."""
    role = 'hard_owner_%d' % next(_counter)
    db.pg.query('CREATE ROLE %s LOGIN' % role)
    db.sql('CREATE TABLE public.owned (id int); ALTER TABLE public.owned OWNER TO %s' % role)
    with held(db, 'LOCK TABLE public.owned IN ACCESS SHARE MODE'):
        result = run_module('bemi_role', db.args(name=role, state='absent',
                                                 connect_params={'options': '-c lock_timeout=300ms'}))
    try:
        assert result.failed, result
        assert 'lock_timeout' in result['msg'] and 'nothing of it was changed' in result['msg'], result['msg']
        assert 'DROP OWNED BY' in result['msg'] and result['queries'] == []
        no_traceback(result)
        assert db.pg.scalar('SELECT count(*) FROM pg_roles WHERE rolname = %s', (role,)) == 1
        # Once the lock is gone, the same task completes.
        done = run_module('bemi_role', db.args(name=role, state='absent'))
        assert not done.failed and done['changed'] is True, done
    finally:
        if db.pg.scalar('SELECT count(*) FROM pg_roles WHERE rolname = %s', (role,)):
            db.sql('DROP OWNED BY %s' % role)
            db.pg.query('DROP ROLE %s' % role)


def test_event_trigger_group_that_stays_locked_fails_clearly(db):
    """Its statements wait on a row another transaction is changing: a clear failure, no KeyError."""
    db.sql('CREATE TABLE public.t (id int)')
    first = run_module('bemi_replica_identity', db.args())
    assert not first.failed, first
    routines = db.routines()
    # Another session is changing the trigger function and has not committed.
    with held(db, "ALTER FUNCTION public._bemi_set_replica_identity_func() SET work_mem = '1MB'"):
        result = run_module('bemi_replica_identity', db.args(
            schemas=['*'], lock_timeout='300ms', retries=1, connect_params={'options': '-c lock_timeout=300ms'}))
    assert result.failed, result
    no_traceback(result)
    assert 'lock_timeout' in result['msg'] and 'in 2 attempt(s)' in result['msg'], result['msg']
    assert '_bemi_set_replica_identity_func' in result['msg'] and result['queries'] == []
    assert db.routines() == routines
    assert db.identities()['public.t'] == 'f'


# -- 2. Tables dropped or renamed during the run; deadlocks --------------------------------------

def test_tables_dropped_or_renamed_mid_run_are_skipped_and_the_run_goes_on(db):
    db.sql("""
        CREATE TABLE public.a (id int); CREATE TABLE public.b (id int); CREATE TABLE public.c (id int);
        CREATE TABLE public.d (id int); CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at);
        CREATE TABLE public.events_2019 PARTITION OF public.events FOR VALUES FROM ('2019-01-01') TO ('2020-01-01');
    """)
    with held(db, 'LOCK TABLE public.a IN ACCESS SHARE MODE'):
        run = Background('bemi_replica_identity', db.args(lock_timeout='60s', track_new_tables=False))
        wait_for(db, "wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE \"public\".\"a\"%%'",
                 'the module to wait for the lock on public.a')
        # What pg_partman or a migration does meanwhile.
        db.sql('DROP TABLE public.b; ALTER TABLE public.c RENAME TO c_renamed; DROP TABLE public.events_2019')
    result = run.join()
    assert not result.failed, result
    no_traceback(result)
    assert result['tables_skipped'] == ['public.b', 'public.c', 'public.events_2019']
    assert result['tables_changed'] == ['public.a', 'public.d', 'public.events', 'public.c_renamed']
    assert result['tables_failed'] == []
    assert any('dropped or renamed' in warning and 'public.b, public.c, public.events_2019' in warning
               for warning in result['warnings']), result.get('warnings')
    assert set(result['diff']['after']['tables']) == {'public.a', 'public.d', 'public.events', 'public.c_renamed'}
    assert db.identities() == {'public.a': 'f', 'public.c_renamed': 'f', 'public.d': 'f', 'public.events': 'f'}
    again = run_module('bemi_replica_identity', db.args(track_new_tables=False))
    assert not again.failed and again['changed'] is False and again['tables_skipped'] == []


def test_a_table_list_whose_table_is_dropped_mid_run(db):
    db.sql('CREATE TABLE public.a (id int); CREATE TABLE public.b (id int)')
    with held(db, 'LOCK TABLE public.a IN ACCESS SHARE MODE'):
        run = Background('bemi_replica_identity', db.args(tables=['a', 'b'], lock_timeout='60s',
                                                          track_new_tables=False))
        wait_for(db, "wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE%%'", 'the module to wait for public.a')
        db.sql('DROP TABLE public.b')
    result = run.join()
    assert not result.failed, result
    assert result['tables_changed'] == ['public.a'] and result['tables_skipped'] == ['public.b']


def test_deadlock_is_retried(db):
    """The trigger's transaction loses a deadlock against a session that alters the same routines."""
    run_module('bemi_replica_identity', db.args())
    with held(db, "ALTER FUNCTION public._bemi_set_replica_identity_func() SET work_mem = '1MB'") as locker:
        # New schemas: the procedure and then the function are replaced, in one transaction.
        run = Background('bemi_replica_identity', db.args(schemas=['*'], lock_timeout='20s', retries=2))
        wait_for(db, "wait_event_type = 'Lock' AND query LIKE 'CREATE OR REPLACE FUNCTION%%'",
                 'the module to wait for the function row')
        # The other session now waits for the procedure row the module holds: a deadlock, detected after
        # deadlock_timeout (1 s) by the module (the other session checks only after 30 s).
        with locker.cursor() as cur:
            cur.execute("SET deadlock_timeout = '30s'")
            cur.execute("ALTER PROCEDURE public._bemi_set_replica_identity() SET work_mem = '1MB'")
    result = run.join()
    assert not result.failed, result
    no_traceback(result)
    assert result['tracked_schemas'] == ['*']
    assert '@%s ERROR:  deadlock detected' % db.name in db.pg.log_text()
    again = run_module('bemi_replica_identity', db.args(schemas=['*']))
    assert not again.failed and again['changed'] is False


# -- 5. Identifiers fold as PostgreSQL folds them --------------------------------------------------

def test_non_ascii_name_created_unquoted(db):
    db.sql('CREATE TABLE Ünï2 (id int); CREATE TABLE ÄBC_Straße (id int)')
    assert set(db.identities()) == {'public.Ünï2', 'public.Äbc_straße'}
    result = run_module('bemi_replica_identity', db.args(tables=['Ünï2', 'public.ÄBC_Straße'],
                                                         track_new_tables=False))
    assert not result.failed, result
    assert result['tables_changed'] == ['public."Äbc_straße"', 'public."Ünï2"']
    assert db.identities() == {'public.Ünï2': 'f', 'public.Äbc_straße': 'f'}
    publication = run_module('bemi_publication', db.args(tables=['Ünï2']))
    assert not publication.failed, publication
    assert publication['publication']['tables'] == ['public."Ünï2"']


# -- 6. Secrets given in connect_params ------------------------------------------------------------

def test_connect_params_secrets_are_masked(db):
    role = 'hard_login_%d' % next(_counter)
    secret = 'S3cret-in-connect-params'
    ssl_secret = 'key-passphrase-42'
    db.pg.query("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'" % (role, secret))
    try:
        base = dict(login_host='127.0.0.1', login_port=db.pg.port, login_user=role, login_db=db.name)
        params = {'password': secret, 'sslpassword': ssl_secret, 'application_name': 'hardening-test'}
        ok = run_module('bemi_info', dict(base, connect_params=params), verbosity=3)
        assert not ok.failed, ok
        params = ok['invocation']['module_args']['connect_params']
        assert params['password'] == params['sslpassword'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
        assert params['application_name'] == 'hardening-test'
        # A wrong password, in a connection string given as the database: the error shows neither.
        uri = 'postgresql://%s:%s@127.0.0.1:%d/%s' % (role, 'Wr0ng-pass', db.pg.port, db.name)
        bad = run_module('bemi_info', dict(base, login_db=uri), verbosity=3)
        assert bad.failed and 'authentication failed' in bad['msg'], bad
        # Invalid input is reported by Ansible itself, before the module runs: masked there too.
        invalid = run_module('bemi_info', dict(base, connect_params={'password': secret}, login_port='x'),
                             verbosity=3)
        assert invalid.failed
        for run in (ok, bad, invalid):
            text = run.stdout + run.stderr + json.dumps(run.result)
            assert secret not in text and ssl_secret not in text and 'Wr0ng-pass' not in text, text
    finally:
        db.pg.query('DROP ROLE %s' % role)


# -- 7. bemi_wal_level reloads only for reload-level settings --------------------------------------

@pytest.fixture
def wal_server(pool, major):
    cluster = pool.fresh(major, 'hardening-wal')
    yield cluster
    pool.clusters.pop((major, 'hardening-wal')).destroy()


def test_wal_level_does_not_reload_for_restart_only_settings(wal_server):
    # A half-finished edit of postgresql.conf that nobody has reloaded yet.
    wal_server.append_conf({'work_mem': "'7MB'"})
    args = dict(wal_server.connection_args(), min_replication_slots=20)
    predicted = run_module('bemi_wal_level', args, check=True)
    result = run_module('bemi_wal_level', args)
    assert not result.failed, result
    assert result['queries'] == ["ALTER SYSTEM SET wal_level = 'logical'",
                                 'ALTER SYSTEM SET max_replication_slots = 20'] == predicted['queries']
    assert result['restart_required'] is True
    assert result['wal_level'] == {'running': 'replica', 'configured': 'logical'}
    assert 'received SIGHUP' not in wal_server.log_text()
    assert wal_server.scalar("SELECT current_setting('work_mem')") == '4MB'
    again = run_module('bemi_wal_level', args)
    assert not again.failed and again['changed'] is False and again['restart_required'] is True


# -- 9. One table back to DEFAULT does not tear down tracking ---------------------------------------

def test_default_on_a_table_list_keeps_the_trigger(db):
    db.sql('CREATE TABLE public.users (id int); CREATE TABLE public.orders (id int)')
    assert not run_module('bemi_replica_identity', db.args()).failed
    triggers, routines = db.event_triggers(), db.routines()
    result = run_module('bemi_replica_identity', db.args(identity='default', tables=['users']))
    assert not result.failed, result
    assert result['queries'] == ['ALTER TABLE "public"."users" REPLICA IDENTITY DEFAULT']
    assert result['event_trigger'] == 'present' and result['tracked_schemas'] == ['public']
    assert result['diff']['before']['event_trigger'] == result['diff']['after']['event_trigger']
    assert db.event_triggers() == triggers and db.routines() == routines
    db.sql('CREATE TABLE public.created_later (id int)')
    assert db.identities() == {'public.users': 'd', 'public.orders': 'f', 'public.created_later': 'f'}

    # With track_new_tables: true, the trigger is ensured and the listed tables go back to DEFAULT.
    db.sql('DROP EVENT TRIGGER _bemi_set_replica_identity_trigger; ALTER TABLE public.orders REPLICA IDENTITY FULL')
    both = run_module('bemi_replica_identity', db.args(identity='default', tables=['orders'],
                                                       track_new_tables=True))
    assert not both.failed, both
    assert both['event_trigger'] == 'present' and db.event_triggers() == triggers
    assert db.identities()['public.orders'] == 'd'
    # Without tables, DEFAULT for every table and FULL for new ones contradict each other.
    refused = run_module('bemi_replica_identity', db.args(identity='default', track_new_tables=True))
    assert refused.failed and 'give the tables' in refused['msg']
