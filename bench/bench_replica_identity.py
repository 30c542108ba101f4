# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of bemi_replica_identity against the manual way, each baseline measured in the same run.

1. CREATE TABLE latency with 0, 1,000 and 10,000 existing tables: no trigger (bare), the
   floor (bare CREATE TABLE plus its own ALTER ... REPLICA IDENTITY FULL) and ours (installed
   by the module) in one pass; bare and Bemi's published manual trigger in a second pass on
   the same catalog. And ALTER TABLE ... ADD COLUMN
   latency, bare and with ours (which fires on ALTER TABLE for SET SCHEMA and ATTACH PARTITION).
2. Bringing N tables to REPLICA IDENTITY FULL: the module in one task, vs a playbook
   loop with one ALTER per iteration (measured on a few hundred tables and scaled);
   and an idempotent re-run of the module vs an ad hoc ``ping``.

Starts its own throwaway server (scripts/pgserver.py). Prints a Markdown report.
Environment: BENCH_MAJOR (default 16), BENCH_SIZES (default 0,1000,10000),
BENCH_CREATES (CREATE TABLEs timed per case, default 40), BENCH_LOOP (tables in the
playbook loop, default 200), BENCH_FULL (tables brought to FULL, default: the largest size),
BENCH_PARTS (which benchmarks, default 1,2).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

import pgserver  # noqa: E402
from ansible_run import ansible_env, collections_path  # noqa: E402

MODES = ('bare', 'floor', 'bemi', 'ours')
# Two interleaved passes over the same catalog: ours against bare and the floor, then Bemi's
# trigger against bare. Each Bemi sample reads the catalog rows of every table (60 ms at 10,000
# tables) and leaves the CPU caches cold for the sample after it, which slowed ours by about
# 0.4 ms more than bare when all four shared one pass (docs/benchmarks.md, run L).
PASSES = (('bare', 'floor', 'ours'), ('bare', 'bemi'))

# Bemi's manual SQL as published (tests/fixtures), with its three names prefixed by "manual"
# so that it can sit beside ours and be switched on and off.
with open(os.path.join(ROOT, 'tests', 'fixtures', 'bemi_manual_trigger.sql')) as _handle:
    BEMI_MANUAL_SQL = (_handle.read()
                       .replace('_bemi_set_replica_identity_trigger', 'bemi_manual_trigger')
                       .replace('_bemi_set_replica_identity', 'manual_bemi_set_replica_identity'))


def env_int(name, default):
    return int(os.environ.get(name, default))


def make_tables(cluster, dbname, count, prefix='t'):
    """``count`` tables like an application's (a key, a few columns), in batches of 500 per transaction."""
    conn = cluster.connect(dbname=dbname)
    cur = conn.cursor()
    for start in range(0, count, 500):
        stop = min(count, start + 500)
        cur.execute("DO $$ BEGIN FOR i IN %s..%s LOOP "
                    "EXECUTE format('CREATE TABLE public.%%I (id bigint PRIMARY KEY, name text, at timestamptz)', "
                    "%s || i); END LOOP; END $$" % (start + 1, stop, pgserver_literal(prefix)))
    conn.close()


def pgserver_literal(text):
    assert text.isalnum()
    return "'%s'" % text


TRIGGERS = {'bare': [], 'floor': [], 'bemi': ['bemi_manual_trigger'], 'ours': ['_bemi_set_replica_identity_trigger']}


def switch(cur, mode):
    for name in sorted(set(name for names in TRIGGERS.values() for name in names)):
        cur.execute('ALTER EVENT TRIGGER %s %s' % (name, 'ENABLE' if name in TRIGGERS[mode] else 'DISABLE'))


def time_interleaved(cur, modes, statement, count):
    """Client-side latency (ms) of ``statement(mode, i)``: {mode: sorted samples}.

    Sample by sample in turn: before each sample the event triggers are switched for its mode
    (the order of the modes rotates), so that the catalog grows alike for all of them and load on
    the machine hits them alike. Every sample follows a switch, bare ones too.
    """
    samples = dict((mode, []) for mode in modes)
    for i in range(count):
        for k in range(len(modes)):
            mode = modes[(i + k) % len(modes)]
            switch(cur, mode)
            started = time.perf_counter()
            cur.execute(statement(mode, i))
            samples[mode].append((time.perf_counter() - started) * 1000)
    switch(cur, 'ours')
    return dict((mode, sorted(values)) for mode, values in samples.items())


def summary(values):
    return statistics.median(values), values[max(0, int(len(values) * 0.9) - 1)]


def create_statement(prefix):
    def statement(mode, i):
        table = 'public.%s_%s_%d' % (prefix, mode, i)
        create = 'CREATE TABLE %s (id bigint PRIMARY KEY, name text)' % table
        if mode == 'floor':
            # What the trigger saves the user from typing: the same CREATE TABLE and its own ALTER, in one round trip.
            return create + '; ALTER TABLE %s REPLICA IDENTITY FULL' % table
        return create
    return statement


def time_creates(cluster, dbname, count):
    """CREATE TABLE: {(pass, mode): (median, p90, tables made FULL)}, one interleaved pass of PASSES each."""
    conn = cluster.connect(dbname=dbname)
    cur = conn.cursor()
    result = {}
    for number, modes in enumerate(PASSES, 1):
        if 'bemi' in modes:
            # The first CREATE TABLE under Bemi's trigger alters every table the pass before made: not timed.
            switch(cur, 'bemi')
            cur.execute('CREATE TABLE public.warm_up (id bigint PRIMARY KEY)')
        prefix = 'new%d' % number
        samples = time_interleaved(cur, modes, create_statement(prefix), count)
        for mode in modes:
            cur.execute("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                        "AND relname LIKE %s || '\\_' || %s || '\\_%%' AND relreplident = 'f'", (prefix, mode))
            result[number, mode] = summary(samples[mode]) + (cur.fetchone()[0],)
    conn.close()
    return result  # Bemi's trigger stays, disabled (time_interleaved ends with ours on)


def time_alters(cluster, dbname, count):
    """ALTER TABLE ... ADD COLUMN on FULL tables: {mode: (median, p90)} for bare and ours.

    The event trigger fires on ALTER TABLE (for SET SCHEMA and ATTACH PARTITION); on an ADD
    COLUMN it must find nothing to do, cheaply.
    """
    conn = cluster.connect(dbname=dbname)
    cur = conn.cursor()
    cur.execute("DO $$ BEGIN FOR i IN 0..%d LOOP EXECUTE format('CREATE TABLE public.alt_bare_%%s (id bigint PRIMARY KEY); "
                "CREATE TABLE public.alt_ours_%%s (id bigint PRIMARY KEY)', i, i); END LOOP; END $$" % (count - 1))
    samples = time_interleaved(cur, ('bare', 'ours'), lambda mode, i: 'ALTER TABLE public.alt_%s_%d ADD COLUMN note text'
                               % (mode, i), count)
    cur.execute("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'alt\\_%%' AND relreplident <> 'f'")
    assert cur.fetchone()[0] == 0
    conn.close()
    return dict((mode, summary(values)) for mode, values in samples.items())


def run_ansible(argv, extra_env=None):
    started = time.perf_counter()
    proc = subprocess.run(argv, env=ansible_env(extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit('failed: %s\n%s' % (' '.join(argv[:4]), proc.stdout[-3000:]))
    return elapsed, proc.stdout


def ansible_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def module(cluster, dbname, **args):
    base = dict(cluster.connection_args(), login_db=dbname)
    base.update(args)
    return run_ansible([ansible_bin('ansible'), 'localhost', '-m', 'bemi.postgresql.bemi_replica_identity',
                        '-a', json.dumps(base)])[0]


def ping():
    return run_ansible([ansible_bin('ansible'), 'localhost', '-m', 'ansible.builtin.ping'])[0]


def playbook_loop(cluster, dbname, tables, community=None):
    """The ad hoc way: one task iteration, one ALTER, per table.

    With ``community`` (a directory holding ansible_collections/community/postgresql), the loop
    uses community.postgresql.postgresql_query as a playbook would; otherwise psql through
    ansible.builtin.command.
    """
    statement = 'ALTER TABLE public.{{ item }} REPLICA IDENTITY FULL'
    if community:
        task = {'community.postgresql.postgresql_query': {
            'login_unix_socket': cluster.socket_dir, 'port': cluster.port, 'login_user': 'postgres',
            'login_db': dbname, 'query': statement}}
        extra_env = {'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join([collections_path(), community])}
    else:
        psql = os.environ.get('BENCH_PSQL', 'psql')
        task = {'ansible.builtin.command': {'argv': [psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', cluster.socket_dir,
                                                     '-p', str(cluster.port), '-U', 'postgres', '-d', dbname, '-c',
                                                     statement]},
                'changed_when': True}
        extra_env = None
    task.update({'name': 'REPLICA IDENTITY FULL, one table per iteration', 'loop': tables})
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [task]}]
    handle, path = tempfile.mkstemp(suffix='.yml')
    with os.fdopen(handle, 'w') as out:
        json.dump(play, out)
    try:
        return run_ansible([ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                            '-e', 'ansible_python_interpreter=%s' % sys.executable, path], extra_env)[0]
    finally:
        os.unlink(path)


def reset_identities(cluster, dbname):
    cluster.query("DO $$ DECLARE r record; BEGIN FOR r IN SELECT relname FROM pg_class WHERE relkind = 'r' "
                  "AND relnamespace = 'public'::regnamespace LOOP "
                  "EXECUTE format('ALTER TABLE public.%I REPLICA IDENTITY DEFAULT', r.relname); END LOOP; END $$",
                  dbname=dbname)


def median_of(function, times=3):
    return statistics.median(function() for dummy in range(times))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open('/proc/meminfo') as handle:
            memory = '%.1f GiB' % (int(handle.readline().split()[1]) / 1048576.0)
    except (OSError, ValueError, IndexError):
        memory = '?'
    return '%s, %d cores, %s RAM, %s, Python %s' % (
        cpu, os.cpu_count(), memory, platform.platform(terse=True), platform.python_version())


def main():
    major = env_int('BENCH_MAJOR', 16)
    sizes = [int(size) for size in os.environ.get('BENCH_SIZES', '0,1000,10000').split(',')]
    creates = env_int('BENCH_CREATES', 40)
    loop_tables = env_int('BENCH_LOOP', 200)
    full_tables = env_int('BENCH_FULL', max(sizes))
    parts = os.environ.get('BENCH_PARTS', '1,2').split(',')
    cluster = pgserver.Cluster(major, name='bench')
    # More lock slots only to create the test tables faster; nothing measured depends on it.
    cluster.init({'max_locks_per_transaction': 1024, 'log_statement': "'none'"}).start()
    out = []
    try:
        version = cluster.scalar('SHOW server_version')
        out.append('Run on %s UTC. Machine: %s. PostgreSQL %s (fsync off, a throwaway server).'
                   % (datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M'), machine(), version))
        out.append('')
        out.append('## 1. CREATE TABLE latency (median / p90 of %d, ms, client side, autocommit, sample by sample in turn)'
                   % creates)
        out.append('')
        out.append('*floor*: bare CREATE TABLE plus its own ALTER ... REPLICA IDENTITY FULL in one round trip; '
                   '*ours - floor*: what the trigger costs above doing it by hand. Bemi\'s manual trigger is timed '
                   'in a second pass against bare of its own (see PASSES in the script).')
        out.append('')
        out.append('| existing tables | bare | floor | ours | ours / bare | ours - floor '
                   '| bare (2nd pass) | Bemi manual trigger | Bemi / bare |')
        out.append('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
        alters = []
        for size in (sizes if '1' in parts else []):
            dbname = 'bench_%d' % size
            cluster.query('CREATE DATABASE %s' % dbname)
            make_tables(cluster, dbname, size)
            module(cluster, dbname)  # ours, installed the way users do
            cluster.query(BEMI_MANUAL_SQL, dbname=dbname)
            times = time_creates(cluster, dbname, creates)
            assert all(times[key][2] == creates for key in ((1, 'floor'), (1, 'ours'), (2, 'bemi'))), times
            bare, floor, ours, bare2, bemi = (times[key] for key in ((1, 'bare'), (1, 'floor'), (1, 'ours'),
                                                                     (2, 'bare'), (2, 'bemi')))
            row = (size, bare[0], bare[1], floor[0], floor[1], ours[0], ours[1], ours[0] / bare[0],
                   ours[0] - floor[0], bare2[0], bare2[1], bemi[0], bemi[1], bemi[0] / bare2[0])
            out.append('| %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f× | %+.2f ms | %.2f / %.2f | %.2f / %.2f '
                       '| %.1f× |' % row)
            print('\n'.join(out[-1:]), file=sys.stderr)
            alter = time_alters(cluster, dbname, creates)
            alters.append('| %d | %.2f / %.2f | %.2f / %.2f | %.2f× | %+.2f ms |' % (
                size, alter['bare'][0], alter['bare'][1], alter['ours'][0], alter['ours'][1],
                alter['ours'][0] / alter['bare'][0], alter['ours'][0] - alter['bare'][0]))
            print(alters[-1], file=sys.stderr)
        out.append('')
        out.append('## 1b. ALTER TABLE ... ADD COLUMN latency (median / p90 of %d, ms, the same way)' % creates)
        out.append('')
        out.append('| existing tables | bare | ours | ours / bare | ours - bare |')
        out.append('| ---: | ---: | ---: | ---: | ---: |')
        out.extend(alters)
        out.append('')
        if '2' not in parts:
            return

        dbname = 'bench_full'
        cluster.query('CREATE DATABASE %s' % dbname)
        make_tables(cluster, dbname, full_tables)
        out.append('## 2. Bringing tables to REPLICA IDENTITY FULL (wall time, including Ansible)')
        out.append('')
        to_full = module(cluster, dbname, track_new_tables=False)
        assert cluster.scalar("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                              "AND relkind = 'r' AND relreplident <> 'f'", dbname=dbname) == 0
        idempotent = median_of(lambda: module(cluster, dbname, track_new_tables=False))
        pinged = median_of(ping)
        cluster.query('CREATE DATABASE bench_loop')
        make_tables(cluster, 'bench_loop', loop_tables)
        names = ['t%d' % i for i in range(1, loop_tables + 1)]
        loops = [('one `ansible.builtin.command` psql ALTER per iteration', playbook_loop(cluster, 'bench_loop', names))]
        community = os.environ.get('BENCH_COMMUNITY_COLLECTIONS')
        if community and os.path.isdir(os.path.join(community, 'ansible_collections', 'community', 'postgresql')):
            reset_identities(cluster, 'bench_loop')
            loops.append(('one `community.postgresql.postgresql_query` ALTER per iteration',
                          playbook_loop(cluster, 'bench_loop', names, community)))
        assert cluster.scalar("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                              "AND relkind = 'r' AND relreplident <> 'f'", dbname='bench_loop') == 0
        per_table_module = to_full / full_tables
        out.append('| what | tables | wall time | per table |')
        out.append('| --- | ---: | ---: | ---: |')
        out.append('| bemi_replica_identity, one task | %d | %.1f s | %.2f ms |' % (full_tables, to_full, per_table_module * 1000))
        for label, loop in loops:
            per_table_loop = loop / loop_tables
            out.append('| playbook loop, %s | %d | %.1f s | %.1f ms |' % (label, loop_tables, loop, per_table_loop * 1000))
            out.append('| the same loop scaled to %d tables | %d | %.0f s | |'
                       % (full_tables, full_tables, per_table_loop * full_tables))
        out.append('')
        for label, loop in loops:
            out.append('Per table, the module is **%.0f×** faster than the loop with %s.'
                       % (loop / loop_tables / per_table_module, label))
        out.append('')
        out.append('| idempotent re-run (median of 3) | ad hoc `ping` (median of 3) | difference |')
        out.append('| ---: | ---: | ---: |')
        out.append('| %.2f s on %d tables | %.2f s | %.2f s |' % (idempotent, full_tables, pinged, idempotent - pinged))
    finally:
        cluster.destroy()
        print('\n'.join(out))


if __name__ == '__main__':
    main()
