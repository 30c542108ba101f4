"""bemi_role against real servers of every major.

The tests of a major share one server of their own (``pool.get(major, 'role')``);
each test uses its own databases and role names and drops them at the end.
"""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest

from ansible_run import run_module

# Quotes, ; and --, backslash, dollar quoting and non-ASCII: all must stay out of every output.
PASSWORD = 'pa\'ss"w; DROP ROLE postgres; -- \u00fcn\u00efc\u00f8d\u00e9 \u2603 \\ $$x$$'
OTHER_PASSWORD = 'an\'other"; --pw \u00e9'
MASKED = "PASSWORD '********'"
CREATE = ('CREATE ROLE "%s" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION '
          "CONNECTION LIMIT -1 PASSWORD '********'")


@pytest.fixture
def server(pool, major):
    return pool.get(major, 'role')


def snapshot(cluster, dbnames):
    """Everything bemi_role could change: roles, memberships, and ACLs in the given databases."""
    snap = {
        'roles': cluster.query('SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, '
                               'rolconnlimit, rolpassword FROM pg_authid ORDER BY rolname'),
        'members': cluster.query('SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members '
                                 'ORDER BY 1, 2'),
    }
    for dbname in dbnames:
        snap[dbname] = [
            cluster.query('SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1', dbname=dbname),
            cluster.query('SELECT oid, relacl::text FROM pg_class ORDER BY 1', dbname=dbname),
            cluster.query('SELECT defaclrole, defaclnamespace, defaclobjtype, defaclacl::text FROM pg_default_acl '
                          'ORDER BY 1, 2, 3', dbname=dbname),
        ]
    return snap


def check_then_apply(cluster, args, dbnames, verbosity=0):
    """Check mode first (nothing may change), then for real: both must agree."""
    before = snapshot(cluster, dbnames)
    predicted = run_module('bemi_role', args, check=True, verbosity=verbosity)
    assert not predicted.failed, predicted
    assert snapshot(cluster, dbnames) == before, 'check mode changed the server'
    real = run_module('bemi_role', args, verbosity=verbosity)
    assert not real.failed, real
    for key in ('changed', 'queries', 'diff', 'role'):
        assert predicted[key] == real[key], key
    return real


def refused(cluster, args, dbnames, check=False):
    """The run fails and changes nothing; returns its message."""
    before = snapshot(cluster, dbnames)
    result = run_module('bemi_role', args, check=check)
    assert result.failed, result
    assert snapshot(cluster, dbnames) == before
    return result['msg']


def tcp_connect(cluster, user, password, dbname):
    return psycopg2.connect(host='127.0.0.1', port=cluster.port, user=user, password=password, dbname=dbname)


def read_as(cluster, user, password, dbname, statement):
    conn = tcp_connect(cluster, user, password, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()


def stored_password(cluster, name):
    return cluster.scalar('SELECT rolpassword FROM pg_authid WHERE rolname = %s', (name,))


def assert_secret_absent(texts, cluster):
    for text in list(texts) + [cluster.log_text()]:
        for secret in (PASSWORD, OTHER_PASSWORD, 'DROP ROLE postgres', '\u2603', 'an\'other'):
            assert secret not in text


def drop(cluster, dbnames, roles):
    for dbname in dbnames:
        cluster.query('DROP DATABASE IF EXISTS "%s"' % dbname)
    for role in roles:
        # DROP OWNED first: it also revokes CONNECT on databases (granted by bemi_role), which DROP ROLE refuses.
        if cluster.scalar('SELECT count(*) FROM pg_roles WHERE rolname = %s', (role,)):
            cluster.query('DROP OWNED BY "%s"' % role.replace('"', '""'))
        cluster.query('DROP ROLE IF EXISTS "%s"' % role.replace('"', '""'))


def test_create_login_read_and_default_privileges(server):
    db = 'app1'
    server.query('CREATE DATABASE %s' % db)
    server.query("CREATE ROLE app_owner1 LOGIN PASSWORD 'owner-pw'")
    try:
        for statement in ('CREATE SCHEMA "We ird"',
                          'GRANT CREATE, USAGE ON SCHEMA public, "We ird" TO app_owner1',
                          'CREATE TABLE public.orders (id int)',
                          "INSERT INTO public.orders VALUES (1)",
                          'CREATE TABLE "We ird"."Mixed Case" (id int) PARTITION BY RANGE (id)',
                          'CREATE TABLE "We ird".part1 PARTITION OF "We ird"."Mixed Case" FOR VALUES FROM (0) TO (10)',
                          'INSERT INTO "We ird"."Mixed Case" VALUES (2)'):
            server.query(statement, dbname=db)
        args = dict(server.connection_args(), login_db=db, name='bemi1', password=PASSWORD,
                    schemas=['public', '"We ird"'], default_privileges_for=['app_owner1', 'postgres'])

        first = check_then_apply(server, args, [db])
        assert first['changed'] is True
        assert first['queries'] == [
            CREATE % 'bemi1',
            'GRANT CONNECT ON DATABASE "app1" TO "bemi1"',
            'GRANT USAGE ON SCHEMA "public" TO "bemi1"',
            'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner1" IN SCHEMA "public" GRANT SELECT ON TABLES TO "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" GRANT SELECT ON TABLES TO "bemi1"',
            'GRANT USAGE ON SCHEMA "We ird" TO "bemi1"',
            'GRANT SELECT ON ALL TABLES IN SCHEMA "We ird" TO "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner1" IN SCHEMA "We ird" GRANT SELECT ON TABLES TO "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "We ird" GRANT SELECT ON TABLES TO "bemi1"',
        ]
        attributes = {'login': True, 'superuser': False, 'createdb': False, 'createrole': False,
                      'replication': True, 'connection_limit': -1}
        assert first['role'] == {
            'name': 'bemi1', 'exists': True, 'attributes': attributes, 'member_of': [],
            'schemas': ['We ird', 'public'], 'tables': [],
            'default_privileges': {'We ird': ['app_owner1', 'postgres'], 'public': ['app_owner1', 'postgres']},
            'connect': True,
        }
        assert first['diff']['before'] == {'state': 'absent'}
        assert first['diff']['after']['password'] == 'changed'
        assert stored_password(server, 'bemi1').startswith('SCRAM-SHA-256$')

        # SCRAM login over TCP; existing tables (a partitioned one too) are readable.
        assert read_as(server, 'bemi1', PASSWORD, db, 'SELECT id FROM public.orders') == [(1,)]
        assert read_as(server, 'bemi1', PASSWORD, db, 'SELECT id FROM "We ird"."Mixed Case"') == [(2,)]
        # Tables created later by each default_privileges_for role are readable without another run.
        conn = tcp_connect(server, 'app_owner1', 'owner-pw', db)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute('CREATE TABLE public.later (id int); INSERT INTO public.later VALUES (3)')
            cur.execute('CREATE TABLE "We ird".later (id int); INSERT INTO "We ird".later VALUES (4)')
        conn.close()
        server.query('CREATE TABLE public.later_pg (id int); INSERT INTO public.later_pg VALUES (5)', dbname=db)
        assert read_as(server, 'bemi1', PASSWORD, db, 'SELECT id FROM public.later') == [(3,)]
        assert read_as(server, 'bemi1', PASSWORD, db, 'SELECT id FROM "We ird".later') == [(4,)]
        assert read_as(server, 'bemi1', PASSWORD, db, 'SELECT id FROM public.later_pg') == [(5,)]

        # Second run, with -vvv: nothing to do, and the password is nowhere.
        again = run_module('bemi_role', args, verbosity=3)
        assert not again.failed, again
        assert again['changed'] is False and again['queries'] == []
        assert again['diff']['before'] == again['diff']['after']
        assert_secret_absent([str(first.result), again.stdout, again.stderr, str(again.result)], server)

        # A different password is detected; the diff only says it changed.
        changed = check_then_apply(server, dict(args, password=OTHER_PASSWORD), [db], verbosity=3)
        assert changed['queries'] == ['ALTER ROLE "bemi1" WITH ' + MASKED]
        assert changed['diff']['after']['password'] == 'changed'
        assert 'password' not in changed['diff']['before']
        assert read_as(server, 'bemi1', OTHER_PASSWORD, db, 'SELECT 1') == [(1,)]
        assert_secret_absent([str(changed.result), changed.stdout, changed.stderr], server)

        # Fewer schemas: what the role had in the other one is revoked, default privileges included.
        narrowed = check_then_apply(server, dict(args, password=OTHER_PASSWORD, schemas=['public']), [db])
        assert narrowed['queries'] == [
            'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner1" IN SCHEMA "We ird" REVOKE SELECT ON TABLES FROM "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "We ird" REVOKE SELECT ON TABLES FROM "bemi1"',
            'REVOKE SELECT ON ALL TABLES IN SCHEMA "We ird" FROM "bemi1"',
            'REVOKE USAGE ON SCHEMA "We ird" FROM "bemi1"',
        ]
        assert narrowed['role']['schemas'] == ['public']
        assert server.scalar("SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace "
                             "WHERE n.nspname = 'We ird'", dbname=db) == 0
        assert not server.scalar('SELECT has_table_privilege(%s, %s, %s)',
                                 ('bemi1', '"We ird".later', 'SELECT'), dbname=db)

        # A table added by a role not in default_privileges_for is picked up by the next run.
        server.query('CREATE ROLE other_owner1; GRANT CREATE, USAGE ON SCHEMA public TO other_owner1; '
                     'SET ROLE other_owner1; CREATE TABLE public.stray (id int)', dbname=db)
        picked = run_module('bemi_role', dict(args, password=OTHER_PASSWORD, schemas=['public']))
        assert picked['queries'] == ['GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "bemi1"']
        assert picked['diff']['before']['tables_without_select'] == {'public': 1}
        assert picked['diff']['after']['tables_without_select'] == {}
        server.query('DROP TABLE public.stray; REVOKE ALL ON SCHEMA public FROM other_owner1', dbname=db)

        gone = check_then_apply(server, dict(server.connection_args(), login_db=db, name='bemi1', state='absent'),
                                [db])
        assert gone['queries'] == [
            'REVOKE CONNECT ON DATABASE "app1" FROM "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner1" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "bemi1"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "bemi1"',
            'REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM "bemi1"',
            'REVOKE USAGE ON SCHEMA "public" FROM "bemi1"',
            'DROP OWNED BY "bemi1"',
            'DROP ROLE "bemi1"',
        ]
        assert gone['diff']['after'] == {'state': 'absent'}
        assert stored_password(server, 'bemi1') is None
        assert server.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'bemi1'") == 0
    finally:
        drop(server, [db], ['bemi1', 'app_owner1', 'other_owner1'])


def test_prehashed_and_md5(server):
    name = 'bemi2'
    base = dict(server.connection_args(), login_db='postgres', name=name, schemas=[])
    try:
        # A SCRAM verifier made by libpq is taken verbatim.
        conn = server.connect()
        verifier = psycopg2.extensions.encrypt_password(PASSWORD, name, conn, 'scram-sha-256')
        conn.close()
        created = run_module('bemi_role', dict(base, password=verifier))
        assert created['changed'] is True and created['queries'][0] == CREATE % name
        assert stored_password(server, name) == verifier
        assert run_module('bemi_role', dict(base, password=verifier))['changed'] is False
        # ... and its plaintext then matches it.
        assert run_module('bemi_role', dict(base, password=PASSWORD))['changed'] is False
        assert read_as(server, name, PASSWORD, 'postgres', 'SELECT 1') == [(1,)]

        # A password set as md5 (in a session with password_encryption = md5) is upgraded to SCRAM.
        server.query("SET password_encryption = 'md5'; ALTER ROLE bemi2 PASSWORD 'md5-pw'")
        assert stored_password(server, name).startswith('md5')
        upgraded = check_then_apply(server, dict(base, password='md5-pw'), ['postgres'])
        assert upgraded['queries'] == ['ALTER ROLE "bemi2" WITH ' + MASKED]
        assert upgraded['diff']['after']['password'] == 'changed'
        assert stored_password(server, name).startswith('SCRAM-SHA-256$')
        assert run_module('bemi_role', dict(base, password='md5-pw'))['changed'] is False
        assert read_as(server, name, 'md5-pw', 'postgres', 'SELECT 1') == [(1,)]

        # A server (here: a session) with password_encryption = md5 gets an md5 verifier, compared as md5.
        md5_args = dict(base, password='other-md5-pw', connect_params={'options': '-c password_encryption=md5'})
        assert run_module('bemi_role', md5_args)['changed'] is True
        assert stored_password(server, name).startswith('md5')
        assert run_module('bemi_role', md5_args)['changed'] is False
        assert_secret_absent([], server)

        # Attributes are altered one by one, only where they differ.
        altered = run_module('bemi_role', dict(base, replication=False, connection_limit=5))
        assert altered['queries'] == ['ALTER ROLE "bemi2" WITH NOREPLICATION CONNECTION LIMIT 5']
        assert altered['diff']['after']['attributes']['replication'] is False
        assert server.query("SELECT rolreplication, rolconnlimit FROM pg_roles WHERE rolname = 'bemi2'") == [(False, 5)]
    finally:
        drop(server, [], [name])


def test_createrole_login_cannot_compare_the_password(server):
    """A non-superuser with CREATEROLE cannot read pg_authid: it says so, and sets the password every run."""
    server.query("CREATE ROLE admin5 LOGIN CREATEROLE PASSWORD 'admin-pw'")
    server.query('CREATE SCHEMA s5 AUTHORIZATION admin5; CREATE TABLE s5.t (id int); ALTER TABLE s5.t OWNER TO admin5')
    args = dict(server.connection_args(), login_user='admin5', login_password='admin-pw', login_host='127.0.0.1',
                login_db='postgres', name='bemi5', password=PASSWORD, replication=False, schemas=['s5'])
    try:
        created = check_then_apply(server, args, ['postgres'])
        assert created['queries'][0] == ('CREATE ROLE "bemi5" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
                                         "NOREPLICATION CONNECTION LIMIT -1 PASSWORD '********'")
        assert read_as(server, 'bemi5', PASSWORD, 'postgres', 'SELECT count(*) FROM s5.t') == [(0,)]
        again = run_module('bemi_role', args)
        assert again['queries'] == ['ALTER ROLE "bemi5" WITH ' + MASKED]
        assert any('cannot be read' in warning for warning in again.get('warnings', [])), again
        # on_create keeps the existing password, even when another one is given.
        kept = run_module('bemi_role', dict(args, password=OTHER_PASSWORD, update_password='on_create'))
        assert kept['changed'] is False and not kept.get('warnings')
        assert read_as(server, 'bemi5', PASSWORD, 'postgres', 'SELECT 1') == [(1,)]
        assert_secret_absent([str(created.result), str(again.result)], server)
    finally:
        server.query('DROP SCHEMA IF EXISTS s5 CASCADE')
        drop(server, [], ['bemi5', 'admin5'])


def test_hostile_names_and_bad_input(server):
    hostile = 'Bemi "x"; DROP ROLE postgres; -- \u00fc \''
    args = dict(server.connection_args(), login_db='postgres', name=hostile, password='pw-3', schemas=[],
                member_of=['pg_monitor'])
    try:
        created = check_then_apply(server, args, ['postgres'])
        assert created['queries'][0].startswith('CREATE ROLE "Bemi ""x""; DROP ROLE postgres; -- \u00fc \'" WITH')
        assert created['queries'][1] == 'GRANT "pg_monitor" TO "Bemi ""x""; DROP ROLE postgres; -- \u00fc \'"'
        assert created['role']['member_of'] == ['pg_monitor']
        assert server.scalar('SELECT count(*) FROM pg_roles WHERE rolname = %s', (hostile,)) == 1
        assert run_module('bemi_role', args)['changed'] is False
        # member_of is the exact list.
        fewer = run_module('bemi_role', dict(args, member_of=[]))
        assert fewer['queries'] == ['REVOKE "pg_monitor" FROM "Bemi ""x""; DROP ROLE postgres; -- \u00fc \'"']

        dbs = ['postgres']
        message = refused(server, dict(args, name='bemi3', schemas=['public', '"No Such"']), dbs, check=True)
        assert 'No Such' in message and 'do not exist' in message
        assert 'no_such_group' in refused(server, dict(args, name='bemi3', member_of=['no_such_group']), dbs)
        assert 'login user' in refused(server, dict(args, name='postgres'), dbs)
        assert server.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'bemi3'") == 0

        # A login user without CREATEROLE: a clear error, nothing changed (check mode too).
        server.query("CREATE ROLE weak3 LOGIN PASSWORD 'weak-pw'")
        weak = dict(args, name='bemi3', login_user='weak3', login_password='weak-pw', login_host='127.0.0.1',
                    member_of=None, schemas=['public'])
        for check in (True, False):
            message = refused(server, weak, dbs, check=check)
            assert 'neither a superuser nor has CREATEROLE' in message, message
    finally:
        drop(server, [], [hostile, 'bemi3', 'weak3'])


def test_absent_refuses_while_other_databases_hold_privileges(server):
    dbs = ['app4a', 'app4b']
    for db in dbs:
        server.query('CREATE DATABASE %s' % db)
        server.query('CREATE TABLE t (id int)', dbname=db)
    try:
        for db in dbs:
            assert run_module('bemi_role', dict(server.connection_args(), login_db=db, name='bemi4',
                                                password='pw-4'))['changed'] is True
        absent = dict(server.connection_args(), login_db='app4a', name='bemi4', state='absent')
        for check in (True, False):
            message = refused(server, absent, dbs, check=check)
            assert 'app4b' in message and 'Nothing was changed' in message, message
        # A dry run of a teardown that revokes app4b's grants first predicts the drop...
        predicted = run_module('bemi_role', dict(absent, revoked_before=['app4b']), check=True)
        assert not predicted.failed and predicted['queries'][-2:] == ['DROP OWNED BY "bemi4"', 'DROP ROLE "bemi4"']
        # ...but a real run believes only the catalogs.
        message = refused(server, dict(absent, revoked_before=['app4b']), dbs, check=False)
        assert 'app4b' in message, message
        # Revoking its grants in app4b (schemas: []) lets it be dropped from app4a.
        revoked = run_module('bemi_role', dict(server.connection_args(), login_db='app4b', name='bemi4',
                                               password='pw-4', schemas=[]))
        assert revoked['queries'] == [
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "bemi4"',
            'REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM "bemi4"',
            'REVOKE USAGE ON SCHEMA "public" FROM "bemi4"',
        ]
        gone = check_then_apply(server, absent, dbs)
        assert gone['queries'][-2:] == ['DROP OWNED BY "bemi4"', 'DROP ROLE "bemi4"']
        assert server.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'bemi4'") == 0
    finally:
        drop(server, dbs, ['bemi4'])


def can_select(cluster, role, table, dbname):
    return cluster.scalar('SELECT has_table_privilege(%s, %s, %s)', (role, table, 'SELECT'), dbname=dbname)


def test_listed_tables_least_privilege(server):
    """From a schema read whole to exactly the listed tables, then fewer, then none."""
    db = 'listed1'
    server.query('CREATE DATABASE %s' % db)
    try:
        server.query('CREATE TABLE t1 (id int); CREATE TABLE t2 (id int); CREATE TABLE t3 (id int); '
                     'INSERT INTO t1 VALUES (1); CREATE SCHEMA s2; CREATE TABLE s2."Other" (id int)', dbname=db)
        base = dict(server.connection_args(), login_db=db, name='bemi_l1', password=PASSWORD)
        whole = check_then_apply(server, base, [db])
        assert whole['role']['schemas'] == ['public'] and whole['role']['tables'] == []

        listed = check_then_apply(server, dict(base, schemas=[], tables=['t1', 'public.t2', 's2."Other"']), [db])
        assert listed['queries'] == [
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "bemi_l1"',
            'REVOKE SELECT ON TABLE "public"."t3" FROM "bemi_l1"',
            'GRANT USAGE ON SCHEMA "s2" TO "bemi_l1"',
            'GRANT SELECT ON TABLE "s2"."Other" TO "bemi_l1"',
        ]
        assert listed['diff']['before']['default_privileges'] == {'public': ['postgres']}
        assert listed['diff']['after']['default_privileges'] == {}
        assert listed['role']['tables'] == ['public.t1', 'public.t2', 's2."Other"']
        assert read_as(server, 'bemi_l1', PASSWORD, db, 'SELECT id FROM t1') == [(1,)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            read_as(server, 'bemi_l1', PASSWORD, db, 'SELECT id FROM t3')
        # A table created later is not readable: no default privileges in list mode.
        server.query('CREATE TABLE t_new (id int)', dbname=db)
        assert not can_select(server, 'bemi_l1', 't_new', db)
        again = run_module('bemi_role', dict(base, schemas=[], tables=['t1', 'public.t2', 's2."Other"']))
        assert again['changed'] is False and again['queries'] == []

        # A table leaves the list: its SELECT is revoked, and a schema without listed tables loses USAGE.
        fewer = check_then_apply(server, dict(base, schemas=[], tables=['t1']), [db])
        assert fewer['queries'] == [
            'REVOKE SELECT ON TABLE "public"."t2" FROM "bemi_l1"',
            'REVOKE SELECT ON ALL TABLES IN SCHEMA "s2" FROM "bemi_l1"',
            'REVOKE USAGE ON SCHEMA "s2" FROM "bemi_l1"',
        ]
        # Tables are named in the schemas that keep listed tables; s2 is shown as a schema that goes.
        assert fewer['diff']['before']['tables'] == ['public.t1', 'public.t2']
        assert fewer['diff']['before']['schemas'] == ['public', 's2']
        assert fewer['diff']['after']['tables'] == ['public.t1']
        assert fewer['diff']['after']['schemas'] == ['public']
        assert not can_select(server, 'bemi_l1', 't2', db) and can_select(server, 'bemi_l1', 't1', db)
        again = run_module('bemi_role', dict(base, schemas=[], tables=['t1']))
        assert again['changed'] is False and again['queries'] == []

        # Back to a schema read whole, then to a list again: more tables lose SELECT than keep it,
        # so one schema-wide REVOKE and a GRANT on the listed table (one transaction).
        check_then_apply(server, base, [db])
        switched = check_then_apply(server, dict(base, schemas=[], tables=['t1']), [db])
        assert switched['queries'] == [
            'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "bemi_l1"',
            'REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM "bemi_l1"',
            'GRANT SELECT ON TABLE "public"."t1" TO "bemi_l1"',
        ]
        assert [can_select(server, 'bemi_l1', t, db) for t in ('t1', 't2', 't3', 't_new')] == [True, False, False, False]

        # Nothing listed: USAGE and every SELECT go; only the role's own attributes remain.
        none = check_then_apply(server, dict(base, schemas=[], tables=[]), [db])
        assert none['queries'] == ['REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM "bemi_l1"',
                                   'REVOKE USAGE ON SCHEMA "public" FROM "bemi_l1"']
        assert none['role']['schemas'] == [] and none['role']['tables'] == []

        # A listed table that does not exist: a clear error, nothing changed.
        msg = refused(server, dict(base, schemas=[], tables=['t1', 'nope', 's2.t1']), [db])
        assert 'public.nope, s2.t1 do not exist' in msg
    finally:
        drop(server, [db], ['bemi_l1'])


def test_every_schema(server):
    """schemas ['*']: every non-system schema, listed by the module in its own connection."""
    db = 'every1'
    server.query('CREATE DATABASE %s' % db)
    try:
        server.query('CREATE SCHEMA "Sales"; CREATE SCHEMA "*"; CREATE TABLE "Sales".t (id int)', dbname=db)
        base = dict(server.connection_args(), login_db=db, name='bemi_e1', password=PASSWORD)
        every = check_then_apply(server, dict(base, schemas=['*']), [db])
        assert every['role']['schemas'] == ['*', 'Sales', 'public']
        assert can_select(server, 'bemi_e1', '"Sales".t', db)
        # The same as naming them all: nothing to change.
        named = run_module('bemi_role', dict(base, schemas=['"*"', '"Sales"', 'public']))
        assert named['changed'] is False and named['queries'] == []
        # A schema created later is granted at the next run; a dropped one is simply not listed.
        server.query('CREATE SCHEMA later; DROP SCHEMA "*"', dbname=db)
        later = check_then_apply(server, dict(base, schemas=['*']), [db])
        assert later['queries'][0] == 'GRANT USAGE ON SCHEMA "later" TO "bemi_e1"', later['queries']
        assert later['role']['schemas'] == ['Sales', 'later', 'public']
        assert run_module('bemi_role', dict(base, schemas=['*']))['changed'] is False
        # '*' with names is a clear error, before any change.
        message = refused(server, dict(base, schemas=['*', 'public']), [db])
        assert "'*' means every non-system schema" in message, message
    finally:
        drop(server, [db], ['bemi_e1'])
