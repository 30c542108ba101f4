# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the bemi.postgresql.tracking role against ``ansible localhost -m ping``, both in the same run.

Measures, on servers it starts itself (scripts/pgserver.py) and with the collection of this work tree:

1. the converged re-run (nothing to change) of one host with 1, 10 and 30 databases, and from
   those the cost of each further database;
2. check mode on the converged host;
3. a first run that includes its restart (wal_level replica -> logical);
4. a fleet of local servers rolled out by the bemi.postgresql.rollout playbook with forks 10,
   as hosts per minute (first run, then the converged re-run);
5. a profile of a converged re-run: wall time per task, per task file and per module run.

Prints a Markdown report with the issue's targets (see TARGETS) marked pass or fail. Every wall
time includes Ansible's start-up, as ping's does; ping samples are spread over the run, so that
load from elsewhere on the machine hits both alike.

Environment (all optional):
  BENCH_MAJOR               PostgreSQL major (default 16)
  BENCH_ROLE_DATABASES      database counts of the converged host (default 1,10,30)
  BENCH_ROLE_REPEAT         timed runs of ping, of the one-database case and of its check mode (default 3)
  BENCH_ROLE_REPEAT_LARGE   timed runs of each larger database count and its check mode (default 1)
  BENCH_ROLE_FLEET          servers in the fleet (default 20; 0 skips the fleet)
  BENCH_ROLE_FORKS          forks of the fleet run (default 10)
  BENCH_ROLE_SERIAL         hosts per rollout batch (default: the whole fleet in one batch)
  BENCH_ROLE_PARTS          which parts run (default converged,check,first,fleet,profile)
  BENCH_ROLE_CHECK_DATABASES    database counts timed in check mode too (default: the smallest)
  BENCH_ROLE_PROFILE_DATABASES  database counts profiled per task (default: the two smallest)
  BENCH_ROLE_PROFILE_OUT    where the profile's raw JSON lines are kept (default: not kept)
  BENCH_ROLE_TABLES         tables in each database (default 5)
  BENCH_ROLE_TREE           a checkout whose collection is measured instead of this one (such as the role
                            before a change, in a `git worktree`), by this benchmark
A quick run:  BENCH_ROLE_DATABASES=1,3 BENCH_ROLE_REPEAT=1 BENCH_ROLE_FLEET=2 .venv/bin/python bench/role.py
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, HERE)

import pgserver  # noqa: E402  pylint: disable=wrong-import-position
from ansible_run import ansible_env  # noqa: E402  pylint: disable=wrong-import-position
from bench_replica_identity import machine  # noqa: E402  pylint: disable=wrong-import-position

# The targets of issue 26, on a two-core machine.
TARGETS = {
    'fixed': 3.0,         # converged re-run of one database: at most ping + 3 s
    'per_database': 0.8,  # each further database: under 0.8 s
}
PASSWORD = 'Bench-S3cret-Passw0rd'
DB_PREFIX = 'bench'
PARTS = ('converged', 'check', 'first', 'fleet', 'profile')
# Actions that run on the controller only: every other task is a module run on the managed host.
CONTROLLER_ACTIONS = frozenset(
    prefix + name for prefix in ('', 'ansible.builtin.', 'ansible.legacy.')
    for name in ('set_fact', 'debug', 'assert', 'fail', 'meta', 'include_tasks', 'import_tasks', 'include_vars',
                 'include_role', 'import_role', 'add_host', 'group_by', 'set_stats', 'validate_argument_spec'))


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return [part.strip() for part in os.environ.get(name, default).split(',') if part.strip()]


def ansible_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


class Bench(object):
    """Runs Ansible with this tree's collection, a private temp directory and optional profiling."""

    def __init__(self, work, tree=None):
        self.work = work
        self.tmp = os.path.join(work, 'ansible-tmp')
        os.makedirs(self.tmp)
        self.pings = []
        self.collections = None
        if tree:
            # Another checkout's role (say, the one before a change), measured with this benchmark.
            self.collections = os.path.join(work, 'collections')
            os.makedirs(os.path.join(self.collections, 'ansible_collections', 'bemi'))
            os.symlink(os.path.abspath(tree), os.path.join(self.collections, 'ansible_collections', 'bemi', 'postgresql'))

    def env(self, profile_file=None):
        env = ansible_env({'ANSIBLE_REMOTE_TEMP': self.tmp, 'ANSIBLE_LOCAL_TEMP': self.tmp,
                           'ANSIBLE_RETRY_FILES_ENABLED': 'false'})
        if self.collections:
            env['ANSIBLE_COLLECTIONS_PATH'] = self.collections
        # Not the test suite's result callback: only ours, and only when profiling.
        for name in ('ANSIBLE_CALLBACK_PLUGINS', 'ANSIBLE_CALLBACKS_ENABLED'):
            env.pop(name, None)
        if profile_file:
            env.update({'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
                        'ANSIBLE_CALLBACKS_ENABLED': 'bemi_bench_profile', 'BEMI_BENCH_PROFILE_FILE': profile_file})
        return env

    def run(self, argv, profile_file=None):
        """Wall time (s) and the play recap's counts summed over hosts; a failed run stops the benchmark."""
        started = time.perf_counter()
        proc = subprocess.run(argv, env=self.env(profile_file), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit('failed (rc %d): %s\n%s' % (proc.returncode, ' '.join(argv), proc.stdout[-4000:]))
        recap = collections.Counter()
        for key, value in re.findall(r'\b(ok|changed|failed|skipped)=(\d+)', proc.stdout):
            recap[key] += int(value)
        return elapsed, recap

    def ping(self):
        elapsed = self.run([ansible_bin('ansible'), 'localhost', '-m', 'ansible.builtin.ping'])[0]
        self.pings.append(elapsed)
        return elapsed

    def playbook(self, inventory, playbook, extra_args=(), profile_file=None):
        return self.run([ansible_bin('ansible-playbook'), '-i', inventory, playbook] + list(extra_args), profile_file)


def host_vars(cluster, databases):
    """What a local host of the role needs (as the Molecule scenarios set it): socket, port, restart as postgres."""
    return {
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        'ansible_become_method': 'su',
        'bemi_login_unix_socket': cluster.socket_dir,
        'bemi_login_port': cluster.port,
        'bemi_pg_ctl_log_file': cluster.log_file,
        'bemi_restart_runuser': True,
        'bemi_password': PASSWORD,
        'bemi_databases': [{'name': name} for name in databases],
    }


def write_json(path, data):
    with open(path, 'w') as handle:
        json.dump(data, handle, indent=1)
    return path


def inventory(work, name, hosts):
    return write_json(os.path.join(work, '%s.inventory.json' % name), {'all': {'hosts': hosts}})


def role_playbook(work):
    """The role on every host of the inventory, as a user's own play would run it."""
    return write_json(os.path.join(work, 'role.yml'), [{
        'name': 'Bemi', 'hosts': 'all', 'gather_facts': False, 'roles': ['bemi.postgresql.tracking']}])


def new_server(major, name, settings=None):
    cluster = pgserver.Cluster(major, name=name)
    cluster.init(dict({'log_statement': "'none'", 'max_connections': 40}, **(settings or {}))).start()
    return cluster


def make_databases(cluster, names, tables):
    for name in names:
        cluster.query('CREATE DATABASE %s' % name)
        cluster.query("DO $$ BEGIN FOR i IN 1..%d LOOP EXECUTE format('CREATE TABLE public.%%I "
                      "(id bigint PRIMARY KEY, name text, at timestamptz)', 't' || i); END LOOP; END $$" % tables,
                      dbname=name)


def median(values):
    return statistics.median(values) if values else float('nan')


def timed(bench, repeat, function):
    """``repeat`` samples of ``function`` with a ping sample before each; returns the samples and their recaps."""
    samples, recaps = [], []
    for dummy in range(repeat):
        bench.ping()
        elapsed, recap = function()
        samples.append(elapsed)
        recaps.append(recap)
    return samples, recaps


def changed_of(recaps):
    return sorted(set(recap['changed'] for recap in recaps))


def verdict(ok):
    return '**pass**' if ok else '**FAIL**'


# -- the profile --------------------------------------------------------------------------------
def read_profile(path):
    with open(path) as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    results = [record for record in records if record['event'] == 'result']
    starts = [record['at'] for record in records if record['event'] == 'playbook_start']
    ends = [record['at'] for record in records if record['event'] == 'end']
    return results, (ends[-1] - starts[0]) if starts and ends else None


def task_file(path):
    """roles/tracking/tasks/x.yml:12 -> x.yml (the file, relative to the role's tasks)."""
    path = (path or '?').rsplit(':', 1)[0]
    marker = '/roles/tracking/tasks/'
    return path.split(marker, 1)[1] if marker in path else os.path.basename(path)


def summarize_profile(results):
    """Per task (file, name with the database named <db>, action): total seconds, results, skipped ones."""
    tasks = collections.OrderedDict()
    for record in results:
        name = re.sub(r'\b(%s\d\d|shop)\b' % DB_PREFIX, '<db>', record['task'].replace('bemi.postgresql.tracking : ', ''))
        key = (task_file(record['path']), name, record['action'])
        entry = tasks.setdefault(key, {'seconds': 0.0, 'runs': 0, 'skipped': 0})
        entry['seconds'] += record['seconds']
        # A loop's result stands for one module run per item.
        runs = record['items'] if record['items'] is not None else 1
        entry['runs'] += runs
        entry['skipped'] += runs if record['status'] == 'skipped' else 0
    return tasks


def is_module(action):
    return action not in CONTROLLER_ACTIONS


def profile_report(small, large, sizes, played):
    """Markdown: per task file, the top tasks, and the cost that each further database adds."""
    out = []
    small_tasks, large_tasks = summarize_profile(small), summarize_profile(large)
    low, high = sizes
    counted = []
    for label, tasks, total in (('%d database' % low, small_tasks, played[0]),
                                ('%d databases' % high, large_tasks, played[1])):
        seconds = sum(entry['seconds'] for entry in tasks.values())
        modules = [entry for key, entry in tasks.items() if is_module(key[2])]
        module_runs = sum(entry['runs'] - entry['skipped'] for entry in modules)
        module_seconds = sum(entry['seconds'] for entry in modules if entry['runs'] > entry['skipped'])
        counted.append((module_runs, module_seconds, sum(entry['runs'] for entry in tasks.values()), total))
        out.append('Converged re-run with %s: %.2f s from the first task to the recap (%.2f s in task results), '
                   '%d task results of which %d skipped; %d module runs on the host took %.2f s (%.2f s each).'
                   % (label, total or float('nan'), seconds, sum(entry['runs'] for entry in tasks.values()),
                      sum(entry['skipped'] for entry in tasks.values()), module_runs, module_seconds,
                      module_seconds / module_runs if module_runs else 0))
        out.append('')
    out.append('Each further database: %.1f more module runs (%.2f s), %.1f more task results, %.2f s more wall time.'
               % tuple((b - a) / float(high - low) for a, b in zip(*counted)))
    out.append('')
    out.append('Per task file, converged re-run (seconds):')
    out.append('')
    out.append('| task file | %d db | %d dbs | per further database |' % (low, high))
    out.append('| --- | ---: | ---: | ---: |')
    files = collections.OrderedDict()
    for tasks, column in ((small_tasks, 0), (large_tasks, 1)):
        for key, entry in tasks.items():
            files.setdefault(key[0], [0.0, 0.0])[column] += entry['seconds']
    for name, (one, many) in sorted(files.items(), key=lambda item: -item[1][0]):
        out.append('| %s | %.2f | %.2f | %+.3f |' % (name, one, many, (many - one) / (high - low)))
    out.append('')
    out.append('Top tasks of the %d-database re-run (seconds; "module" marks a module run on the host, '
               'ran = results not skipped):' % low)
    out.append('')
    out.append('| task file | task | action | module | ran / results | seconds |')
    out.append('| --- | --- | --- | :---: | ---: | ---: |')
    for key, entry in sorted(small_tasks.items(), key=lambda item: -item[1]['seconds'])[:25]:
        row = (key[0], key[1].replace('|', '/'), key[2], 'yes' if is_module(key[2]) else '',
               entry['runs'] - entry['skipped'], entry['runs'], entry['seconds'])
        out.append('| %s | %s | %s | %s | %d / %d | %.2f |' % row)
    out.append('')
    out.append('What each further database adds (tasks of the %d-database re-run, minus the %d-database one, '
               'divided by %d):' % (high, low, high - low))
    out.append('')
    out.append('| task file | task | action | module | seconds per database |')
    out.append('| --- | --- | --- | :---: | ---: |')
    deltas = []
    for key in set(small_tasks) | set(large_tasks):
        delta = (large_tasks.get(key, {'seconds': 0})['seconds'] - small_tasks.get(key, {'seconds': 0})['seconds'])
        deltas.append((delta / (high - low), key))
    for delta, key in sorted(deltas, reverse=True)[:15]:
        out.append('| %s | %s | %s | %s | %.3f |' % (key[0], key[1].replace('|', '/'), key[2],
                                                     'yes' if is_module(key[2]) else '', delta))
    out.append('')
    return out


# -- the parts ------------------------------------------------------------------------------------
def converged_parts(bench, major, sizes, parts, repeat, repeat_large, tables, check_sizes, profile_sizes):
    """One server at wal_level logical (nothing to restart); each size converged once, then timed re-runs."""
    names = ['%s%02d' % (DB_PREFIX, number) for number in range(1, max(sizes) + 1)]
    cluster = new_server(major, 'benchrole', {'wal_level': 'logical'})
    rows, checks, profiles = [], [], {}
    playbook = role_playbook(bench.work)
    try:
        make_databases(cluster, names, tables)
        for size in sizes:
            inv = inventory(bench.work, 'converged%d' % size, {'bench': host_vars(cluster, names[:size])})
            times = repeat if size == sizes[0] else repeat_large
            first = bench.playbook(inv, playbook)
            if 'converged' in parts:
                samples, recaps = timed(bench, times, lambda: bench.playbook(inv, playbook))
                rows.append((size, first[0], samples, changed_of(recaps)))
                print('converged %d: first %.1f s, re-runs %s' % (size, first[0], samples), file=sys.stderr)
            if 'check' in parts and size in check_sizes:
                samples, recaps = timed(bench, times, lambda: bench.playbook(inv, playbook, ['--check']))
                checks.append((size, samples, changed_of(recaps)))
                print('check %d: %s' % (size, samples), file=sys.stderr)
            if 'profile' in parts and size in profile_sizes:
                handle, path = tempfile.mkstemp(prefix='profile-%d-' % size, suffix='.jsonl', dir=bench.work)
                os.close(handle)
                bench.playbook(inv, playbook, profile_file=path)
                profiles[size] = path
    finally:
        cluster.destroy()
    return rows, checks, profiles


def first_run(bench, major, tables):
    """A server at wal_level replica (the default) and one database: the run that restarts it."""
    cluster = new_server(major, 'benchfirst')
    try:
        make_databases(cluster, ['shop'], tables)
        inv = inventory(bench.work, 'first', {'first': host_vars(cluster, ['shop'])})
        bench.ping()
        elapsed, recap = bench.playbook(inv, role_playbook(bench.work))
        level = cluster.scalar('SHOW wal_level')
        if level != 'logical':
            raise SystemExit('the first run left wal_level at %s' % level)
        bench.ping()
        print('first run: %.1f s' % elapsed, file=sys.stderr)
        return elapsed, recap['changed']
    finally:
        cluster.destroy()


def fleet(bench, major, count, forks, serial, tables):
    """``count`` servers at wal_level replica with one database each, rolled out by bemi.postgresql.rollout."""
    clusters = []
    try:
        hosts = {}
        for number in range(1, count + 1):
            cluster = new_server(major, 'benchfleet')
            clusters.append(cluster)
            make_databases(cluster, ['shop'], tables)
            hosts['pg%02d' % number] = host_vars(cluster, ['shop'])
        inv = inventory(bench.work, 'fleet', hosts)
        args = ['-f', str(forks), '-e', 'bemi_serial=%d' % serial]
        bench.ping()
        first, first_recap = bench.playbook(inv, 'bemi.postgresql.rollout', args)
        bench.ping()
        levels = [cluster.scalar('SHOW wal_level') for cluster in clusters]
        if set(levels) != {'logical'}:
            raise SystemExit('the fleet rollout left wal_level at %s' % levels)
        print('fleet first run: %.1f s' % first, file=sys.stderr)
        again, again_recap = bench.playbook(inv, 'bemi.postgresql.rollout', args)
        bench.ping()
        print('fleet re-run: %.1f s; pings %s' % (again, bench.pings), file=sys.stderr)
        return first, first_recap['changed'], again, again_recap['changed']
    finally:
        for cluster in clusters:
            cluster.destroy()


def main():
    major = env_int('BENCH_MAJOR', 16)
    sizes = sorted(set(int(size) for size in env_list('BENCH_ROLE_DATABASES', '1,10,30')))
    repeat = env_int('BENCH_ROLE_REPEAT', 3)
    repeat_large = env_int('BENCH_ROLE_REPEAT_LARGE', 1)
    fleet_size = env_int('BENCH_ROLE_FLEET', 20)
    forks = env_int('BENCH_ROLE_FORKS', 10)
    serial = env_int('BENCH_ROLE_SERIAL', fleet_size)
    tables = env_int('BENCH_ROLE_TABLES', 5)
    # Check mode at the smallest count, the profile at the two smallest: the largest re-runs take longest.
    check_sizes = [int(size) for size in env_list('BENCH_ROLE_CHECK_DATABASES', str(sizes[0]))]
    profile_sizes = [int(size) for size in env_list('BENCH_ROLE_PROFILE_DATABASES', ','.join(map(str, sizes[:2])))]
    parts = env_list('BENCH_ROLE_PARTS', ','.join(PARTS))
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit('unknown BENCH_ROLE_PARTS %s (known: %s)' % (sorted(unknown), ', '.join(PARTS)))
    work = tempfile.mkdtemp(prefix='bemi-bench-role-')
    os.chmod(work, 0o755)
    tree = os.environ.get('BENCH_ROLE_TREE')
    bench = Bench(work, tree)
    started = time.time()
    load_before = os.getloadavg()
    out = []
    try:
        bench.ping()  # warm the file cache; not counted
        bench.pings = []
        rows, checks, profiles = [], [], {}
        if set(parts) & {'converged', 'check', 'profile'}:
            rows, checks, profiles = converged_parts(bench, major, sizes, parts, repeat, repeat_large, tables,
                                                     check_sizes, profile_sizes)
        first = first_run(bench, major, tables) if 'first' in parts else None
        fleet_result = fleet(bench, major, fleet_size, forks, serial, tables) if 'fleet' in parts and fleet_size else None
        if not bench.pings:
            bench.ping()
        ping = median(bench.pings)

        out.append('Run on %s UTC (%.0f s). Machine: %s. PostgreSQL %s, ansible-core %s. Load average '
                   '(1 min) %.1f before, %.1f after.' % (
                       datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M'), time.time() - started, machine(),
                       major, ansible_core_version(), load_before[0], os.getloadavg()[0]))
        out.append('')
        out.append('Collection: %s (commit %s).' % (tree or ROOT, commit_of(tree or ROOT)))
        out.append('`ansible localhost -m ping`: median %.2f s of %d samples spread over the run (%.2f-%.2f s).'
                   % (ping, len(bench.pings), min(bench.pings), max(bench.pings)))
        out.append('Each database has %d tables; every run is `ansible-playbook` of the role on one local host '
                   '(the fleet: bemi.postgresql.rollout), wall time with Ansible\'s start-up.' % tables)
        out.append('')
        out.extend(report_converged(rows, checks, ping, repeat, repeat_large))
        if first:
            out.append('First run of one database at wal_level replica, with its restart to logical: **%.1f s** '
                       '(%.1f x ping, ping + %.1f s), %d tasks changed.'
                       % (first[0], first[0] / ping, first[0] - ping, first[1]))
            out.append('')
        if fleet_result:
            total, changed, again, again_changed = fleet_result
            out.append('Fleet: %d servers at wal_level replica, one database each, `bemi.postgresql.rollout` with '
                       '`-f %d -e bemi_serial=%d`:' % (fleet_size, forks, serial))
            out.append('')
            out.append('| run | wall time | hosts per minute | tasks changed |')
            out.append('| --- | ---: | ---: | ---: |')
            out.append('| first (restarts every host) | %.1f s | %.1f | %d |' % (total, fleet_size * 60 / total, changed))
            out.append('| converged re-run | %.1f s | %.1f | %d |' % (again, fleet_size * 60 / again, again_changed))
            out.append('')
        if profiles:
            low, high = min(profiles), max(profiles)
            small, small_total = read_profile(profiles[low])
            large, large_total = read_profile(profiles[high])
            if high > low:
                out.append('### Profile of a converged re-run (bench/callback_plugins/bemi_bench_profile.py)')
                out.append('')
                out.extend(profile_report(small, large, (low, high), (small_total, large_total)))
            keep = os.environ.get('BENCH_ROLE_PROFILE_OUT')
            if keep:
                with open(keep, 'w') as handle:
                    for size in sorted(profiles):
                        with open(profiles[size]) as source:
                            for line in source:
                                handle.write(json.dumps(dict(json.loads(line), databases=size)) + '\n')
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print('\n'.join(out))


def commit_of(tree):
    proc = subprocess.run(['git', '-C', tree, 'log', '-1', '--format=%h %s'], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    dirty = subprocess.run(['git', '-C', tree, 'status', '--porcelain', '--untracked-files=no'], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True, check=False).stdout.strip()
    return (proc.stdout.strip()[:80] or '?') + (', with uncommitted changes' if dirty else '')


def ansible_core_version():
    try:
        from ansible.release import __version__  # pylint: disable=import-outside-toplevel
        return __version__
    except ImportError:
        return '?'


def report_converged(rows, checks, ping, repeat, repeat_large):
    out = []
    if not rows:
        return out
    out.append('| databases | first run (untimed setup) | converged re-run, median | runs | - ping | / ping '
               '| per further database | tasks changed |')
    out.append('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    base = median(rows[0][2])
    for size, first, samples, changed in rows:
        value = median(samples)
        further = '%.2f s' % ((value - base) / (size - rows[0][0])) if size != rows[0][0] else ''
        out.append('| %d | %.1f s | **%.2f s** | %d | %+.2f s | %.1f x | %s | %s |' % (
            size, first, value, len(samples), value - ping, value / ping, further, ', '.join(map(str, changed))))
    out.append('')
    out.append('| target | measured | |')
    out.append('| --- | ---: | --- |')
    if rows[0][0] == 1:
        out.append('| converged re-run of one database within ping + %.0f s | ping + %.2f s | %s |' % (
            TARGETS['fixed'], base - ping, verdict(base - ping <= TARGETS['fixed'])))
    if len(rows) > 1:
        # The steepest slope between the smallest size and any other: a cost that grows with the count shows.
        worst = max((median(samples) - base) / (size - rows[0][0]) for size, dummy, samples, dummy in rows[1:])
        out.append('| each further database under %.1f s | %.2f s | %s |' % (
            TARGETS['per_database'], worst, verdict(worst < TARGETS['per_database'])))
    real = dict((size, median(samples)) for size, dummy, samples, dummy in rows)
    for size, samples, changed in checks:
        value = median(samples)
        out.append('| check mode (%d database%s) no slower than the converged real run | %.2f s vs %.2f s (%+.2f s)'
                   '%s | %s |' % (size, '' if size == 1 else 's', value, real[size], value - real[size],
                                  '' if changed == [0] else ', changed %s' % changed, verdict(value <= real[size])))
    out.append('')
    out.append('Samples: %d per figure for the smallest count and ping, %d for larger counts (BENCH_ROLE_REPEAT, '
               'BENCH_ROLE_REPEAT_LARGE).' % (repeat, repeat_large))
    out.append('')
    return out


if __name__ == '__main__':
    main()
