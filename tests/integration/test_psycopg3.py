"""The modules with psycopg 3 when psycopg2 is not installed on the managed host.

The modules run through Ansible with a Python whose only driver is psycopg 3
(``requirements-psycopg3.txt``), and must do exactly what they do with psycopg2.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_run import ROOT, run_module

VENV = os.path.join(ROOT, '.cache', 'venv-psycopg3')
MAJORS = (15, 18)


@pytest.fixture(scope='session')
def psycopg3_python():
    python = os.path.join(VENV, 'bin', 'python')
    if not os.path.exists(python):
        subprocess.run([sys.executable, '-m', 'venv', VENV], check=True)
        subprocess.run([python, '-m', 'pip', 'install', '--quiet', '-r',
                        os.path.join(ROOT, 'requirements-psycopg3.txt')], check=True)
    probe = subprocess.run([python, '-c', 'import psycopg, importlib.util as u; print(u.find_spec("psycopg2") is None)'],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert probe.stdout.strip() == 'True', 'the psycopg 3 venv must not have psycopg2'
    return python


def test_modules_with_psycopg3(pool, major, psycopg3_python):
    if major not in MAJORS:
        pytest.skip('the second driver is checked on PostgreSQL %s' % ', '.join(map(str, MAJORS)))
    cluster = pool.fresh(major, 'psycopg3')
    cluster.query('CREATE TABLE public.items (id int PRIMARY KEY, note text)')
    args = cluster.connection_args()

    def run(module, extra, check=False):
        return run_module(module, dict(args, **extra), check=check, python=psycopg3_python)

    wal = run('bemi_wal_level', {}, check=True)
    assert not wal.failed, wal
    assert wal['queries'] == ["ALTER SYSTEM SET wal_level = 'logical'"]
    wal = run('bemi_wal_level', {})
    assert wal['changed'] and wal['restart_required'] and wal['wal_level']['configured'] == 'logical'
    assert run('bemi_wal_level', {})['changed'] is False

    publication = run('bemi_publication', {'login_db': 'postgres', 'tables': ['items']})
    assert not publication.failed, publication
    assert publication['publication']['tables'] == ['public.items']
    again = run('bemi_publication', {'login_db': 'postgres', 'tables': ['items']})
    assert again['changed'] is False and again['queries'] == []

    role = run('bemi_role', {'login_db': 'postgres', 'name': 'bemi', 'password': "p'w;--é"})
    assert not role.failed, role
    assert any('PASSWORD' in query and '********' in query for query in role['queries'])
    assert run('bemi_role', {'login_db': 'postgres', 'name': 'bemi', 'password': "p'w;--é"})['changed'] is False

    # Errors are as clear as with psycopg2.
    locked_out = run('bemi_wal_level', {'login_port': 1})
    assert locked_out.failed and 'server unreachable' in locked_out['msg']

    info = run('bemi_info', {'login_db': 'postgres'})
    assert not info.failed, info
    assert info['changed'] is False
    assert info['publication']['tables'] == ['public.items']
    assert info['restart_required'] is True
    pool.clusters.pop((major, 'psycopg3')).destroy()


def test_trigger_body_is_the_same_with_either_driver(pg, major, psycopg3_python):
    """Installed through psycopg2, then run through psycopg 3: nothing to change.

    psycopg2 renders a text[] literal as ARRAY['public'] and psycopg 3 as '{public}', and a
    backslash differently; the stored body must not depend on that, or a fleet whose hosts use
    both drivers would replace the function on every run. Runs on every major.
    """
    name = 'drivers_%d' % os.getpid()
    pg.query('CREATE DATABASE %s' % name)
    try:
        pg.query('CREATE SCHEMA app; CREATE SCHEMA "we\\ird \'x\'"; CREATE TABLE app.t (id int)', dbname=name)
        args = dict(pg.connection_args(), login_db=name, schemas=['public', 'app', '"we\\ird \'x\'"'])
        first = run_module('bemi_replica_identity', args)
        assert not first.failed and first['changed'] is True, first
        again = run_module('bemi_replica_identity', args, python=psycopg3_python)
        assert not again.failed, again
        assert again['changed'] is False and again['queries'] == [], again.result
        # And back: what psycopg 3 would write is what psycopg2 wrote.
        assert run_module('bemi_replica_identity', args)['changed'] is False
        pg.query('CREATE TABLE "we\\ird \'x\'".later (id int)', dbname=name)
        assert pg.scalar("SELECT relreplident FROM pg_class WHERE relname = 'later'", dbname=name) == 'f'
    finally:
        pg.query('DROP DATABASE %s WITH (FORCE)' % name)
