# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: the collection on a throwaway PostgreSQL, from dry run to a decoded change.

1. starts a throwaway server (Debian's PostgreSQL 15, else the embedded npm build)
   on a free port (or --port, refused when taken), in a temporary directory: a server
   you already run is never touched;
2. creates a small app database;
3. rolls bemi.postgresql.rollout over it with --check --diff, for real, and again;
4. prints the bemi_info readiness report as a short summary, with the steps of its
   end-to-end probe (Bemi's own login and stream, through a temporary slot);
5. UPDATEs and DELETEs a row of a table without a primary key and shows the
   decoded change with its full "before" row, through a temporary slot;
6. writes the fleet report (bemi.postgresql.report) for its server into bemi-report/;
7. stops and removes the server, also on Ctrl-C or an error, and prints the report's path.

`--preflight` (run by make before it builds the demo's venv, with any Python 3) only checks
that the port is free and that a PostgreSQL can be had, so a mistake costs no install.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import pgserver  # noqa: E402

BIN = os.path.dirname(sys.executable)
# The fleet report's default place, beside the run: bemi-report/ in the work tree (git ignores it).
REPORT_DIR = os.path.join(ROOT, 'bemi-report')

APP_SQL = """
CREATE SCHEMA billing;
CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE public.page_views (customer_id bigint, path text, viewed_at timestamptz DEFAULT now());
CREATE TABLE billing.invoices (id bigint PRIMARY KEY, customer_id bigint, total numeric(10, 2), status text);
CREATE TABLE public.measurements (id bigint, taken_on date NOT NULL, value numeric) PARTITION BY RANGE (taken_on);
CREATE TABLE public.measurements_2026 PARTITION OF public.measurements
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO public.customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', 'grace@example.com');
INSERT INTO public.page_views (customer_id, path) VALUES (1, '/pricing'), (2, '/docs');
INSERT INTO billing.invoices VALUES (10, 1, 120.00, 'open');
INSERT INTO public.measurements VALUES (1, '2026-11-26', 42);
"""


def step(text):
    print('\n\033[1m==> %s\033[0m' % text, flush=True)


def run(argv, env, check=True, quiet=False):
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if not quiet:
        print(proc.stdout, end='', flush=True)
    if check and proc.returncode != 0:
        if quiet:
            print(proc.stdout)
        raise SystemExit('demo: %s failed (exit %d)' % (os.path.basename(argv[0]), proc.returncode))
    return proc


def recap(proc):
    """The host's line of the PLAY RECAP, as the README shows it."""
    for line in proc.stdout.splitlines():
        if line.startswith('demo-db ') and 'ok=' in line:
            return ' '.join(line.split()[:6])
    return '(no recap)'


def pick_major():
    return 15 if pgserver.debian_bindir(15) else 18


def port_problem(port):
    """Why the demo cannot use ``port``, or None. The server listens on 127.0.0.1 only."""
    if not 1024 <= port <= 65535:
        return 'PORT=%d is not a port the demo can use: give one from 1024 to 65535.' % port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(('127.0.0.1', port))
        except OSError as exc:
            return ('port %d on 127.0.0.1 is taken (%s): another server listens there. Give a free one '
                    '(make demo PORT=<port>), or leave PORT out and the demo picks one.' % (port, exc.strerror))
    return None


def preflight(port):
    """What would stop the demo before it installs anything: a taken port, no way to get a PostgreSQL."""
    problems = [port_problem(port)] if port is not None else []
    if not pgserver.debian_bindir(15) and not os.path.exists(os.path.join(pgserver.npm_bindir(18), 'postgres')) \
            and not shutil.which('npm'):
        problems.append("no PostgreSQL for the demo: install Debian's postgresql-15 (apt-get install postgresql-15), "
                        'or npm, with which the demo fetches an embedded PostgreSQL 18.')
    return [problem for problem in problems if problem]


def write_inventory(workdir, cluster, password):
    inventory = {
        'all': {
            'hosts': {
                'demo-db': {
                    'ansible_connection': 'local',
                    'ansible_python_interpreter': sys.executable,
                    'bemi_login_unix_socket': cluster.socket_dir,
                    'bemi_login_port': cluster.port,
                    'bemi_password': password,
                    'bemi_databases': [{'name': 'app'}],
                    'bemi_restart_method': 'pg_ctl',
                    'bemi_data_directory': cluster.data_dir,
                    'bemi_pg_ctl': os.path.join(cluster.bindir, 'pg_ctl'),
                    'bemi_pg_ctl_log_file': cluster.log_file,
                },
            },
        },
    }
    path = os.path.join(workdir, 'inventory.json')
    with open(path, 'w') as handle:
        json.dump(inventory, handle, indent=2)
    return path


def summarize(report):
    wal = report['wal_level']
    lines = [
        'PostgreSQL %s, wal_level %s (configured %s), restart pending: %s'
        % (report['server_version'], wal['running'], wal['configured'], 'yes' if report['restart_required'] else 'no'),
    ]
    publication = report.get('publication')
    if publication:
        scope = 'all tables' if publication['all_tables'] else ', '.join(publication['tables'] or publication['schemas'])
        lines.append('publication %s: %s (%s)' % (publication['name'], scope, ', '.join(publication['operations'])))
    else:
        lines.append('publication: missing')
    trigger = report.get('event_trigger') or {}
    lines.append('event trigger: %s' % ('present, enabled, up to date' if trigger.get('present') and trigger.get(
        'enabled') and trigger.get('up_to_date') else json.dumps(trigger)))
    role = report.get('role') or {}
    lines.append('role %s: %s' % (role.get('name', 'bemi'), 'exists' if role.get('exists') else 'missing'))
    lines.append('tables without FULL identity: %s' % (', '.join(report['tables_without_full_identity']) or 'none'))
    lines.append('tables without a primary key: %s (fine with FULL identity)'
                 % (', '.join(report['tables_without_primary_key']) or 'none'))
    lines.extend(probe_lines(report.get('probe')))
    lines.append('ready: %s' % report['ready'])
    for problem in report['problems']:
        lines.append('problem: %s' % problem)
    for note in report.get('notes', []):
        lines.append('note: %s' % note)
    return '\n'.join('  ' + line for line in lines)


def probe_lines(probe):
    """The end-to-end probe, one line per step."""
    if not probe:
        return []
    lines = ['end-to-end probe (as Bemi: TCP, replication=database, temporary pgoutput slot): %s in %.3f s'
             % ('ok' if probe['ok'] else 'FAILED', probe['seconds'])]
    for step_result in probe['steps']:
        error = '  ' + step_result['error'] if step_result['error'] else ''
        lines.append('  %-18s %-4s %.3f s%s' % (step_result['name'], 'ok' if step_result['ok'] else 'FAIL',
                                                step_result['seconds'], error))
    return lines


def decode_change(cluster):
    conn = cluster.connect(dbname='app')
    try:
        with conn.cursor() as cur:
            # Temporary: dropped when this session ends, whatever happens.
            cur.execute("SELECT pg_create_logical_replication_slot('bemi_demo', 'test_decoding', true)")
            cur.execute("SET synchronous_commit = on")
            cur.execute("UPDATE public.page_views SET path = '/pricing/enterprise' WHERE customer_id = 1")
            cur.execute("DELETE FROM public.page_views WHERE customer_id = 2")
            cur.execute("SELECT data FROM pg_logical_slot_get_changes('bemi_demo', NULL, NULL) "
                        "WHERE data NOT LIKE 'BEGIN%%' AND data NOT LIKE 'COMMIT%%'")
            changes = [row[0] for row in cur.fetchall()]
            cur.execute("SELECT pg_drop_replication_slot('bemi_demo')")
    finally:
        conn.close()
    return changes


def main(port=None):
    problems = preflight(port)
    if problems:
        raise SystemExit('\n'.join('demo: ' + problem for problem in problems))
    env = dict(os.environ)
    workdir = tempfile.mkdtemp(prefix='bemi-demo-')
    env.update({
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.cache', 'collections'),
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'tmp'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        # Shorter transcripts: what was skipped is noise in a demo.
        'ANSIBLE_DISPLAY_SKIPPED_HOSTS': 'false',
    })
    subprocess.run([os.path.join(HERE, 'link-collection.sh')], env=env, check=True)
    started = time.time()
    cluster = None
    report_page = None

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        major = pick_major()
        step('Starting a throwaway PostgreSQL %d (wal_level = replica, as installed)' % major)
        cluster = pgserver.Cluster(major, name='demo', port=port).init({'log_statement': "'none'"}).start()
        print('  port %d, data in %s' % (cluster.port, cluster.data_dir))
        cluster.query('CREATE DATABASE app')
        cluster.query(APP_SQL, dbname='app')
        print('  database app: customers, page_views (no primary key), billing.invoices, measurements (partitioned)')

        inventory = write_inventory(workdir, cluster, secrets.token_urlsafe(18))
        playbook = [os.path.join(BIN, 'ansible-playbook'), 'bemi.postgresql.rollout', '-i', inventory]

        step('Dry run: ansible-playbook bemi.postgresql.rollout --check --diff (nothing changes)')
        dry = run(playbook + ['--check', '--diff'], env)
        step('Real run (one restart, for wal_level)')
        real = run(playbook, env)
        step('Second run: nothing left to change')
        second = run(playbook, env)
        if 'changed=0' not in second.stdout:
            raise SystemExit('demo: the second run changed something')

        step('The three runs (the README shows these lines)')
        for label, proc in (('--check --diff', dry), ('real run', real), ('second run', second)):
            print('PLAY RECAP %-17s %s' % ('(%s)' % label, recap(proc)))

        step('Readiness report (bemi.postgresql.bemi_info)')
        # The probe's password comes from the inventory (templated by Ansible), never from the command line.
        args = {'login_unix_socket': cluster.socket_dir, 'login_port': cluster.port, 'login_db': 'app',
                'probe': True, 'probe_host': '127.0.0.1', 'probe_port': cluster.port,
                'probe_password': '{{ bemi_password }}'}
        proc = run([os.path.join(BIN, 'ansible'), 'demo-db', '-i', inventory, '-m', 'bemi.postgresql.bemi_info',
                    '-a', json.dumps(args), '-o'], env, quiet=True)
        report = json.loads(proc.stdout.split('=>', 1)[1])
        print(summarize(report))

        step('What Bemi receives: UPDATE and DELETE on page_views (no primary key), decoded')
        for change in decode_change(cluster):
            print('  ' + change)
        print('  The old-key part is the whole "before" row: that is REPLICA IDENTITY FULL at work.')

        step('Fleet report: ansible-playbook bemi.postgresql.report (read-only, any time)')
        proc = run([os.path.join(BIN, 'ansible-playbook'), 'bemi.postgresql.report', '-i', inventory,
                    '-e', 'bemi_report_dir=%s' % REPORT_DIR], env, quiet=True)
        print('  ' + next((line.split('"msg": "', 1)[1].rstrip('"') for line in proc.stdout.splitlines()
                           if 'servers ready' in line), '(no summary line)'))
        report_page = os.path.join(REPORT_DIR, 'index.html')
    except KeyboardInterrupt:
        print('\ndemo: interrupted', file=sys.stderr)
        return 130
    finally:
        if cluster is not None:
            step('Stopping and removing the throwaway server')
            cluster.destroy()
        subprocess.run(['rm', '-rf', workdir], check=False)
    print('\ndemo finished in %d s' % (time.time() - started))
    # Last, so it is what stays on the screen: the report outlives the throwaway server.
    print('The report (open it in a browser; report.md and report.json beside it):\n  %s' % report_page)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description='make demo: the collection on a throwaway PostgreSQL.')
    parser.add_argument('--port', type=int, help='the port of the throwaway server (default: a free one)')
    parser.add_argument('--preflight', action='store_true', help='only check the port and that PostgreSQL can be had')
    return parser.parse_args(argv)


if __name__ == '__main__':
    ARGS = parse_args(sys.argv[1:])
    if ARGS.preflight:
        PROBLEMS = preflight(ARGS.port)
        sys.exit('\n'.join('demo: ' + problem for problem in PROBLEMS) if PROBLEMS else 0)
    sys.exit(main(ARGS.port))
