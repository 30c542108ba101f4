"""bemi_replica_identity on real servers: scope, check mode, idempotence, the event trigger's
fixes of Bemi's manual SQL (one test per known defect), adoption, and lock safety."""

from __future__ import annotations

import datetime
import itertools
import os
import re
import threading
import time

import pytest

from ansible_run import run_module

MODULE = 'bemi_replica_identity'
_counter = itertools.count()

TRIGGER_TAGS = ['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE SCHEMA', 'ALTER TABLE']
CREATE_TRIGGER = ('CREATE EVENT TRIGGER "_bemi_set_replica_identity_trigger" ON ddl_command_end '
                  "WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE SCHEMA', 'ALTER TABLE') "
                  'EXECUTE FUNCTION "public"."_bemi_set_replica_identity_func"()')
MARKER = '-- bemi.postgresql event trigger v4'
REVOKE = 'REVOKE ALL ON PROCEDURE "public"."_bemi_set_replica_identity"() FROM PUBLIC'
CREATE_PROCEDURE = 'CREATE OR REPLACE PROCEDURE "public"."_bemi_set_replica_identity"() LANGUAGE plpgsql AS'
CREATE_FUNCTION = ('CREATE OR REPLACE FUNCTION "public"."_bemi_set_replica_identity_func"() RETURNS event_trigger '
                   'LANGUAGE plpgsql SECURITY DEFINER')

# Bemi's manual SQL as published, with its known defects.
with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fixtures',
                       'bemi_manual_trigger.sql')) as _handle:
    BEMI_MANUAL_SQL = _handle.read()


class Db(object):
    """A database of its own on the major's shared server (event triggers are per database)."""

    def __init__(self, pg, name):
        self.pg = pg
        self.name = name

    def sql(self, statement, args=None, user='postgres'):
        return self.pg.query(statement, args, dbname=self.name, user=user)

    def scalar(self, statement, args=None):
        rows = self.sql(statement, args)
        return rows[0][0] if rows else None

    def connect(self, **kwargs):
        return self.pg.connect(dbname=self.name, **kwargs)

    def args(self, **extra):
        args = dict(self.pg.connection_args(), login_db=self.name)
        args.update(extra)
        return args

    def identities(self):
        """{schema.table: relreplident} of every table outside the system schemas."""
        rows = self.sql("SELECT n.nspname || '.' || c.relname, c.relreplident::text FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f', 'm') "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'")
        return dict(rows)

    def snapshot(self):
        return {
            'identities': self.identities(),
            'event_triggers': self.sql("SELECT evtname, evtevent, evttags, evtenabled, evtfoid::regproc::text "
                                       "FROM pg_event_trigger ORDER BY 1"),
            'routines': self.sql("SELECT pronamespace::regnamespace::text, proname, prokind::text, prosrc, prosecdef, "
                                 "proconfig, proowner::regrole::text, proacl::text FROM pg_proc "
                                 "WHERE proname LIKE '\\_bemi%%' ORDER BY 1, 2"),
        }

    def function_source(self):
        return self.scalar("SELECT prosrc FROM pg_proc WHERE oid = 'public._bemi_set_replica_identity_func()'::regprocedure")


def own_database(pg, prefix):
    """A fixture's body: a new database on the major's shared server, dropped afterwards."""
    name = '%s_%d_%d' % (prefix, os.getpid(), next(_counter))
    pg.query('CREATE DATABASE %s' % name)
    yield Db(pg, name)
    pg.query('DROP DATABASE %s WITH (FORCE)' % name)


@pytest.fixture
def db(pg):
    yield from own_database(pg, 'ri')


def run(db, check=False, **args):
    return run_module(MODULE, db.args(**args), check=check)


def check_then_apply(db, **args):
    """Check mode changes nothing and predicts the real run exactly; return the real run."""
    before = db.snapshot()
    predicted = run(db, check=True, **args)
    assert not predicted.failed, predicted.result
    assert db.snapshot() == before, 'check mode changed the catalogs'
    real = run(db, **args)
    assert not real.failed, real.result
    for key in ('changed', 'queries', 'diff', 'tables_changed', 'tables_reset', 'tables_failed', 'event_trigger',
                'tracked_schemas'):
        assert predicted[key] == real[key], key
    return real


def assert_idempotent(db, **args):
    again = run(db, **args)
    assert not again.failed, again.result
    assert again['changed'] is False and again['queries'] == [], again.result
    assert again['tables_changed'] == [] and again['tables_failed'] == []
    return again


def body_of(statement):
    """The routine body between the dollar quotes of a CREATE statement."""
    match = re.search(r'AS (\$bemi\d*\$)(.*)\1$', statement, re.S)
    assert match, statement
    return match.group(2)


def alter(schema, table, identity='FULL'):
    return 'ALTER TABLE "%s"."%s" REPLICA IDENTITY %s' % (schema.replace('"', '""'), table.replace('"', '""'), identity)


def test_scope_check_mode_and_idempotence(db):
    db.sql("""
        CREATE SCHEMA app;
        CREATE TABLE public.orders (id int PRIMARY KEY);
        CREATE TABLE public.items (id int);
        CREATE TABLE app.orders (id int);
        CREATE UNLOGGED TABLE public.scratch (id int);
        CREATE TABLE public.done (id int);
        ALTER TABLE public.done REPLICA IDENTITY FULL;
        CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at);
        CREATE TABLE app.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
          PARTITION BY RANGE (id);
        CREATE TABLE app.events_2024_low PARTITION OF app.events_2024 FOR VALUES FROM (0) TO (100);
        CREATE VIEW public.v AS SELECT 1 AS x;
        CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS x;
        CREATE FOREIGN DATA WRAPPER dummy;
        CREATE SERVER dummy FOREIGN DATA WRAPPER dummy;
        CREATE FOREIGN TABLE public.ft (id int) SERVER dummy;
        CREATE TABLE public.ext_owned (id int);
        ALTER EXTENSION plpgsql ADD TABLE public.ext_owned;
    """)
    initial = db.identities()
    first = check_then_apply(db, exclude=['items'])
    queries = first['queries']
    assert queries[0].startswith(CREATE_PROCEDURE)
    assert queries[1] == REVOKE
    assert queries[2].startswith(CREATE_FUNCTION)
    assert queries[3:] == [
        CREATE_TRIGGER,
        alter('app', 'events_2024'), alter('app', 'events_2024_low'),
        alter('public', 'events'), alter('public', 'orders'), alter('public', 'scratch'),
    ]
    assert first['tables_changed'] == ['app.events_2024', 'app.events_2024_low', 'public.events', 'public.orders',
                                       'public.scratch']
    assert first['event_trigger'] == 'present' and first['tracked_schemas'] == ['public']
    assert first['diff']['before']['tables']['public.orders'] == 'default'
    assert first['diff']['after']['tables']['public.orders'] == 'full'
    assert first['diff']['before']['event_trigger'] == {'state': 'absent'}
    ids = db.identities()
    assert ids['public.items'] == 'd' and ids['app.orders'] == 'd'
    assert all(ids[t] == initial[t] for t in ('public.ext_owned', 'public.ft', 'public.mv'))
    assert all(ids[t] == 'f' for t in ('public.orders', 'public.events', 'app.events_2024', 'app.events_2024_low'))
    # What ran is what is installed, marked as ours with its schemas (bemi_info reads these lines).
    source = db.function_source()
    assert source == body_of(queries[2])
    assert MARKER in source.splitlines()
    assert '-- bemi.postgresql tracked schemas: ["public"]' in source.splitlines()
    assert MARKER in db.scalar(
        "SELECT prosrc FROM pg_proc WHERE oid = 'public._bemi_set_replica_identity()'::regprocedure").splitlines()
    assert db.sql("SELECT evtevent, evttags, evtenabled FROM pg_event_trigger") == [
        ('ddl_command_end', TRIGGER_TAGS, 'O')]
    assert_idempotent(db, exclude=['items'])

    # Every non-system schema: the trigger is updated in place, the rest of the tables follow.
    star = check_then_apply(db, schemas=['*'])
    assert star['queries'][0].startswith(CREATE_PROCEDURE)
    assert star['queries'][1].startswith(CREATE_FUNCTION)
    assert star['queries'][2:] == [alter('app', 'orders'), alter('public', 'items')]
    assert star['diff']['before']['event_trigger']['schemas'] == ['public']
    assert star['diff']['after']['event_trigger']['schemas'] == ['*']
    assert '-- bemi.postgresql tracked schemas: ["*"]' in db.function_source().splitlines()
    assert_idempotent(db, schemas=['*'])

    # Stop tracking: back to DEFAULT, the three objects removed.
    stop = check_then_apply(db, schemas=['*'], identity='default')
    assert stop['queries'][:3] == [
        'DROP EVENT TRIGGER "_bemi_set_replica_identity_trigger"',
        'DROP ROUTINE "public"."_bemi_set_replica_identity_func"()',
        'DROP ROUTINE "public"."_bemi_set_replica_identity"()',
    ]
    assert len(stop['queries']) == 3 + 8
    assert stop['event_trigger'] == 'absent' and stop['tracked_schemas'] == []
    assert all(db.identities()[t] == 'd' for t in stop['tables_changed'])
    assert db.snapshot()['event_triggers'] == [] and db.snapshot()['routines'] == []
    assert_idempotent(db, schemas=['*'], identity='default')


def test_bad_input_changes_nothing(db):
    db.sql("""
        CREATE TABLE public.t (id int);
        CREATE VIEW public.v AS SELECT 1 AS x;
        CREATE ROLE app_user LOGIN PASSWORD 'app-secret';
        GRANT CREATE ON SCHEMA public TO app_user;
    """)
    before = db.snapshot()
    unknown = run(db, tables=['t', 'missing', 'nowhere.x', 'v'], schemas=['public', 'nope'])
    assert unknown.failed and unknown['queries'] == []
    assert 'public.missing does not exist' in unknown['msg'] and 'nowhere.x does not exist' in unknown['msg']
    assert 'public.v is a view' in unknown['msg'] and 'unknown schemas: nope' in unknown['msg']
    timeout = run(db, lock_timeout='0')
    assert timeout.failed and 'lock_timeout' in timeout['msg']
    # A non-superuser cannot create an event trigger: said clearly, with hints, before anything changes.
    try:
        db.sql('CREATE TABLE public.app_table (id int)', user='postgres')
        db.sql('ALTER TABLE public.app_table OWNER TO app_user')
        before = db.snapshot()
        weak = run_module(MODULE, {'login_host': '127.0.0.1', 'login_port': db.pg.port, 'login_db': db.name,
                                   'login_user': 'app_user', 'login_password': 'app-secret',
                                   'tables': ['app_table']})
        assert weak.failed and 'needs a superuser' in weak['msg'] and 'rds_superuser' in weak['msg']
        assert weak['queries'] == []
        assert db.snapshot() == before
        # Without the trigger, the owner may change its own table.
        owner = run_module(MODULE, {'login_host': '127.0.0.1', 'login_port': db.pg.port, 'login_db': db.name,
                                    'login_user': 'app_user', 'login_password': 'app-secret',
                                    'tables': ['app_table'], 'track_new_tables': False})
        assert not owner.failed and owner['tables_changed'] == ['public.app_table']
    finally:
        db.sql('DROP OWNED BY app_user; DROP ROLE app_user')
    assert db.identities()['public.t'] == 'd'


def test_hostile_names(db):
    schema = 'Sch ; "drop" $bemi$ \'x'
    table = 'T "ü" ; DROP TABLE t; --'
    db.sql('CREATE SCHEMA "Sch ; ""drop"" $bemi$ \'x"; CREATE TABLE "Sch ; ""drop"" $bemi$ \'x"."T ""ü"" ; DROP TABLE t; --" (id int)')
    quoted = '"%s"' % schema.replace('"', '""')
    result = check_then_apply(db, schemas=[quoted])
    assert result['queries'][-1] == alter(schema, table)
    assert result['tracked_schemas'] == [schema]
    # The dollar quote of the bodies avoided the schema name, and the trigger works there.
    assert '$bemi1$' in result['queries'][2]
    db.sql('CREATE TABLE %s."new ""one""" (id int)' % quoted)
    ids = db.identities()
    assert ids['%s.%s' % (schema, table)] == 'f' and ids['%s.new "one"' % schema] == 'f'
    assert_idempotent(db, schemas=[quoted])


def merged(base, **changes):
    """``base`` with some options changed (a copy)."""
    out = dict(base)
    out.update(changes)
    return out


def install(db, **args):
    result = run(db, **args)
    assert not result.failed, result.result
    return result


def assert_does_not_wait(db, locked_table, statement):
    """``statement`` returns at once while another session holds a lock on ``locked_table``."""
    locker = db.connect()
    locker.autocommit = False
    try:
        locker.cursor().execute('LOCK TABLE %s IN ACCESS SHARE MODE' % locked_table)
        conn = db.connect()
        conn.cursor().execute("SET statement_timeout = '3s'")
        started = time.time()
        conn.cursor().execute(statement)
        assert time.time() - started < 1.0
        conn.close()
    finally:
        locker.rollback()
        locker.close()


def test_defect_same_table_name_in_two_schemas(db):
    """Bemi's join on the name alone re-alters other tables; ours touches only the new one."""
    db.sql('CREATE SCHEMA app; CREATE TABLE public.t (id int); CREATE TABLE app.t (id int)')
    install(db)
    assert_does_not_wait(db, 'app.t', 'CREATE TABLE public.t2 (id int)')
    ids = db.identities()
    assert ids['public.t2'] == 'f' and ids['app.t'] == 'd' and ids['public.t'] == 'f'


def test_create_if_not_exists_leaves_an_existing_table_alone(db):
    """The trigger alters a table created in a tracked schema by the name the command reports, with
    no catalog lookup: a CREATE TABLE IF NOT EXISTS that creates nothing must report nothing, so it
    neither waits for the existing table's lock nor changes its replica identity."""
    db.sql('CREATE TABLE public.kept (id int)')
    db.sql('CREATE TABLE public.other (id int)')
    install(db, tables=['public.other'], track_new_tables=True)
    assert_does_not_wait(db, 'public.kept', 'CREATE TABLE IF NOT EXISTS public.kept (id int)')
    assert db.identities()['public.kept'] == 'd'


def test_defect_search_path_without_public_and_empty(db):
    """Bemi's unqualified CALL fails with another search_path; pg_dump restores set it empty."""
    db.sql('CREATE SCHEMA app')
    install(db, schemas=['public', 'app'])
    conn = db.connect()
    cur = conn.cursor()
    cur.execute('SET search_path = app')
    cur.execute('CREATE TABLE in_app (id int)')
    cur.execute('CREATE TABLE public.from_app (id int)')
    # What a plain pg_dump script does before its CREATE TABLEs.
    cur.execute("SELECT pg_catalog.set_config('search_path', '', false)")
    cur.execute('CREATE TABLE public.restored (id integer NOT NULL)')
    cur.execute('CREATE TABLE app.restored (id integer NOT NULL)')
    conn.close()
    ids = db.identities()
    assert [ids[t] for t in ('app.in_app', 'public.from_app', 'public.restored', 'app.restored')] == ['f'] * 4


def test_defect_non_owner_creates_a_table(db):
    """Bemi's trigger runs as the creating user and fails with "must be owner" on others' tables."""
    db.sql("""
        CREATE ROLE owner_a; CREATE ROLE owner_b;
        GRANT CREATE ON SCHEMA public TO owner_a, owner_b;
        SET ROLE owner_a; CREATE TABLE public.a_table (id int); RESET ROLE;
    """)
    try:
        install(db)
        db.sql('ALTER TABLE public.a_table REPLICA IDENTITY DEFAULT')
        conn = db.connect()
        cur = conn.cursor()
        cur.execute('SET ROLE owner_b')
        cur.execute('CREATE TABLE public.b_table (id int)')
        conn.close()
        ids = db.identities()
        assert ids['public.b_table'] == 'f' and ids['public.a_table'] == 'd'
        assert db.scalar("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.b_table'::regclass") == 'owner_b'
    finally:
        db.sql('DROP OWNED BY owner_a, owner_b; DROP ROLE owner_a; DROP ROLE owner_b')


def test_defect_create_table_as_and_select_into(db):
    install(db)
    db.sql('CREATE TABLE public.as_copy AS SELECT 1 AS x')
    db.sql('SELECT 1 AS x INTO public.into_copy')
    db.sql('CREATE TEMP TABLE temp_copy AS SELECT 1 AS x')
    ids = db.identities()
    assert ids['public.as_copy'] == 'f' and ids['public.into_copy'] == 'f'


def test_defect_partitions_in_another_schema(db):
    """A partition's identity is its own, wherever it lives; untracked schemas stay untouched."""
    db.sql('CREATE SCHEMA parts; CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at)')
    install(db)
    db.sql("""
        CREATE TABLE parts.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
          PARTITION BY RANGE (id);
        CREATE TABLE parts.events_2025_a PARTITION OF parts.events_2025 FOR VALUES FROM (0) TO (10);
        CREATE TABLE parts.unrelated (id int);
    """)
    ids = db.identities()
    assert ids['public.events'] == 'f' and ids['parts.events_2025'] == 'f' and ids['parts.events_2025_a'] == 'f'
    assert ids['parts.unrelated'] == 'd'


def test_defect_bemi_manual_sql_adopted(db):
    db.sql('CREATE TABLE public.old (id int)')
    db.sql(BEMI_MANUAL_SQL)
    db.sql('CREATE TABLE public.under_bemi (id int)')
    assert db.identities()['public.old'] == 'f'  # Bemi's procedure altered every table in public
    adopted = check_then_apply(db)
    assert adopted['changed'] is True
    queries = adopted['queries']
    assert queries[0].startswith(CREATE_PROCEDURE) and queries[1] == REVOKE and queries[2].startswith(CREATE_FUNCTION)
    assert queries[3:] == ['DROP EVENT TRIGGER "_bemi_set_replica_identity_trigger"', CREATE_TRIGGER]
    assert adopted['diff']['before']['event_trigger'] == {'state': 'present', 'ours': False, 'schemas': None,
                                                          'partition_trees': None, 'tags': ['CREATE TABLE'],
                                                          'enabled': 'O'}
    snap = db.snapshot()
    assert [r[1] for r in snap['routines']] == ['_bemi_set_replica_identity', '_bemi_set_replica_identity_func']
    assert len(snap['event_triggers']) == 1
    assert_idempotent(db)
    db.sql('SELECT 1 AS x INTO public.after_adoption')
    assert db.identities()['public.after_adoption'] == 'f'


def test_lock_safety(db):
    db.sql('CREATE TABLE public.a (id int); CREATE TABLE public.x (id int); CREATE TABLE public.z (id int)')
    locker = db.connect()
    locker.autocommit = False
    locker.cursor().execute('LOCK TABLE public.x IN ACCESS SHARE MODE')
    waits = []
    stop = threading.Event()

    def reader():
        conn = db.connect()
        cur = conn.cursor()
        while not stop.is_set():
            started = time.time()
            cur.execute('SELECT count(*) FROM public.x')
            waits.append(time.time() - started)
            time.sleep(0.02)
        conn.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        started = time.time()
        locked = run(db, lock_timeout='200ms', retries=2, track_new_tables=False)
        elapsed = time.time() - started
    finally:
        stop.set()
        thread.join()
        locker.rollback()
        locker.close()
    assert locked.failed
    assert locked['tables_failed'] == ['public.x'] and locked['tables_changed'] == ['public.a', 'public.z']
    assert 'public.x' in locked['msg']
    assert locked['queries'] == [alter('public', 'a'), alter('public', 'z')]
    ids = db.identities()
    assert ids['public.a'] == 'f' and ids['public.z'] == 'f' and ids['public.x'] == 'd'
    # 3 attempts of 200 ms plus back-off of at most 0.1 + 0.2 s: measured in the server's log, from
    # the first attempt on x to the next table's ALTER, so that Ansible's start-up does not count.
    stamps = [(line.split(' UTC ')[0], line) for line in db.pg.log_text().splitlines()
              if 'postgres@%s LOG:  statement: ALTER TABLE' % db.name in line]
    attempts = [stamp for stamp, line in stamps if '"public"."x"' in line]
    following = [stamp for stamp, line in stamps if '"public"."z"' in line]
    assert len(attempts) == 3 and len(following) == 1
    span = (datetime.datetime.strptime(following[0], '%Y-%m-%d %H:%M:%S.%f')
            - datetime.datetime.strptime(attempts[0], '%Y-%m-%d %H:%M:%S.%f')).total_seconds()
    assert 0.6 <= span < 0.9 + 0.5, span
    assert waits and max(waits) < 0.2 + 0.25, max(waits)
    started = time.time()
    done = run(db, lock_timeout='200ms', retries=2, track_new_tables=False)
    assert not done.failed and done['tables_changed'] == ['public.x']
    # Wall clock, Ansible included: no more than the retries over a normal run (loose: machines are busy).
    assert elapsed < (time.time() - started) + 0.9 + 3.0, elapsed
    assert db.identities()['public.x'] == 'f'


def test_trigger_covers_tables_entering_by_other_commands(db):
    """CREATE SCHEMA ... CREATE TABLE, SET SCHEMA and ATTACH PARTITION bring tables in; other ALTER TABLEs do not."""
    db.sql("""
        CREATE SCHEMA outside;
        CREATE TABLE public.events (id int, at int) PARTITION BY RANGE (at);
        CREATE TABLE public.kept_default (id int);
    """)
    install(db, exclude=['kept_default'])
    db.sql("""
        CREATE TABLE outside.moved (id int);
        ALTER TABLE outside.moved SET SCHEMA public;
        CREATE TABLE outside.events_a (id int, at int) PARTITION BY RANGE (id);
        CREATE TABLE outside.events_a_low PARTITION OF outside.events_a FOR VALUES FROM (0) TO (10);
        ALTER TABLE public.events ATTACH PARTITION outside.events_a FOR VALUES FROM (0) TO (100);
        CREATE TABLE outside.stays (id int);
        ALTER TABLE outside.stays ADD COLUMN note text;
    """)
    ids = db.identities()
    assert [ids[t] for t in ('public.moved', 'outside.events_a', 'outside.events_a_low')] == ['f'] * 3
    assert ids['outside.stays'] == 'd'
    # An ALTER TABLE that brings nothing in changes nothing: an excluded table, a table set back by hand.
    db.sql('ALTER TABLE public.kept_default ADD COLUMN note text')
    db.sql('ALTER TABLE public.moved REPLICA IDENTITY DEFAULT')
    db.sql('ALTER TABLE public.moved ADD COLUMN note text')
    db.sql('ALTER TABLE public.events ADD COLUMN note text')
    db.sql('ALTER TABLE outside.events_a_low REPLICA IDENTITY DEFAULT')
    db.sql('ALTER TABLE public.events DETACH PARTITION outside.events_a')
    ids = db.identities()
    assert ids['public.kept_default'] == 'd' and ids['public.moved'] == 'd' and ids['outside.events_a_low'] == 'd'
    # Attached again (in a transaction, as migrations do): the partition and its own partition enter again.
    db.sql('BEGIN; ALTER TABLE public.events ATTACH PARTITION outside.events_a FOR VALUES FROM (0) TO (100); COMMIT')
    assert db.identities()['outside.events_a_low'] == 'f'

    install(db, schemas=['*'])
    db.sql('CREATE SCHEMA billing CREATE TABLE invoices (id int) CREATE TABLE lines (id int)')
    ids = db.identities()
    assert ids['billing.invoices'] == 'f' and ids['billing.lines'] == 'f'


def test_trigger_one_migration_one_answer(db):
    """An identity set explicitly after CREATE TABLE wins, in the creating transaction (as Rails and Django run a
    migration) as in a later one; a table moved in later in the same transaction still gets FULL."""
    db.sql('CREATE SCHEMA outside')
    install(db)
    for name, identity in (('by_index', 'USING INDEX {0}_pkey'), ('by_default', 'DEFAULT'), ('by_nothing', 'NOTHING')):
        for suffix, statements in (('_one', 'BEGIN; {create}; {alter}; COMMIT'), ('_two', '{create}; {alter}')):
            table = name + suffix
            db.sql(statements.format(create='CREATE TABLE public.%s (id int PRIMARY KEY)' % table,
                                     alter='ALTER TABLE public.%s REPLICA IDENTITY %s' % (table, identity.format(table))))
    ids = db.identities()
    for name, expected in (('by_index', 'i'), ('by_default', 'd'), ('by_nothing', 'n')):
        assert (ids['public.%s_one' % name], ids['public.%s_two' % name]) == (expected, expected), name
    # Created outside, moved in within the same transaction: it enters, as in two transactions.
    db.sql('BEGIN; CREATE TABLE outside.late (id int); ALTER TABLE outside.late SET SCHEMA public; '
           'ALTER TABLE public.late ADD COLUMN note text; COMMIT')
    # A table created in the migration and only given a column later keeps the FULL it got.
    db.sql('BEGIN; CREATE TABLE public.grown (id int); ALTER TABLE public.grown ADD COLUMN note text; COMMIT')
    ids = db.identities()
    assert ids['public.late'] == 'f' and ids['public.grown'] == 'f'


def test_trigger_enabled_for_replication_only_or_disabled_is_turned_back_on(db):
    """ENABLE REPLICA (or DISABLE): the trigger no longer fires for the application; a run puts it back as ENABLE."""
    install(db)
    for state in ('ENABLE REPLICA', 'DISABLE'):
        db.sql('ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger %s' % state)
        name = 'after_%s' % state.split()[-1].lower()
        db.sql('CREATE TABLE public.%s_before (id int)' % name)
        assert db.identities()['public.%s_before' % name] == 'd'  # the trigger did not fire
        fixed = check_then_apply(db)
        assert fixed['changed'] is True
        assert any(query.startswith('CREATE EVENT TRIGGER') for query in fixed['queries'])
        assert db.sql('SELECT evtenabled FROM pg_event_trigger') == [('O',)]
        # The table created meanwhile is in scope, so the run gave it FULL too.
        assert 'public.%s_before' % name in fixed['tables_changed']
        db.sql('CREATE TABLE public.%s (id int)' % name)
        assert db.identities()['public.%s' % name] == 'f'
        assert_idempotent(db)


def test_procedure_commits_table_by_table(db):
    """CALL by hand: each table committed (and unlocked) before the next; in a transaction block, all at its end."""
    db.sql('CREATE TABLE public.a (id int); CREATE TABLE public.b (id int); CREATE TABLE public.c (id int)')
    install(db, track_new_tables=True)
    db.sql('ALTER TABLE public.a REPLICA IDENTITY DEFAULT; ALTER TABLE public.b REPLICA IDENTITY DEFAULT; '
           'ALTER TABLE public.c REPLICA IDENTITY DEFAULT')
    locker = db.connect()
    locker.autocommit = False
    locker.cursor().execute('LOCK TABLE public.b IN ACCESS SHARE MODE')
    caller = db.connect()
    pid = caller.get_backend_pid()
    errors = []

    def call():
        try:
            caller.cursor().execute('CALL public._bemi_set_replica_identity()')
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    try:
        deadline = time.time() + 20
        while db.scalar("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)) == 0:
            assert time.time() < deadline, 'the procedure never waited for public.b'
            time.sleep(0.05)
        # While it waits for b (at most lock_timeout 2s per attempt), a is done, committed and unlocked.
        assert db.identities()['public.a'] == 'f'
        assert db.scalar("SELECT count(*) FROM pg_locks WHERE pid = %s AND relation = 'public.a'::regclass",
                         (pid,)) == 0
        waiting = db.scalar("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted "
                            "AND relation = 'public.b'::regclass", (pid,))
        assert waiting == 1
    finally:
        locker.rollback()
        locker.close()
        thread.join()
    assert not errors, errors
    assert [db.identities()[t] for t in ('public.a', 'public.b', 'public.c')] == ['f'] * 3

    # Inside a transaction block it cannot commit: it says so, and all is done at the caller's COMMIT.
    db.sql('ALTER TABLE public.a REPLICA IDENTITY DEFAULT; ALTER TABLE public.c REPLICA IDENTITY DEFAULT')
    cur = caller.cursor()
    cur.execute('BEGIN')
    cur.execute("SET LOCAL lock_timeout = '7s'")
    cur.execute('CALL public._bemi_set_replica_identity()')
    assert any('inside a transaction block' in notice for notice in caller.notices)
    assert db.identities()['public.a'] == 'd'  # not yet committed
    cur.execute('SHOW lock_timeout')
    assert cur.fetchone()[0] == '7s'  # the caller's own setting is back
    cur.execute('COMMIT')
    caller.close()
    assert db.identities()['public.a'] == 'f' and db.identities()['public.c'] == 'f'


def test_managed_service_admin_owns_the_trigger(db):
    """A non-superuser admin (a member of rds_superuser, as on Amazon RDS) that owns the trigger function."""
    suffix = db.name
    admin, app, provider = 'admin_' + suffix, 'app_' + suffix, 'rds_superuser'
    db.sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser') THEN "
           "CREATE ROLE rds_superuser; END IF; END $$")
    db.sql('CREATE ROLE %s LOGIN CREATEROLE; CREATE ROLE %s LOGIN; GRANT %s TO %s; GRANT CREATE ON SCHEMA public TO %s'
           % (admin, app, provider, admin, app))
    try:
        db.sql('CREATE TABLE public.before_admin (id int)', user=app)
        install(db)
        # As if the admin had installed it: the function is the admin's.
        db.sql('ALTER FUNCTION public._bemi_set_replica_identity_func() OWNER TO %s' % admin)
        as_admin = dict(login_user=admin)
        again = check_then_apply(db, **as_admin)
        assert again['changed'] is False and again['queries'] == [], again.result
        warning = [w for w in again.get('warnings', []) if 'may not alter tables owned by' in w]
        assert len(warning) == 1 and app in warning[0] and 'GRANT %s TO %s' % (app, admin) in warning[0], again.result
        # The limit, for real: the admin's SECURITY DEFINER function cannot alter the app's new table.
        db.sql('CREATE TABLE public.by_app (id int)', user=app)
        assert db.identities()['public.by_app'] == 'd'
        # The fix the warning gives: the table is then done by a run, the next ones by the trigger.
        db.sql('GRANT %s TO %s' % (app, admin))
        fixed = run(db, **as_admin)
        assert not fixed.failed and fixed['tables_changed'] == ['public.by_app'], fixed.result
        assert not [w for w in fixed.get('warnings', []) if 'may not alter tables owned by' in w]
        assert_idempotent(db, **as_admin)
        db.sql('CREATE TABLE public.by_app_later (id int)', user=app)
        assert db.identities()['public.by_app_later'] == 'f'
    finally:
        db.sql('DROP EVENT TRIGGER IF EXISTS _bemi_set_replica_identity_trigger; DROP OWNED BY %s, %s; '
               'DROP ROLE %s; DROP ROLE %s' % (admin, app, admin, app))


def statement_log(db, start):
    """The statements this test's database ran since ``start`` (an offset in the server log)."""
    marker = 'postgres@%s LOG:  statement: ' % db.name
    return [line.split(marker, 1)[1] for line in db.pg.log_text()[start:].splitlines() if marker in line]


def test_reset_unpublished(db):
    """Stop tracking: FULL tables that no publication includes go back to DEFAULT, worked out from the catalogs."""
    db.sql("""
        CREATE TABLE public.t1 (id int); CREATE TABLE public.t2 (id int); CREATE TABLE public.t3 (id int);
        CREATE TABLE public.elsewhere (id int);
        CREATE TABLE public.parted (at int) PARTITION BY RANGE (at);
        CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);
        CREATE SCHEMA s2; CREATE TABLE s2.x (id int); CREATE TABLE s2.kept (id int);
        CREATE TABLE public.indexed (id int NOT NULL); CREATE UNIQUE INDEX indexed_id ON public.indexed (id);
        ALTER TABLE public.indexed REPLICA IDENTITY USING INDEX indexed_id;
        CREATE PUBLICATION bemi FOR TABLE public.t1, public.t2;
        CREATE PUBLICATION other FOR TABLE public.elsewhere, public.parted;
    """)
    check_then_apply(db, schemas=['*'], exclude=['public.indexed'], track_new_tables=False)
    msg = run(db, identity='default', reset_unpublished=True)['msg']
    assert 'reset_unpublished: true only goes with identity: full' in msg

    wanted = dict(tables=['t1', 't2'], exclude=['s2.kept'], track_new_tables=False, reset_unpublished=True)
    start = len(db.pg.log_text())
    real = check_then_apply(db, **wanted)
    # Kept: the scope, the excluded table, another publication's table and a partition of its partitioned table.
    assert real['tables_reset'] == ['public.t3', 's2.x'] == real['tables_changed']
    assert real['queries'] == [alter('public', 't3', 'DEFAULT'), alter('s2', 'x', 'DEFAULT')]
    assert real['diff']['after']['tables'] == {'public.t3': 'default', 's2.x': 'default'}
    ids = db.identities()
    assert ids == dict(ids, **{'public.t1': 'f', 'public.t2': 'f', 'public.t3': 'd', 'public.elsewhere': 'f',
                               'public.parted': 'f', 'public.parted_1': 'f', 's2.x': 'd', 's2.kept': 'f',
                               'public.indexed': 'i'})
    # Each table in its own transaction under lock_timeout (the check run is not in the log).
    log = statement_log(db, start)
    for table in ('"public"."t3"', '"s2"."x"'):
        at = log.index('ALTER TABLE %s REPLICA IDENTITY DEFAULT' % table)
        # BEGIN; SELECT set_config('lock_timeout', ...), ...; ALTER TABLE ...; COMMIT
        assert log[at - 2] == 'BEGIN' and log[at + 1] == 'COMMIT', log[at - 2:at + 2]
        assert "set_config('lock_timeout', '2s', true)" in log[at - 1]
    assert_idempotent(db, **wanted)

    # A table leaves the publication through bemi_publication's exact list: reported, then reset. The
    # tables of publication bemi are judged by the scope, so a check run before the publication changes
    # (as in a check run of the role) already predicts the reset.
    before = db.snapshot()
    predicted = run(db, check=True, **merged(wanted, tables=['t1']))
    assert predicted['tables_reset'] == ['public.t2'] and db.snapshot() == before
    left = run_module('bemi_publication', db.args(tables=['t1']))
    assert not left.failed and left['tables_removed'] == ['public.t2'] and left['tables_added'] == []
    # A lock on it: the reset fails for that table only, and a re-run (knowing nothing of the first) completes it.
    locker = db.connect()
    locker.autocommit = False
    locker.cursor().execute('LOCK TABLE public.t2 IN ACCESS SHARE MODE')
    try:
        locked = run(db, **merged(wanted, tables=['t1'], lock_timeout='100ms', retries=0))
    finally:
        locker.rollback()
        locker.close()
    assert locked.failed and locked['tables_failed'] == ['public.t2'] and locked['tables_reset'] == []
    assert db.identities()['public.t2'] == 'f'
    done = check_then_apply(db, **merged(wanted, tables=['t1']))
    assert done['tables_reset'] == ['public.t2'] and db.identities()['public.t2'] == 'd'
    assert done['queries'] == predicted['queries']

    # The event trigger's schemas are a tracked scope too; and FOR ALL TABLES publishes everything.
    db.sql('ALTER TABLE public.t3 REPLICA IDENTITY FULL')
    tracked = run(db, **merged(wanted, tables=['t1'], track_new_tables=True, schemas=['public']))
    assert not tracked.failed and tracked['tables_reset'] == []
    db.sql('ALTER TABLE s2.x REPLICA IDENTITY FULL; CREATE PUBLICATION everything FOR ALL TABLES')
    everything = run(db, **merged(wanted, tables=['t1'], track_new_tables=True, schemas=['public']))
    assert not everything.failed and everything['tables_reset'] == [] and everything['queries'] == []
    if db.pg.major >= 15:
        # A schema publication keeps the tables of its schema.
        db.sql('DROP PUBLICATION everything; CREATE PUBLICATION by_schema FOR TABLES IN SCHEMA s2')
        by_schema = check_then_apply(db, **merged(wanted, tables=['t1']))
        assert by_schema['tables_reset'] == ['public.t3']


def test_excluding_a_partitioned_table_excludes_its_partitions(db):
    """exclude: [events] leaves events and every partition below it alone, in any schema, and never resets them."""
    db.sql("""
        CREATE SCHEMA archive;
        CREATE TABLE public.orders (id int);
        CREATE TABLE public.events (id int, at int) PARTITION BY RANGE (at);
        CREATE TABLE public.events_1 PARTITION OF public.events FOR VALUES FROM (0) TO (10) PARTITION BY RANGE (id);
        CREATE TABLE archive.events_1_low PARTITION OF public.events_1 FOR VALUES FROM (0) TO (100);
        CREATE TABLE public.kept_full (id int, at int) PARTITION BY RANGE (at);
        CREATE TABLE public.kept_full_1 PARTITION OF public.kept_full FOR VALUES FROM (0) TO (10);
        ALTER TABLE public.kept_full REPLICA IDENTITY FULL;
        ALTER TABLE public.kept_full_1 REPLICA IDENTITY FULL;
    """)
    wanted = dict(exclude=['events', 'kept_full'], track_new_tables=False)
    real = check_then_apply(db, **wanted)
    assert real['queries'] == [alter('public', 'orders')]
    assert real['tables_changed'] == ['public.orders']
    ids = db.identities()
    assert [ids[t] for t in ('public.events', 'public.events_1', 'archive.events_1_low')] == ['d', 'd', 'd']
    assert_idempotent(db, **wanted)
    # Stop tracking everything else: the excluded partitioned table's FULL partitions keep their identity.
    reset = dict(wanted, tables=['orders'], reset_unpublished=True)
    real = check_then_apply(db, **reset)
    assert real['tables_reset'] == []
    assert db.identities()['public.kept_full_1'] == 'f'
