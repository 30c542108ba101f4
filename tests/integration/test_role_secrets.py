"""bemi_role leaves no password verifier behind, and keeps Bemi's login working.

On a server that records everything (``log_statement = all``, ``log_min_duration_statement = 0``,
pg_stat_statements and auto_explain loaded), creating the role, rotating its password and a
password statement that fails leave neither the plaintext nor the verifier, nor any part of
either, in the server log or in pg_stat_statements. A login that may not set those settings
is warned once, and still works. And: CONNECT on login_db, an expired role made valid.
"""

from __future__ import annotations

import psycopg2

from ansible_run import run_module
from test_role import check_then_apply, read_as

RECORD_EVERYTHING = {
    'log_statement': "'all'",
    'log_min_duration_statement': 0,
    'log_min_error_statement': "'error'",
    'shared_preload_libraries': "'pg_stat_statements,auto_explain'",
    'pg_stat_statements.track': "'all'",
    'auto_explain.log_min_duration': 0,
}
FIRST = 'quiet-First-pw-7c1e'
SECOND = 'quiet-Second-pw-93ab'
FAILED = 'quiet-Failed-pw-5d20'
QUIET_NAMES = ('log_statement', 'log_min_duration_statement', 'log_min_duration_sample', 'log_min_error_statement',
               'log_transaction_sample_rate', 'track_activities', 'pg_stat_statements.track',
               'auto_explain.log_min_duration')


def recording_server(pool, major, purpose):
    cluster = pool.fresh(major, purpose, RECORD_EVERYTHING)
    cluster.query('CREATE EXTENSION pg_stat_statements')
    return cluster


def recorded(cluster, log_offset=0):
    """Everything the server recorded: its log (from an offset) and every pg_stat_statements text."""
    statements = [row[0] for row in cluster.query('SELECT query FROM pg_stat_statements')]
    return cluster.log_text()[log_offset:] + '\n'.join(statements)


def secret_parts(cluster, names, plaintexts):
    """The plaintexts and their 8-character pieces, and the pieces of the stored verifiers."""
    parts = ['SCRAM-SHA-256$', 'SCRAM-SHA-256']
    for text in plaintexts:
        parts += [text[i:i + 8] for i in range(len(text) - 7)]
    for name in names:
        verifier = cluster.scalar('SELECT rolpassword FROM pg_authid WHERE rolname = %s', (name,))
        if verifier:
            # SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
            parts += [piece for piece in verifier.replace('$', ':').split(':')[2:] if len(piece) >= 8]
    return parts


def assert_nothing_recorded(text, parts):
    leaked = [part for part in parts if part in text]
    assert not leaked, leaked


def test_nothing_recorded_for_a_superuser(pool, major):
    cluster = recording_server(pool, major, 'role-quiet')
    args = dict(cluster.connection_args(), login_db='postgres', name='bemi_q', schemas=['public'])
    try:
        created = run_module('bemi_role', dict(args, password=FIRST))
        assert not created.failed and created['changed'], created
        assert not created.get('warnings'), created
        first_verifier = cluster.scalar("SELECT rolpassword FROM pg_authid WHERE rolname = 'bemi_q'")
        rotated = run_module('bemi_role', dict(args, password=SECOND))
        assert rotated['queries'] == ['ALTER ROLE "bemi_q" WITH PASSWORD \'********\''], rotated
        assert read_as(cluster, 'bemi_q', SECOND, 'postgres', 'SELECT 1') == [(1,)]
        # A password statement that fails inside its transaction: the role name is reserved, which
        # only CREATE ROLE finds out. Its error must not echo the statement (log_min_error_statement).
        failed = run_module('bemi_role', dict(args, name='pg_bemi_q', password=FAILED))
        assert failed.failed and 'reserved' in failed['msg'], failed
        # Only that transaction was quiet: what runs next is logged and counted again.
        cluster.query("SELECT 'after the password' AS marker")
        text = recorded(cluster)
        assert "SELECT 'after the password' AS marker" in text
        assert 'reserved' in text  # the error itself is logged, without its statement
        parts = secret_parts(cluster, ['bemi_q'], [FIRST, SECOND, FAILED])
        parts += [piece for piece in first_verifier.replace('$', ':').split(':')[2:] if len(piece) >= 8]
        assert_nothing_recorded(text, parts)
        assert 'CREATE ROLE "bemi_q"' not in text and 'ALTER ROLE "bemi_q"' not in text
    finally:
        pool.clusters.pop((major, 'role-quiet')).destroy()


def test_createrole_login_is_warned_and_works(pool, major):
    cluster = recording_server(pool, major, 'role-quiet-admin')
    cluster.query("CREATE ROLE admin_q LOGIN CREATEROLE PASSWORD 'admin-q-pw'")
    args = dict(cluster.connection_args(), login_user='admin_q', login_password='admin-q-pw',
                login_host='127.0.0.1', login_db='postgres', name='bemi_qa', replication=False, schemas=[])
    try:
        created = run_module('bemi_role', dict(args, password=FIRST))
        assert not created.failed and created['changed'], created
        warnings = [w for w in created.get('warnings', []) if 'may record the verifier' in w]
        assert len(warnings) == 1, created.get('warnings')
        assert 'log_statement' in warnings[0] and 'pg_stat_statements.track' in warnings[0]
        if major >= 15:
            assert 'GRANT SET ON PARAMETER' in warnings[0] and 'TO admin_q' in warnings[0]
        else:
            assert 'superuser' in warnings[0]
        assert read_as(cluster, 'bemi_qa', FIRST, 'postgres', 'SELECT 1') == [(1,)]
        if major < 15:
            return
        # The fix the warning gives (PostgreSQL 15+): then a rotation is quiet, with no warning.
        cluster.query('GRANT SET ON PARAMETER %s TO admin_q' % ', '.join(QUIET_NAMES))
        cluster.query('SELECT pg_stat_statements_reset()')
        offset = len(cluster.log_text())
        rotated = run_module('bemi_role', dict(args, password=SECOND))
        assert not rotated.failed and rotated['changed'], rotated
        assert not [w for w in rotated.get('warnings', []) if 'may record the verifier' in w], rotated
        assert read_as(cluster, 'bemi_qa', SECOND, 'postgres', 'SELECT 1') == [(1,)]
        assert_nothing_recorded(recorded(cluster, offset), secret_parts(cluster, ['bemi_qa'], [SECOND]))
    finally:
        pool.clusters.pop((major, 'role-quiet-admin')).destroy()


def test_connect_granted_and_expired_role_renewed(pool, major):
    cluster = pool.get(major, 'role')
    db = 'conn_c'
    cluster.query('CREATE DATABASE %s' % db)
    cluster.query('REVOKE CONNECT ON DATABASE %s FROM PUBLIC' % db)
    args = dict(cluster.connection_args(), login_db=db, name='bemi_c', password=FIRST)
    try:
        created = check_then_apply(cluster, args, [db])
        assert 'GRANT CONNECT ON DATABASE "conn_c" TO "bemi_c"' in created['queries']
        assert created['diff']['after']['connect'] is True and created['role']['connect'] is True
        assert read_as(cluster, 'bemi_c', FIRST, db, 'SELECT 1') == [(1,)]
        assert run_module('bemi_role', args)['changed'] is False

        # Expired: Bemi's login fails until the role is valid again.
        cluster.query("ALTER ROLE bemi_c VALID UNTIL '2001-01-01 00:00:00+00'")
        try:
            read_as(cluster, 'bemi_c', FIRST, db, 'SELECT 1')
            raise AssertionError('an expired role logged in')
        except psycopg2.OperationalError:
            pass
        renewed = check_then_apply(cluster, args, [db])
        assert renewed['queries'] == ['ALTER ROLE "bemi_c" VALID UNTIL \'infinity\'']
        assert renewed['diff']['before']['valid_until'].startswith('2001-01-01')
        assert renewed['diff']['after']['valid_until'] == 'infinity'
        assert read_as(cluster, 'bemi_c', FIRST, db, 'SELECT 1') == [(1,)]
        assert run_module('bemi_role', args)['changed'] is False

        gone = check_then_apply(cluster, dict(args, state='absent', password=None), [db])
        assert gone['queries'][0] == 'REVOKE CONNECT ON DATABASE "conn_c" FROM "bemi_c"'
        assert cluster.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'bemi_c'") == 0
    finally:
        cluster.query('DROP DATABASE IF EXISTS %s' % db)
        cluster.query("DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bemi_c') THEN "
                      "DROP OWNED BY bemi_c; DROP ROLE bemi_c; END IF; END $$")
