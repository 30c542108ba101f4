"""Real PostgreSQL servers for the integration tests, one set per major.

PG_VERSIONS=15,18 narrows the matrix (default: all six). With ``--dist loadgroup``
the tests of one module and one major run on one xdist worker, the longest groups
first (see ``pytest_xdist_make_scheduler``), so a module's servers and fixtures are
set up once, and servers are always stopped at the end, whatever the outcome.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'scripts'))
sys.path.insert(0, HERE)

import pgserver  # noqa: E402


def selected_majors():
    return pgserver.parse_majors(os.environ.get('PG_VERSIONS', 'all'))


def pytest_generate_tests(metafunc):
    if 'major' in metafunc.fixturenames:
        params = []
        majors = selected_majors()
        if metafunc.definition.get_closest_marker('oldest_and_newest'):
            majors = sorted({min(majors), max(majors)})
        for major in majors:
            marks = []
            min_major = metafunc.definition.get_closest_marker('min_major')
            if min_major and major < min_major.args[0]:
                marks.append(pytest.mark.skip(reason='needs PostgreSQL %d or newer' % min_major.args[0]))
            params.append(pytest.param(major, marks=marks, id='pg%d' % major))
        metafunc.parametrize('major', params, scope='session')


# Seconds one test of a module takes (wall, PostgreSQL 15 and 18, two workers on a loaded 2-core
# machine): only their ratios matter. The scheduler starts the longest groups first, so that no long
# group is left alone on one worker at the end. A module not listed counts DEFAULT_TEST_SECONDS a test.
TEST_SECONDS = {
    'test_role_preflight.py': 82, 'test_rollout_summary.py': 40, 'test_failover_slots.py': 29, 'test_report.py': 27,
    'test_psycopg3.py': 14, 'test_ddl_storm.py': 14, 'test_slot.py': 11, 'test_wal_level.py': 11,
    'test_role_secrets.py': 11,
    'test_role.py': 5, 'test_publication.py': 5, 'test_info.py': 5, 'test_connect_errors.py': 5,
    'test_probe.py': 4, 'test_hardening.py': 3, 'test_readiness.py': 2, 'test_replica_identity.py': 2,
}
DEFAULT_TEST_SECONDS = 5.0
_MAJOR_ID = re.compile(r'\[(?:[^\]]*-)?(pg\d+)(?:-[^\]]*)?\]')


def group_of(nodeid):
    """The scheduling group of a test: its module and its major ('tests/x.py@pg15')."""
    module = nodeid.split('::', 1)[0]
    found = _MAJOR_ID.search(nodeid)
    return module + '@' + found.group(1) if found else module


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: one module of one major stays on one worker, longest groups first.

    xdist's own loadgroup marks a test's group by rewriting its node id, which pytest 9 no
    longer reads: the tests of a major were spread over both workers, and each worker
    started the same servers and module fixtures again. This scheduler groups by node id.
    """
    if config.getvalue('dist') != 'loadgroup':
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleMajorScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid)

        def _assign_work_unit(self, node):
            def weight(scope):
                module = os.path.basename(scope.split('@', 1)[0])
                return len(self.workqueue[scope]) * TEST_SECONDS.get(module, DEFAULT_TEST_SECONDS)
            self.workqueue.move_to_end(max(self.workqueue, key=weight), last=False)
            super()._assign_work_unit(node)

    return ModuleMajorScheduling(config, log)


def pytest_configure(config):
    config.addinivalue_line('markers', 'min_major(n): the test needs PostgreSQL n or newer')
    # A role run (ansible-playbook) costs about 8 s of CPU: tests of the role whose outcome does not
    # depend on the major run on the oldest and the newest selected one, which are on either side of
    # every version gate (module_utils/versions.py); the modules' own tests run on every major.
    config.addinivalue_line('markers', 'oldest_and_newest: run on the oldest and the newest selected major only')
    config.addinivalue_line('markers', "storm: the DDL storm test (deselect with -m 'not storm')")


FIGURES = []


def pytest_runtest_logreport(report):
    """Collect the figures tests record (record_property('figures', ...)); xdist sends them from its workers."""
    if report.when == 'call':
        FIGURES.extend(value for name, value in report.user_properties if name == 'figures')


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section('figures')
        for line in sorted(FIGURES):
            terminalreporter.write_line(line)


class ClusterPool(object):
    """Servers started on demand, by (major, purpose), and stopped when the session ends."""

    def __init__(self):
        self.clusters = {}

    def get(self, major, purpose='main', settings=None):
        key = (major, purpose)
        if key not in self.clusters:
            cluster = pgserver.Cluster(major, name=purpose)
            self.clusters[key] = cluster
            cluster.init(settings).start()
        return self.clusters[key]

    def fresh(self, major, purpose, settings=None):
        """A new server for tests that change server-wide state; replaces an earlier one."""
        old = self.clusters.pop((major, purpose), None)
        if old:
            old.destroy()
        return self.get(major, purpose, settings)

    def close(self):
        for cluster in self.clusters.values():
            cluster.destroy()
        self.clusters.clear()


@pytest.fixture(scope='session')
def pool():
    clusters = ClusterPool()
    yield clusters
    clusters.close()


@pytest.fixture(scope='session')
def pg(pool, major):
    """The shared server of this major, for tests that clean up after themselves."""
    return pool.get(major)
