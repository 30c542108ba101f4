# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module and role smoke run of the support matrix, with the ansible-core of the Python running this.

    smoke.py --pg 15,18 --role-pg 18 py3.9-psycopg2=/path/to/python py3.13-psycopg3=/path/to/python

Starts one throwaway server per (PostgreSQL major, managed-host Python), runs
tests/matrix/smoke.yml against all of them in one ansible-playbook run. Then the
role, as a user runs it (`ansible-playbook bemi.postgresql.rollout` with the role's
defaults), on one more server (--role-pg, the first managed-host Python): a dry run
(--check --diff) that changes nothing, the rollout, and a second rollout that reports
changed=0. Stops the servers whatever happens. Fails when a deprecation warning is
printed: the matrix is where a new ansible-core's deprecations show up first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import pgserver  # noqa: E402 pylint: disable=wrong-import-position

DRIVER_PROBE = ('import importlib.util as u; '
                'print(",".join(n for n in ("psycopg2", "psycopg") if u.find_spec(n)))')


def driver_of(python):
    """The one database driver ``python`` has; anything else is a broken host venv."""
    found = subprocess.run([python, '-c', DRIVER_PROBE], stdout=subprocess.PIPE,
                           universal_newlines=True, check=True).stdout.strip()
    if found not in ('psycopg2', 'psycopg'):
        raise SystemExit('%s must have exactly one of psycopg2, psycopg; it has: %r' % (python, found))
    return found


def python_version(python):
    return subprocess.run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()


def inventory(clusters):
    hosts = {}
    for (major, host, python), cluster in clusters.items():
        hosts['pg%d-%s' % (major, host)] = {
            'ansible_connection': 'local',
            'ansible_python_interpreter': python,
            'expected_python': python_version(python),
            'pg_major': major,
            'pg_socket': cluster.socket_dir,
            'pg_port': cluster.port,
        }
    return {'all': {'hosts': hosts}}


def ansible_env(work):
    collections = os.path.join(ROOT, '.cache', 'collections')
    subprocess.run([os.path.join(ROOT, 'scripts', 'link-collection.sh')], check=True,
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections))
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections,
        'ANSIBLE_HOME': os.path.join(work, 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': os.path.join(work, 'tmp'),
        'ANSIBLE_REMOTE_TEMP': os.path.join(work, 'tmp'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_DEPRECATION_WARNINGS': '1',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_FORKS': '4',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
    })
    return env


def playbook(argv, work):
    """Run ansible-playbook with ``argv``; its output streams; returns (error or None, output)."""
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')] + argv
    print('$ ' + ' '.join(argv[1:]), flush=True)
    output = []
    # Streamed, so that a slow run shows where it is.
    with subprocess.Popen(argv, env=ansible_env(work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            output.append(line.rstrip('\n'))
    deprecations = [line for line in output if 'DEPRECATION' in line]
    if proc.returncode:
        return 'ansible-playbook failed (rc=%d)' % proc.returncode, output
    if deprecations:
        return 'deprecation warnings:\n' + '\n'.join(deprecations), output
    return None, output


def recap(output, host):
    """The PLAY RECAP counters of ``host``: {'ok': 12, 'changed': 0, ...}."""
    for line in output:
        match = re.match(r'^%s\s+:\s+(.*)$' % re.escape(host), line)
        if match:
            return dict((key, int(value)) for key, value in re.findall(r'(\w+)=(\d+)', match.group(1)))
    return {}


ROLE_HOST = 'role'


def role_state(cluster):
    """What the role changes, as bemi_info would not need to: wal_level, Bemi's role and publication."""
    return (cluster.scalar('SHOW wal_level'),
            cluster.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'bemi'"),
            cluster.scalar("SELECT count(*) FROM pg_publication WHERE pubname = 'bemi'", dbname='shop'))


def run_role(major, host, python, work):
    """The role with its defaults on a fresh server: dry run, rollout, second rollout."""
    cluster = pgserver.Cluster(major, name='smoke-role').init().start()
    try:
        cluster.query('CREATE DATABASE shop')
        cluster.query('CREATE TABLE public.orders (id int PRIMARY KEY, total numeric)', dbname='shop')
        path = os.path.join(work, 'role-inventory.json')
        with open(path, 'w') as handle:
            json.dump({'all': {'hosts': {ROLE_HOST: {
                'ansible_connection': 'local',
                'ansible_python_interpreter': python,
                'ansible_become_method': 'su',
                'bemi_login_unix_socket': cluster.socket_dir,
                'bemi_login_port': cluster.port,
                # pg_ctl restarts the server as its OS user, its output to a file (no Ansible pipe kept open).
                'bemi_pg_ctl_runuser': True,
                'bemi_pg_ctl_log_file': cluster.log_file,
                'bemi_password': 'Smoke-S3cret-Passw0rd',
                'bemi_databases': [{'name': 'shop'}],
            }}}}, handle)
        print('role: bemi.postgresql.rollout on PostgreSQL %d, managed host %s' % (major, host), flush=True)
        before = role_state(cluster)
        error, output = playbook(['-i', path, '--check', '--diff', 'bemi.postgresql.rollout'], work)
        if error:
            return 'role dry run: ' + error
        if role_state(cluster) != before:
            return 'role dry run changed the server: %r -> %r' % (before, role_state(cluster))
        error, output = playbook(['-i', path, 'bemi.postgresql.rollout'], work)
        if error:
            return 'role rollout: ' + error
        if role_state(cluster) != ('logical', 1, 1):
            return 'role rollout left (wal_level, bemi role, bemi publication) = %r' % (role_state(cluster),)
        error, output = playbook(['-i', path, 'bemi.postgresql.rollout'], work)
        if error:
            return 'role second rollout: ' + error
        counters = recap(output, ROLE_HOST)
        if counters.get('changed') != 0 or counters.get('failed') != 0:
            return 'role second rollout is not idempotent: %r' % counters
        print('role: dry run changed nothing, rollout converged, second rollout changed=0', flush=True)
        return None
    finally:
        cluster.destroy()


def run(majors, hosts, role_major=None):
    clusters = {}
    work = tempfile.mkdtemp(prefix='bemi-smoke-')
    try:
        for major in majors:
            for host, python in hosts:
                cluster = pgserver.Cluster(major, name='smoke').init().start()
                clusters[(major, host, python)] = cluster
                cluster.query('CREATE TABLE public.items (id int PRIMARY KEY, note text)')
        path = os.path.join(work, 'inventory.json')
        with open(path, 'w') as handle:
            json.dump(inventory(clusters), handle)
        error, _output = playbook(['-i', path, '--diff', os.path.join(HERE, 'smoke.yml')], work)
        if error:
            return error
        for cluster in clusters.values():
            cluster.destroy()
        clusters.clear()
        if role_major is not None:
            return run_role(role_major, hosts[0][0], hosts[0][1], work)
        return None
    finally:
        for cluster in clusters.values():
            cluster.destroy()
        subprocess.run(['rm', '-rf', work], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pg', default='15,18', help='PostgreSQL majors, comma-separated')
    parser.add_argument('--role-pg', type=int, help='also run the role on a server of this major '
                        '(with the first managed-host Python)')
    parser.add_argument('hosts', nargs='+', metavar='NAME=PYTHON', help='managed-host Pythons')
    args = parser.parse_args()
    hosts = [tuple(item.split('=', 1)) for item in args.hosts]
    for name, python in hosts:
        print('managed host %s: Python %s with %s' % (name, python_version(python), driver_of(python)))
    error = run(pgserver.parse_majors(args.pg), hosts, args.role_pg)
    if error:
        print('smoke run FAILED: ' + error, file=sys.stderr)
        return 1
    print('smoke run passed: %d hosts%s' % (len(hosts) * len(args.pg.split(',')),
                                            ', and the role' if args.role_pg else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
