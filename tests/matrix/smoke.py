# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module smoke run of the support matrix, with the ansible-core of the Python running this.

    smoke.py --pg 15,18 py3.9-psycopg2=/path/to/python py3.13-psycopg3=/path/to/python

Starts one throwaway server per (PostgreSQL major, managed-host Python), runs
tests/matrix/smoke.yml against all of them in one ansible-playbook run, and
stops the servers whatever happens. Fails when a deprecation warning is printed:
the matrix is where a new ansible-core's deprecations show up first.
"""

from __future__ import annotations

import argparse
import json
import os
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


def run(majors, hosts):
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
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', path, '--diff',
                os.path.join(HERE, 'smoke.yml')]
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
            return 'ansible-playbook failed (rc=%d)' % proc.returncode
        if deprecations:
            return 'deprecation warnings:\n' + '\n'.join(deprecations)
        return None
    finally:
        for cluster in clusters.values():
            cluster.destroy()
        subprocess.run(['rm', '-rf', work], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pg', default='15,18', help='PostgreSQL majors, comma-separated')
    parser.add_argument('hosts', nargs='+', metavar='NAME=PYTHON', help='managed-host Pythons')
    args = parser.parse_args()
    hosts = [tuple(item.split('=', 1)) for item in args.hosts]
    for name, python in hosts:
        print('managed host %s: Python %s with %s' % (name, python_version(python), driver_of(python)))
    error = run(pgserver.parse_majors(args.pg), hosts)
    if error:
        print('smoke run FAILED: ' + error, file=sys.stderr)
        return 1
    print('smoke run passed: %d hosts' % (len(hosts) * len(args.pg.split(','))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
