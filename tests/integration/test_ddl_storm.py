"""DDL storm: bemi_replica_identity on 2,000 tables while another client keeps changing them.

For the whole of each run, a client with its own connection creates and drops partitions
every few milliseconds, creates tables and attaches them as partitions, detaches others,
renames and drops existing tables, and holds short ACCESS EXCLUSIVE locks. Afterwards
no run has failed, every table that still exists has REPLICA IDENTITY FULL, nothing
printed a traceback, and a quiet re-run changes nothing. The figures go to the test
report (see conftest.py): runs failed, tables left without FULL, seconds.

Deselect with ``-m 'not storm'``. It runs on every major: about 20 s each on a quiet 2-core machine
(most of it creating the tables), a few minutes when the machine is loaded.
"""

from __future__ import annotations

import random
import threading
import time

import psycopg2
import pytest

from ansible_run import run_module

TABLES = 2000
PARTITIONED = 4          # parents, LIST-partitioned on an int
INITIAL_PARTITIONS = 50  # per parent: 1,950 plain tables + 4 parents + 200 partitions is over 2,000
STORM_PAUSE = 0.003      # seconds between two storm operations
STORM_MAX_SECONDS = 180  # the storm stops by itself, whatever happens to the test
STORM_MAX_OPERATIONS = 60000
RENAMES = 40             # existing (DEFAULT) tables renamed during a run, at most
DROPS = 40               # existing tables dropped during a run, at most

WITHOUT_FULL = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relreplident <> 'f'")


@pytest.fixture
def storm_server(pool, major, monkeypatch):
    # A new interpreter for each module run, as Ansible starts one: the storm must blow while the run works,
    # and a forked run (ansible_run's fork server) can be over in 0.1 s.
    monkeypatch.setenv('BEMI_TEST_FORKSERVER', '0')
    # Statement logging off: the storm would write hundreds of thousands of lines.
    cluster = pool.fresh(major, 'storm', {'log_statement': "'none'", 'log_min_messages': 'warning'})
    yield cluster
    pool.clusters.pop((major, 'storm')).destroy()


def create_tables(cluster):
    """2,000+ tables in public, in batches (one transaction would run out of lock memory)."""
    statements = ['CREATE TABLE public.t_%04d (id int PRIMARY KEY, v text)' % n for n in range(TABLES - PARTITIONED)]
    for parent in range(PARTITIONED):
        statements.append('CREATE TABLE public.parent_%d (id int, k int) PARTITION BY LIST (k)' % parent)
        statements.extend('CREATE TABLE public.parent_%d_p%d PARTITION OF public.parent_%d FOR VALUES IN (%d)'
                          % (parent, k, parent, k) for k in range(INITIAL_PARTITIONS))
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            for start in range(0, len(statements), 200):
                cur.execute('BEGIN; %s; COMMIT' % '; '.join(statements[start:start + 200]))
    finally:
        conn.close()


class Storm(object):
    """The concurrent client: a thread with its own connection, bounded in time and in operations."""

    def __init__(self, cluster, seed):
        self.cluster = cluster
        self.random = random.Random(seed)
        self.stop_event = threading.Event()
        self.counts = {}
        self.errors = {}
        self.renames = 0
        self.drops = 0
        self.next_key = 1000
        self.live = dict((parent, list(range(INITIAL_PARTITIONS))) for parent in range(PARTITIONED))
        self.detached = []
        self.thread = None

    def start(self):
        """Blow (again): the names it made and dropped in an earlier run are remembered."""
        self.stop_event.clear()
        self.renames = self.drops = 0
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), 'the storm did not stop'

    def _run(self):
        conn = self.cluster.connect()
        try:
            with conn.cursor() as cur:
                # The storm never waits long on the module either.
                cur.execute("SET lock_timeout = '1s'")
                deadline = time.time() + STORM_MAX_SECONDS
                operations = 0
                while not self.stop_event.is_set() and time.time() < deadline and operations < STORM_MAX_OPERATIONS:
                    self._one(cur)
                    operations += 1
                    time.sleep(STORM_PAUSE)
        finally:
            conn.close()

    def _one(self, cur):
        kind = self.random.choice(['create', 'create', 'drop', 'drop', 'attach', 'detach', 'rename', 'drop_table',
                                   'lock', 'lock'])
        try:
            getattr(self, '_' + kind)(cur)
            self.counts[kind] = self.counts.get(kind, 0) + 1
        except psycopg2.Error as exc:
            # Autocommit: only an explicit BEGIN (the lock) can leave a transaction open; end it.
            cur.execute('ROLLBACK')
            name = '%s: %s' % (kind, exc.pgcode)
            self.errors[name] = self.errors.get(name, 0) + 1

    def _key(self):
        self.next_key += 1
        return self.next_key

    def _create(self, cur):
        parent, key = self.random.randrange(PARTITIONED), self._key()
        cur.execute('CREATE TABLE public.parent_%d_p%d PARTITION OF public.parent_%d FOR VALUES IN (%d)'
                    % (parent, key, parent, key))
        self.live[parent].append(key)

    def _drop(self, cur):
        parent = self.random.randrange(PARTITIONED)
        if self.live[parent]:
            key = self.live[parent].pop(0)
            cur.execute('DROP TABLE public.parent_%d_p%d' % (parent, key))

    def _attach(self, cur):
        parent, key = self.random.randrange(PARTITIONED), self._key()
        cur.execute('CREATE TABLE public.loose_%d (id int, k int)' % key)
        cur.execute('ALTER TABLE public.parent_%d ATTACH PARTITION public.loose_%d FOR VALUES IN (%d)'
                    % (parent, key, key))

    def _detach(self, cur):
        parent = self.random.randrange(PARTITIONED)
        if self.live[parent]:
            key = self.live[parent].pop()
            cur.execute('ALTER TABLE public.parent_%d DETACH PARTITION public.parent_%d_p%d' % (parent, parent, key))
            self.detached.append(key)

    def _rename(self, cur):
        if self.renames < RENAMES:
            number = self.random.randrange(TABLES - PARTITIONED)
            cur.execute('ALTER TABLE public.t_%04d RENAME TO t_%04d_renamed' % (number, number))
            self.renames += 1

    def _drop_table(self, cur):
        if self.drops < DROPS:
            cur.execute('DROP TABLE public.t_%04d' % self.random.randrange(TABLES - PARTITIONED))
            self.drops += 1

    def _lock(self, cur):
        target = self.random.choice(['public.t_%04d' % self.random.randrange(TABLES - PARTITIONED),
                                     'public.parent_%d' % self.random.randrange(PARTITIONED)])
        cur.execute('BEGIN')
        cur.execute('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE' % target)
        time.sleep(self.random.uniform(0.01, 0.08))
        cur.execute('COMMIT')


CATALOG_CHANGES = ('create', 'drop', 'attach', 'detach', 'rename', 'drop_table')


def storm_run(storm, args):
    """One module run during the storm; returns (result, seconds, catalog changes made while it ran)."""
    storm.start()
    try:
        time.sleep(0.3)  # the storm is under way before the module reads the catalogs
        before = dict(storm.counts)
        started = time.time()
        result = run_module('bemi_replica_identity', args, diff=False)
        elapsed = time.time() - started
        during = sum(storm.counts.get(kind, 0) - before.get(kind, 0) for kind in CATALOG_CHANGES)
        return result, elapsed, during
    finally:
        storm.stop()


@pytest.mark.storm
def test_ddl_storm(storm_server, major, record_property):
    create_tables(storm_server)
    assert storm_server.scalar(WITHOUT_FULL) >= TABLES
    args = dict(storm_server.connection_args(), login_db='postgres', lock_timeout='200ms')
    storm = Storm(storm_server, major)
    failed = skipped = 0
    seconds = []
    changes_during = []
    # First run: every table and the trigger; second: the trigger is replaced (all schemas) under the storm.
    for extra in ({}, {'schemas': ['*']}):
        result, elapsed, during = storm_run(storm, dict(args, **extra))
        seconds.append('%.1f' % elapsed)
        changes_during.append(during)
        assert 'Traceback' not in result.stdout + result.stderr + str(result.result)
        failed += 1 if result.failed else 0
        assert not result.failed, result.result.get('msg')
        assert result['tables_failed'] == []
        skipped += len(result['tables_skipped'])
    without_full = storm_server.scalar(WITHOUT_FULL)
    quiet = run_module('bemi_replica_identity', dict(args, schemas=['*']), diff=False)
    figures = ('PostgreSQL %d: %d tables, %d runs failed, %d tables without FULL, %s s for the 2 runs under the storm '
               '(Ansible included); catalog changes during the runs %s; storm operations %s; errors the storm met %s; '
               'tables skipped %d; quiet re-run changed=%s'
               % (major, TABLES, failed, without_full, ' + '.join(seconds), ' + '.join(map(str, changes_during)),
                  dict(storm.counts), dict(storm.errors), skipped, quiet['changed']))
    record_property('figures', figures)
    print(figures)
    assert without_full == 0
    assert not quiet.failed and quiet['changed'] is False and quiet['queries'] == []
    # The storm really blew while each run worked, however fast the machine made the run.
    # The second run (the trigger replaced, the tables already FULL) can take 0.2 s: a change during each run
    # shows the overlap, and the two together must count several.
    assert min(changes_during) >= 1 and sum(changes_during) >= 5, 'the storm did not really blow: %s' % changes_during
