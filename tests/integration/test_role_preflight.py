"""The tracking role on a real server: whatever must refuse, refuses before the first change.

Each test gets a fresh server of its major (``wal_level = replica``, so the role would
alter wal_level and restart), runs the role with --check and for real, and compares a
snapshot of everything the role could change (postgresql.auto.conf, roles,
publications, replica identities, event triggers, pg_hba.conf, pending restarts).

A role run costs about 8 s of CPU, so these tests run on the oldest and the newest selected
major (13 and 18 by default), one on each side of every version gate (schemas from 15, failover
slots from 17): what the role decides here reads the same facts on every major, and the modules
under it are tested on every major by their own tests.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

import pgserver
from ansible_run import run_playbook

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  roles:
    - role: bemi.postgresql.tracking
"""
PASSWORD = 'Preflight-S3cret-Passw0rd'
DATABASES = ('shop', 'crm')
pytestmark = pytest.mark.oldest_and_newest


@pytest.fixture
def server(pool, major):
    cluster = pool.fresh(major, 'preflight')
    for dbname in DATABASES:
        cluster.query('CREATE DATABASE %s' % dbname)
        cluster.query('CREATE TABLE public.orders (id int PRIMARY KEY, total int)', dbname=dbname)
    yield cluster
    pool.clusters.pop((major, 'preflight')).destroy()


def role_vars(cluster, **extra):
    base = {
        'bemi_login_unix_socket': cluster.socket_dir,
        'bemi_login_port': cluster.port,
        'bemi_password': PASSWORD,
        'bemi_pg_ctl_log_file': cluster.log_file,
        'bemi_verify_probe': False,
        'bemi_databases': [{'name': 'shop'}],
    }
    base.update(extra)
    return base


def run_role(cluster, variables, check=False):
    playbook = os.path.join(cluster.base_dir, 'role.yml')
    with open(playbook, 'w') as handle:
        handle.write(PLAYBOOK)
    extra = os.path.join(cluster.base_dir, 'vars.json')
    with open(extra, 'w') as handle:
        json.dump(variables, handle)
    args = ['-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
            '-e', '@' + extra]
    if check:
        args += ['--check', '--diff']
    return run_playbook(playbook, extra_args=args)


def snapshot(cluster):
    snap = {
        'auto.conf': cluster.read_file('postgresql.auto.conf'),
        'pg_hba.conf': cluster.read_file('pg_hba.conf'),
        'files': sorted(os.listdir(cluster.data_dir)),
        'roles': cluster.query('SELECT rolname FROM pg_roles ORDER BY 1'),
        'pending': cluster.query('SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1'),
        'started': cluster.scalar('SELECT pg_postmaster_start_time()'),
    }
    for dbname in DATABASES:
        snap[dbname] = [
            cluster.query('SELECT pubname FROM pg_publication ORDER BY 1', dbname=dbname),
            cluster.query("SELECT relname, relreplident FROM pg_class WHERE relkind = 'r' "
                          "AND relnamespace = 'public'::regnamespace ORDER BY 1", dbname=dbname),
            cluster.query('SELECT evtname FROM pg_event_trigger ORDER BY 1', dbname=dbname),
        ]
    return snap


def refused_twice(cluster, variables, modes=(True, False)):
    """--check and the real run both fail, and neither changed anything; return the last run's output.

    ``modes=(False,)``: the real run only, where another test already shows that --check refuses the same way
    (a role run costs seconds of CPU).
    """
    before = snapshot(cluster)
    for check in modes:
        proc = run_role(cluster, variables, check=check)
        assert proc.returncode != 0, proc.stdout
        assert snapshot(cluster) == before, 'changed by a run that must refuse (check=%s):\n%s' % (check, proc.stdout)
    return proc.stdout


def test_databases_are_checked_before_the_first_change(server, major):
    databases = [
        {'name': 'shop', 'tables': ['public.orders', 'public.nosuch']},
        {'name': 'shpo'},
        {'name': 'crm', 'schemas': ['public', 'sales']},
    ]
    out = refused_twice(server, role_vars(server, bemi_databases=databases))
    flat = ' '.join(out.split())
    assert 'Nothing was changed on localhost' in flat, out
    assert 'bemi_databases[0] (shop): table public.nosuch does not exist (fix bemi_databases[0].tables' in flat, out
    assert 'bemi_databases[1].name: database shpo does not exist' in flat, out
    if major >= 15:
        assert 'bemi_databases[2] (crm): schema sales does not exist (fix bemi_databases[2].schemas' in flat, out
    else:
        assert ('bemi_databases[2].schemas: publishing schemas (FOR TABLES IN SCHEMA) needs PostgreSQL 15 or newer '
                'and this server runs %d' % major) in flat, out
    # Module options are not the user's words.
    assert 'fix login_db' not in flat and 'list the tables in tables' not in flat, out


def test_empty_password_refuses_before_any_change(server):
    out = refused_twice(server, role_vars(server, bemi_password=''))
    assert 'bemi_password is empty on localhost' in ' '.join(out.split()), out
    # Declared as managed elsewhere, the role must exist: it does not, so the run still refuses.
    out = refused_twice(server, role_vars(server, bemi_password='', bemi_manage_user=False))
    assert 'bemi_manage_user is false, but the role bemi does not exist on localhost' in ' '.join(out.split()), out


@pytest.mark.skipif(os.geteuid() != 0, reason='the switch tests run the play as root')
def test_a_restart_switch_that_cannot_work_refuses_before_any_change(server):
    """As root, with become (bemi_restart_runuser false): no sudo here, or no Python for the server's user."""
    # The old name is an alias read by the same check: its real run is enough.
    for name, modes in (('bemi_restart_runuser', (True, False)), ('bemi_pg_ctl_runuser', (False,))):
        out = refused_twice(server, role_vars(server, bemi_restart_method='pg_ctl', **{name: False}), modes)
        flat = ' '.join(out.split())
        assert 'The restart of PostgreSQL on localhost would run pg_ctl through become to postgres' in flat, out
        assert 'Nothing was changed. Fix: the play runs as root, so set bemi_restart_runuser to true' in flat, out


@pytest.mark.skipif(os.geteuid() != 0, reason='the switch tests run the play as root')
def test_root_without_sudo_restarts_through_runuser(server):
    variables = role_vars(server, bemi_restart_method='pg_ctl')
    check = run_role(server, variables, check=True)
    assert check.returncode == 0, check.stdout
    assert 'runs as postgres through runuser, without become' in ' '.join(check.stdout.split()), check.stdout
    real = run_role(server, variables)
    assert real.returncode == 0, real.stdout
    assert server.scalar("SELECT current_setting('wal_level')") == 'logical'
    again = run_role(server, variables)
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout


def test_a_server_that_is_down_fails_at_once(server):
    """No retries for a server that does not answer (only a Patroni member that may be restarting gets them)."""
    server.stop()
    try:
        for check in (True, False):
            proc = run_role(server, role_vars(server), check=check)
            assert proc.returncode != 0, proc.stdout
            assert 'FAILED - RETRYING' not in proc.stdout, proc.stdout
            assert 'PostgreSQL on localhost cannot be read, so nothing was changed' in ' '.join(proc.stdout.split())
    finally:
        server.start()


@pytest.mark.skipif(os.geteuid() != 0, reason='the restart runs pg_ctl as the server\'s OS user through runuser')
def test_a_server_unreachable_after_its_restart_names_the_timeout(server):
    """Someone's edit moved the port: pg_ctl restarts the server, which then listens where the role does not look."""
    server.append_conf({'port': pgserver.free_port()})
    variables = role_vars(server, bemi_restart_method='pg_ctl', bemi_restart_timeout=3)
    proc = run_role(server, variables)
    assert proc.returncode != 0, proc.stdout
    flat = ' '.join(proc.stdout.split())
    assert 'PostgreSQL on localhost could not be reached within 3 s (bemi_restart_timeout) after its restart' in flat, \
        proc.stdout
    assert 'or raise bemi_restart_timeout, and run again' in flat, proc.stdout


def test_a_refused_teardown_counts_no_change(server):
    """Teardown's check-mode pre-pass counts nothing: refused there, the run reports changed=0."""
    both = [{'name': 'shop'}, {'name': 'crm'}]
    setup = run_role(server, role_vars(server, bemi_databases=both))
    assert setup.returncode == 0, setup.stdout
    # crm still grants to the role, so dropping it from shop alone is refused, before any change.
    teardown = dict(role_vars(server), bemi_state='absent')
    out = refused_twice(server, teardown)
    assert 'changed=0' in out and 'crm' in out, out


# -- pg_hba.conf: one marked block ---------------------------------------------------------------

HARDENED_HBA = """\
# hardening: no password over plain TCP
hostnossl all all 0.0.0.0/0 reject
# local connections
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
local replication all trust
"""


def hba_backups(cluster):
    return sorted(name for name in os.listdir(cluster.data_dir) if name.startswith('pg_hba.conf.'))


def conf_load_time(cluster):
    return cluster.scalar('SELECT pg_conf_load_time()')


def test_pg_hba_block_has_exactly_the_wanted_lines_and_goes_on_teardown(pool, major):
    cluster = pool.fresh(major, 'hba', settings={'wal_level': 'logical'})
    try:
        cluster.query('CREATE DATABASE shop')
        cluster.query('CREATE DATABASE crm')
        cluster.write_file('pg_hba.conf', HARDENED_HBA)
        cluster.reload()
        variables = role_vars(cluster, bemi_manage_pg_hba=True, bemi_pg_hba_addresses=['203.0.113.7/32'],
                              bemi_databases=[{'name': 'shop'}, {'name': 'crm'}])

        check = run_role(cluster, variables, check=True)
        assert check.returncode == 0, check.stdout
        assert cluster.read_file('pg_hba.conf') == HARDENED_HBA and hba_backups(cluster) == []

        loaded = conf_load_time(cluster)
        first = run_role(cluster, variables)
        assert first.returncode == 0, first.stdout
        block = ['# BEGIN bemi.postgresql: Bemi\'s access, managed by the bemi.postgresql.tracking role '
                 '(edits are overwritten)',
                 'host shop bemi 203.0.113.7/32 scram-sha-256',
                 'host crm bemi 203.0.113.7/32 scram-sha-256',
                 '# END bemi.postgresql', '']
        lines = HARDENED_HBA.splitlines()
        # After the administrator's reject rule (it still wins: first match), above the comment of the next rule.
        assert cluster.read_file('pg_hba.conf').splitlines() == lines[:2] + block + lines[2:]
        assert len(hba_backups(cluster)) == 1
        # Reloaded at once, not by a handler.
        assert conf_load_time(cluster) > loaded
        rules = cluster.query("SELECT type, database, user_name, address FROM pg_hba_file_rules "
                              "WHERE 'bemi' = ANY(user_name) ORDER BY line_number")
        assert rules == [('host', ['shop'], ['bemi'], '203.0.113.7'), ('host', ['crm'], ['bemi'], '203.0.113.7')]

        # A new address replaces the old one: exactly the wanted lines, one backup per change.
        variables['bemi_pg_hba_addresses'] = ['198.51.100.0/24']
        second = run_role(cluster, variables)
        assert second.returncode == 0, second.stdout
        text = cluster.read_file('pg_hba.conf')
        assert '203.0.113.7' not in text and text.count('198.51.100.0/24') == 2, text
        assert len(hba_backups(cluster)) == 2

        # Unchanged: nothing written, no reload, no backup.
        loaded = conf_load_time(cluster)
        third = run_role(cluster, variables)
        assert third.returncode == 0 and 'changed=0' in third.stdout, third.stdout
        assert len(hba_backups(cluster)) == 2 and conf_load_time(cluster) == loaded

        # A reload that was lost (the file is newer than what the server read) is sent by the next run.
        os.utime(os.path.join(cluster.data_dir, 'pg_hba.conf'))
        owed = run_role(cluster, variables)
        assert owed.returncode == 0, owed.stdout
        assert conf_load_time(cluster) > loaded and len(hba_backups(cluster)) == 2

        teardown = run_role(cluster, dict(variables, bemi_state='absent'))
        assert teardown.returncode == 0, teardown.stdout
        assert cluster.read_file('pg_hba.conf') == HARDENED_HBA
        assert len(hba_backups(cluster)) == 3
    finally:
        pool.clusters.pop((major, 'hba')).destroy()


# -- Teardown leaves FULL where another publication needs it ---------------------------------------

def test_teardown_keeps_full_identity_that_another_publication_needs(pool, major):
    cluster = pool.fresh(major, 'teardown', settings={'wal_level': 'logical'})
    try:
        cluster.query('CREATE DATABASE shop')
        cluster.query('CREATE TABLE public.orders (id int PRIMARY KEY, total int); '
                      'CREATE TABLE public.audit (at timestamptz, what text); '
                      "INSERT INTO public.audit VALUES (now(), 'x')", dbname='shop')
        variables = role_vars(cluster)
        setup = run_role(cluster, variables)
        assert setup.returncode == 0, setup.stdout
        # Another consumer publishes the table without a primary key; it relies on FULL.
        cluster.query('CREATE PUBLICATION other FOR TABLE public.audit', dbname='shop')
        identities = "SELECT relname, relreplident FROM pg_class WHERE relname IN ('orders', 'audit') ORDER BY 1"
        assert cluster.query(identities, dbname='shop') == [('audit', 'f'), ('orders', 'f')]

        teardown = dict(variables, bemi_state='absent')
        check = run_role(cluster, teardown, check=True)
        assert check.returncode == 0, check.stdout
        assert cluster.query(identities, dbname='shop') == [('audit', 'f'), ('orders', 'f')]
        real = run_role(cluster, teardown)
        assert real.returncode == 0, real.stdout
        for out in (check.stdout, real.stdout):
            assert ('These tables keep REPLICA IDENTITY FULL, because another publication than bemi includes them '
                    '(its consumers may need their old rows): public.audit.') in ' '.join(out.split()), out
        assert cluster.query(identities, dbname='shop') == [('audit', 'f'), ('orders', 'd')]
        # The other consumer's table still takes UPDATE and DELETE.
        cluster.query("UPDATE public.audit SET what = 'y'; DELETE FROM public.audit", dbname='shop')
    finally:
        pool.clusters.pop((major, 'teardown')).destroy()


# -- Fix texts name the role's variables -------------------------------------------------------

def test_a_locked_table_is_reported_with_the_role_variables(pool, major):
    cluster = pool.fresh(major, 'words', settings={'wal_level': 'logical'})
    try:
        cluster.query('CREATE DATABASE shop')
        cluster.query('CREATE TABLE public.orders (id int PRIMARY KEY)', dbname='shop')
        holder = cluster.connect(dbname='shop')
        holder.autocommit = False
        try:
            with holder.cursor() as cur:
                cur.execute('LOCK TABLE public.orders IN ACCESS SHARE MODE')
            proc = run_role(cluster, role_vars(cluster, bemi_lock_timeout='100ms', bemi_lock_retries=0))
        finally:
            holder.rollback()
            holder.close()
        assert proc.returncode != 0, proc.stdout
        flat = ' '.join(proc.stdout.split())
        assert 'stayed locked for bemi_lock_timeout 100ms after 0 retries' in flat, proc.stdout
        assert 'raise bemi_lock_timeout or bemi_lock_retries' in flat, proc.stdout
    finally:
        pool.clusters.pop((major, 'words')).destroy()


def test_switches_take_the_strings_a_user_types(server):
    """-e bemi_failover_slots=false and INI values are strings: accepted (the run gets to its own checks)."""
    # The values are read the same way with and without --check (the 'maybe' case below runs both):
    # each value's real run shows it is accepted.
    for value in ('false', 'no', 'OFF', 'auto'):
        out = refused_twice(server, role_vars(server, bemi_failover_slots=value, bemi_restart_runuser='yes',
                                              bemi_databases=[{'name': 'shpo'}]), modes=(False,))
        flat = ' '.join(out.split())
        assert 'bemi_databases[0].name: database shpo does not exist' in flat, out
    out = refused_twice(server, role_vars(server, bemi_failover_slots='maybe'))
    assert 'bemi_failover_slots is maybe: it takes auto, true (yes) or false (no).' in ' '.join(out.split()), out
