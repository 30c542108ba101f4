"""Connection failures that real servers of every major produce, each with its own connect_error code.

An SSL mismatch, a role whose name holds the word "database", a server whose connections are all taken,
and a server that is shutting down: none of them is "server unreachable" (which the tracking role waits
out as a restart), and only the ones that pass by themselves are marked transient.
"""

from __future__ import annotations

import os
import subprocess
import time

import pgserver
from ansible_run import run_module


def refused(args, code, transient):
    result = run_module('bemi_slot', args)
    assert result.failed and result['connect_error'] == code, result
    assert result['connect_error_transient'] is transient, result
    assert 'Traceback' not in result['msg'] and ' Fix: ' in result['msg'], result
    return result


def connect_when_a_slot_is_free(cluster, **kwargs):
    """A closed session's backend exits after the client returns: its slot frees a moment later."""
    import psycopg2
    deadline = time.monotonic() + 10
    while True:
        try:
            return cluster.connect(**kwargs)
        except psycopg2.OperationalError as exc:
            if 'connection slots' not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_ssl_required_by_the_client(pg):
    """sslmode=require against a server without SSL (the test servers run with ssl = off)."""
    args = dict(login_host='127.0.0.1', login_port=pg.port, login_user='postgres', ssl_mode='require')
    result = refused(args, 'ssl_not_supported', False)
    assert 'set ssl_mode to prefer' in result['msg']


def test_role_named_database(pg):
    """'role "database_admin" does not exist' is about the role, not a missing database."""
    for role in ('database_admin', 'database admin', 'my database'):
        result = refused(dict(pg.connection_args(), login_user=role, login_db='postgres'), 'unknown_role', False)
        assert 'fix login_user' in result['msg']


def test_too_many_connections_then_shutting_down(pool, major):
    cluster = pool.fresh(major, 'connect-errors', {'max_connections': 3, 'superuser_reserved_connections': 1})
    held = []
    try:
        cluster.query('CREATE ROLE plain LOGIN')
        held += [connect_when_a_slot_is_free(cluster, user='plain') for dummy in range(2)]
        # The last slot is reserved for superusers.
        refused(dict(cluster.connection_args(), login_user='plain', login_db='postgres'), 'too_many_connections', True)
        held.append(connect_when_a_slot_is_free(cluster))
        result = refused(dict(cluster.connection_args(), login_db='postgres'), 'too_many_connections', True)
        assert 'too many clients' in result['msg']

        # A smart shutdown waits for the sessions still open, and meanwhile refuses new ones.
        for conn in held[1:]:
            conn.close()
        stop = [os.path.join(cluster.bindir, 'pg_ctl'), '-D', cluster.data_dir, '-m', 'smart', '-W', 'stop']
        subprocess.run(pgserver.as_server_user(stop), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        result = refused(dict(cluster.connection_args(), login_db='postgres'), 'server_not_ready', True)
        assert 'shutting down' in result['msg']
    finally:
        for conn in held:
            conn.close()
        pool.clusters.pop((major, 'connect-errors')).destroy()
