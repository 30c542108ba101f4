"""Real PostgreSQL servers for the integration tests, one set per major.

PG_VERSIONS=15,18 narrows the matrix (default: all six). Tests of one major stay
on one xdist worker (``--dist loadgroup``), so a major's servers are started once
per worker and always stopped at the end, whatever the outcome.
"""

from __future__ import annotations

import os
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
        for major in selected_majors():
            marks = [pytest.mark.xdist_group('pg%d' % major)]
            min_major = metafunc.definition.get_closest_marker('min_major')
            if min_major and major < min_major.args[0]:
                marks.append(pytest.mark.skip(reason='needs PostgreSQL %d or newer' % min_major.args[0]))
            params.append(pytest.param(major, marks=marks, id='pg%d' % major))
        metafunc.parametrize('major', params, scope='session')


def pytest_configure(config):
    config.addinivalue_line('markers', 'min_major(n): the test needs PostgreSQL n or newer')
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
