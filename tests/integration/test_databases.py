"""bemi_databases on real servers, run through Ansible.

The module runs bemi_role, bemi_publication and bemi_replica_identity in each database, with
their code: so each test compares it with those modules run one by one, besides the usual
check mode first (catalog snapshot unchanged, exact queries), real run (same result as
predicted, verified in the catalog) and re-run that changes nothing.
"""

from __future__ import annotations

import pytest

from ansible_run import Background, no_traceback, run_module, wait_for_backend

PASSWORD = 'Databases-S3cret;pw'
ROLE = 'bemi_dbs'
PUBLICATION = 'bemi_dbs'
# Options shared by every database, as the tracking role gives them.
SHARED = {
    'role': {'name': ROLE, 'password': PASSWORD, 'schemas': ['*']},
    'publication': {'name': PUBLICATION},
    'replica_identity': {'schemas': ['*'], 'publication': PUBLICATION, 'lock_timeout': '1s', 'retries': 2},
}


@pytest.fixture
def server(pool, major):
    return pool.get(major, 'databases')


def make_db(cluster, name, setup='CREATE TABLE public.orders (id int PRIMARY KEY); CREATE TABLE public.items (id int)'):
    cluster.query('DROP DATABASE IF EXISTS %s' % name)
    cluster.query('CREATE DATABASE %s' % name)
    if setup:
        cluster.query(setup, dbname=name)


def drop_all(cluster, names):
    for name in names:
        cluster.query('DROP DATABASE IF EXISTS %s' % name)
    cluster.query('DROP ROLE IF EXISTS %s' % ROLE)


@pytest.fixture
def databases(server):
    names = ['dbs_one', 'dbs_two', 'dbs_three']
    drop_all(server, names)
    yield names
    drop_all(server, names)


def snapshot(cluster, names):
    """What a change in any of the databases could touch: the role, and each database's objects."""
    snap = [cluster.query("SELECT rolname, rolreplication, rolconnlimit, rolpassword FROM pg_authid "
                          "WHERE rolname = %s", (ROLE,))]
    for name in names:
        if not cluster.scalar('SELECT count(*) FROM pg_database WHERE datname = %s', (name,)):
            continue
        snap.append(cluster.query('SELECT pubname, puballtables FROM pg_publication ORDER BY 1', dbname=name))
        snap.append(cluster.query('SELECT prrelid::regclass::text FROM pg_publication_rel ORDER BY 1', dbname=name))
        snap.append(cluster.query("SELECT oid::regclass::text, relreplident, relacl::text FROM pg_class "
                                  "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1",
                                  dbname=name))
        snap.append(cluster.query('SELECT evtname, evtenabled FROM pg_event_trigger ORDER BY 1', dbname=name))
        snap.append(cluster.query('SELECT datacl::text FROM pg_database WHERE datname = current_database()',
                                  dbname=name))
    return snap


def args_of(cluster, entries, **shared):
    return dict(cluster.connection_args(), databases=entries, **dict(SHARED, **shared))


def test_several_databases_check_first_then_real_then_nothing(server, databases):
    one, two = databases[:2]
    make_db(server, one)
    make_db(server, two)
    entries = [{'name': one},
               # Per database, over the shared options: a table list, no schema-wide grant, no trigger.
               {'name': two, 'role': {'schemas': [], 'tables': ['orders']}, 'publication': {'tables': ['orders']},
                'replica_identity': {'tables': ['orders'], 'schemas': None, 'track_new_tables': False}}]
    args = args_of(server, entries)

    before = snapshot(server, databases)
    check = run_module('bemi_databases', args, check=True)
    assert not check.failed, check.result
    assert snapshot(server, databases) == before, 'check mode changed the catalog'
    assert [entry['name'] for entry in check['databases']] == [one, two]
    assert check['changed'] is True
    assert check['queries'] == check['databases'][0]['queries'] + check['databases'][1]['queries']
    first = check['databases'][0]
    # In each database: the publication, the role, replica identity.
    assert first['queries'] == first['publication']['queries'] + first['role']['queries'] + \
        first['replica_identity']['queries']
    assert any(query.startswith('CREATE ROLE "%s"' % ROLE) for query in first['role']['queries'])
    assert first['publication']['queries'] == [
        'CREATE PUBLICATION "%s" FOR ALL TABLES WITH (publish = \'insert, update, delete, truncate\', '
        'publish_via_partition_root = false)' % PUBLICATION]
    second = check['databases'][1]
    assert second['publication']['queries'] == [
        'CREATE PUBLICATION "%s" FOR TABLE ONLY "public"."orders" WITH (publish = \'insert, update, delete, '
        'truncate\', publish_via_partition_root = false)' % PUBLICATION]
    assert second['replica_identity']['queries'] == ['ALTER TABLE "public"."orders" REPLICA IDENTITY FULL']
    assert set(check['diff']['after']) == {one, two}

    real = run_module('bemi_databases', args)
    assert not real.failed, real.result
    for key in ('changed', 'queries', 'diff'):
        assert real[key] == check[key], key
    for predicted, done in zip(check['databases'], real['databases']):
        for step in ('role', 'publication', 'replica_identity'):
            assert done[step]['queries'] == predicted[step]['queries'], step

    # In the catalogs: the first database whole, the second its listed table only.
    assert server.query("SELECT oid::regclass::text, relreplident FROM pg_class WHERE relnamespace = "
                        "'public'::regnamespace AND relkind = 'r' ORDER BY 1", dbname=one) == [
        ('items', 'f'), ('orders', 'f')]
    assert server.query("SELECT oid::regclass::text, relreplident FROM pg_class WHERE relnamespace = "
                        "'public'::regnamespace AND relkind = 'r' ORDER BY 1", dbname=two) == [
        ('items', 'd'), ('orders', 'f')]
    assert server.scalar("SELECT has_table_privilege(%s, 'public.items', 'SELECT')", (ROLE,), dbname=one) is True
    assert server.scalar("SELECT has_table_privilege(%s, 'public.items', 'SELECT')", (ROLE,), dbname=two) is False
    assert server.scalar("SELECT has_table_privilege(%s, 'public.orders', 'SELECT')", (ROLE,), dbname=two) is True
    assert server.scalar('SELECT count(*) FROM pg_event_trigger', dbname=one) == 1
    assert server.scalar('SELECT count(*) FROM pg_event_trigger', dbname=two) == 0

    again = run_module('bemi_databases', args)
    assert not again.failed, again.result
    assert again['changed'] is False
    assert again['queries'] == []
    assert again['diff'] == {'before': {}, 'after': {}}
    assert [entry['changed'] for entry in again['databases']] == [False, False]


def test_the_same_plans_as_the_modules_one_by_one(server, databases):
    """Each database's steps predict exactly what the three modules, run by themselves, predict."""
    one = databases[0]
    make_db(server, one)
    server.query('CREATE ROLE %s LOGIN' % ROLE)
    server.query('CREATE PUBLICATION %s FOR TABLE public.items' % PUBLICATION, dbname=one)
    together = run_module('bemi_databases', args_of(server, [{'name': one}]), check=True)
    assert not together.failed, together.result
    entry = together['databases'][0]
    connection = dict(server.connection_args(), login_db=one)
    for step, module in (('role', 'bemi_role'), ('publication', 'bemi_publication'),
                         ('replica_identity', 'bemi_replica_identity')):
        alone = run_module(module, dict(connection, **SHARED[step]), check=True)
        assert not alone.failed, alone.result
        assert entry[step]['queries'] == alone['queries'], step
        assert alone['changed'], step
        assert together['diff']['after'][one][step] == alone['diff']['after'], step


def test_check_mode_names_every_database_that_cannot_be_set_up(server, databases):
    one, two, three = databases
    make_db(server, one)
    make_db(server, three)
    entries = [{'name': one, 'publication': {'tables': ['orders', 'nosuch']}, 'replica_identity': {'tables': ['orders']}},
               {'name': two},
               {'name': three}]
    args = args_of(server, entries)
    before = snapshot(server, databases)
    check = run_module('bemi_databases', args, check=True)
    assert check.failed
    assert snapshot(server, databases) == before
    failed = [(entry['name'], entry.get('failed_step')) for entry in check['databases']]
    assert failed == [(one, 'publication'), (two, 'publication'), (three, None)]
    assert check['databases'][0]['publication']['reason'] == 'missing'
    assert check['databases'][1]['publication']['connect_error'] == 'unknown_database'
    assert 'Database %s, bemi_publication: Cannot publish' % one in check['msg']
    assert 'Database %s, bemi_publication: Could not connect' % two in check['msg']
    # The database that can be set up is still planned.
    assert check['databases'][2]['changed'] is True


def test_a_real_run_stops_at_the_first_database_that_fails(server, databases):
    one, two, three = databases
    for name in databases:
        make_db(server, name)
    entries = [{'name': one}, {'name': two, 'replica_identity': {'tables': ['nosuch']}}, {'name': three}]
    real = run_module('bemi_databases', args_of(server, entries))
    assert real.failed
    assert [entry['name'] for entry in real['databases']] == [one, two]
    assert real['databases'][1]['failed_step'] == 'replica_identity'
    assert 'Not reached, so left as they are: %s.' % three in real['msg']
    # The first database was set up, the second up to its failed step, the third not at all.
    assert server.scalar('SELECT count(*) FROM pg_publication', dbname=one) == 1
    assert server.scalar('SELECT count(*) FROM pg_publication', dbname=two) == 1
    assert server.scalar('SELECT count(*) FROM pg_publication', dbname=three) == 0
    assert real['queries'] == real['databases'][0]['queries'] + real['databases'][1]['queries']


def test_a_connection_cut_mid_step_fails_clearly_and_stops_the_run(server, databases):
    """The server ends the connection while a step waits on a lock: that database fails (connection_lost,
    a retry may wait it out), the later ones are not reached, and a run without the cut completes."""
    one, two, three = databases
    for name in databases:
        make_db(server, name)
    # One long wait for the lock, so the test finds the module's backend waiting on it.
    identity = dict(SHARED['replica_identity'], lock_timeout='60s', retries=0)
    args = args_of(server, [{'name': one}, {'name': two}, {'name': three}], replica_identity=identity)
    locker = server.connect(dbname=two)
    try:
        with locker.cursor() as cur:
            cur.execute('BEGIN; LOCK TABLE public.orders IN ACCESS SHARE MODE')
        run = Background('bemi_databases', args)
        waiting = wait_for_backend(server, two, "wait_event_type = 'Lock' AND query LIKE '%%REPLICA IDENTITY%%'")
        server.query('SELECT pg_terminate_backend(%s)', (waiting,))
        cut = run.join()
    finally:
        locker.close()
    no_traceback(cut)
    assert cut.failed
    assert [entry['name'] for entry in cut['databases']] == [one, two]
    assert cut['databases'][1]['failed_step'] == 'replica_identity'
    assert cut['databases'][1]['replica_identity']['connect_error'] == 'connection_lost'
    assert 'Not reached, so left as they are: %s.' % three in cut['msg']
    assert server.scalar('SELECT count(*) FROM pg_publication', dbname=three) == 0
    again = run_module('bemi_databases', args)
    assert not again.failed and again['changed'] is True, again
    assert [entry['changed'] for entry in again['databases']] == [False, True, True]


@pytest.mark.parametrize('entries, shared, message', [
    ([{'name': 'dbs_one', 'publication': {'tables': ['orders'], 'schemas': ['public']}}], {},
     'parameters are mutually exclusive: tables|schemas'),
    ([{'name': 'dbs_one', 'role': {'colour': 'blue'}}], {}, 'Unsupported parameters'),
    ([{'name': 'dbs_one'}], {'replica_identity': {'identity': 'fully'}}, 'identity must be one of'),
    ([{'name': 'dbs_one'}], {'role': {'password': PASSWORD}}, 'missing required arguments: name'),
])
def test_bad_options_fail_clearly_and_change_nothing(server, databases, entries, shared, message):
    make_db(server, databases[0])
    before = snapshot(server, databases)
    result = run_module('bemi_databases', args_of(server, entries, **shared), check=False)
    assert result.failed
    assert message in result['msg']
    assert result['queries'] == []
    assert snapshot(server, databases) == before


def test_a_null_option_of_a_database_keeps_the_shared_one(server, databases):
    one = databases[0]
    make_db(server, one)
    shared_tables = {'replica_identity': dict(SHARED['replica_identity'], tables=['orders'], schemas=None)}
    check = run_module('bemi_databases', args_of(server, [{'name': one, 'replica_identity': {'tables': None}}],
                                                 **shared_tables), check=True)
    assert not check.failed, check.result
    assert check['databases'][0]['replica_identity']['tables_changed'] == ['public.orders']


def test_the_password_never_shows(server, databases):
    one = databases[0]
    make_db(server, one)
    entries = [{'name': one, 'role': {'password': PASSWORD + '-own'}}]
    result = run_module('bemi_databases', args_of(server, entries), verbosity=3)
    assert not result.failed, result.result
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    assert "PASSWORD '********'" in ' '.join(result['queries'])
