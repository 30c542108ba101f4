# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The support matrix: every ansible-core minor the collection claims, tested.

    nox -l                      the sessions
    nox -s sanity-2.16          one session
    scripts/matrix.py           all of them, two at a time, with a summary table (`make matrix`)

Plain nox rather than antsibull-nox: antsibull-nox installs ansible-core for its
ansible-test sessions from GitHub branch archives (or, optionally, unpinned from
PyPI), runs sanity in venvs that ansible-test bootstraps from a host this CI
cannot reach, and knows neither pyenv nor our PostgreSQL servers. Here every tool
comes from PyPI by the pinned versions in tests/matrix/*.txt.

Pythons come from pyenv (`pyenv root`/versions/X.Y.*, or $PYENV_ROOT). A session
whose Python is missing SKIPS and says which Python and where it looked. Venvs
are cached under .cache/matrix/venvs and rebuilt when their requirements change.

docs/compatibility.md is generated from the tables below (scripts/compatibility.py).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(ROOT, '.cache', 'matrix')
REQUIREMENTS = os.path.join(ROOT, 'tests', 'matrix')

nox.options.default_venv_backend = 'none'
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

# ansible-core minor -> (pinned release, controller Python). Each controller
# Python is one that this ansible-core supports as a controller (its ansible-test
# CONTROLLER_PYTHON_VERSIONS); together they cover 3.10 to 3.13.
CORES = {
    '2.16': ('2.16.19', '3.10'),
    '2.17': ('2.17.14', '3.12'),
    '2.18': ('2.18.19', '3.11'),
    '2.19': ('2.19.14', '3.13'),
    '2.20': ('2.20.10', '3.12'),
    '2.21': ('2.21.5', '3.13'),
}
NEWEST = '2.21'

# Managed-host Pythons the module smoke runs use (ansible_python_interpreter),
# each in a venv with one database driver. ansible-core 2.16 and 2.17 support
# targets up to Python 3.12, so their psycopg 3 host is 3.12.
HOSTS = {
    'py3.9-psycopg2': ('3.9', 'psycopg2', 'host-psycopg2.txt'),
    'py3.12-psycopg3': ('3.12', 'psycopg 3', 'host-psycopg3.txt'),
    'py3.13-psycopg3': ('3.13', 'psycopg 3', 'host-psycopg3.txt'),
}
SMOKE_HOSTS = {
    '2.16': ('py3.9-psycopg2', 'py3.12-psycopg3'),
    '2.17': ('py3.9-psycopg2', 'py3.12-psycopg3'),
    '2.18': ('py3.9-psycopg2', 'py3.13-psycopg3'),
    '2.19': ('py3.9-psycopg2', 'py3.13-psycopg3'),
    '2.20': ('py3.9-psycopg2', 'py3.13-psycopg3'),
    '2.21': ('py3.9-psycopg2', 'py3.13-psycopg3'),
}
SMOKE_PG_MAJORS = (15, 18)
# The smoke session also runs the role (bemi.postgresql.rollout with the role's defaults) on
# one server of this major, with the session's first managed-host Python: a dry run, the
# rollout, and a second rollout that must change nothing. One server keeps it cheap; the
# role's code on the controller (templating, filters) is what differs between cores.
ROLE_PG_MAJOR = 18

# Sanity tests a core skips. The newest core runs them all, and `make sanity` runs
# all of 2.19's on Python 3.11 (but for SANITY_LINTERS under `make test`, which runs
# the newest core's: scripts/test.py). The older cores skip the tests that check style or
# files with linters whose versions do not follow the core (pylint, pep8, yamllint,
# changelog): the newest core's run covers them, and each builds a venv of its own,
# which on two cores costs minutes per core. What the older cores still run is what
# differs between cores: validate-modules (docs against argument specs), ansible-doc,
# import and compile on that core's Python, runtime-metadata (meta/runtime.yml
# against that core's schema), and the code-smell tests. 2.16 also has the Python 2
# boilerplate tests (future-import-, metaclass-boilerplate), removed in 2.17; this
# collection supports Python 3.9+ only, so they do not apply.
SANITY_LINTERS = ('pylint', 'pep8', 'yamllint', 'changelog')
SANITY_SKIP = {
    '2.16': SANITY_LINTERS + ('future-import-boilerplate', 'metaclass-boilerplate'),
    '2.17': SANITY_LINTERS,
    '2.18': SANITY_LINTERS,
    '2.19': SANITY_LINTERS,
    '2.20': SANITY_LINTERS,
}


# -- finding Pythons ----------------------------------------------------------
def pyenv_root():
    if os.environ.get('PYENV_ROOT'):
        return os.environ['PYENV_ROOT']
    try:
        return subprocess.run(['pyenv', 'root'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.path.expanduser('~/.pyenv')


def find_python(version):
    """The newest pyenv Python X.Y.*, or None."""
    found = []
    for path in glob.glob(os.path.join(pyenv_root(), 'versions', version + '.*', 'bin', 'python' + version)):
        patch = os.path.basename(os.path.dirname(os.path.dirname(path))).split('.')[2]
        if patch.isdigit():
            found.append((int(patch), path))
    return max(found)[1] if found else None


def require_python(session, version, purpose):
    python = find_python(version)
    if python is None:
        skip(session, 'Python %s (%s) is not installed under %s/versions' % (version, purpose, pyenv_root()))
    return python


def skip(session, reason):
    """Skip, and leave the reason where scripts/matrix.py prints it."""
    write_result(session.name, 'skipped', reason)
    session.skip(reason)


def write_result(name, status, reason=''):
    os.makedirs(os.path.join(CACHE, 'results'), exist_ok=True)
    with open(os.path.join(CACHE, 'results', name + '.json'), 'w') as handle:
        json.dump({'status': status, 'reason': reason}, handle)


# -- venvs -------------------------------------------------------------------
def venv(session, name, python, requirements):
    """A venv of ``python`` with ``requirements`` installed; rebuilt when either changes."""
    path = os.path.join(CACHE, 'venvs', name)
    with open(os.path.join(REQUIREMENTS, requirements), 'rb') as handle:
        stamp = hashlib.sha256(handle.read() + python.encode()).hexdigest()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Sessions of one core share a venv and may start at the same time.
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = os.path.join(path, '.requirements-sha256')
        if not (os.path.exists(stamp_file) and open(stamp_file).read() == stamp):
            shutil.rmtree(path, ignore_errors=True)
            session.run(python, '-m', 'venv', path, external=True)
            session.run(os.path.join(path, 'bin', 'python'), '-m', 'pip', 'install', '--quiet',
                        '--disable-pip-version-check', '-r', os.path.join(REQUIREMENTS, requirements),
                        external=True)
            with open(stamp_file, 'w') as handle:
                handle.write(stamp)
    return os.path.join(path, 'bin')


def core_venv(session, core):
    release, controller = CORES[core]
    python = require_python(session, controller, 'controller for ansible-core %s' % core)
    return venv(session, 'core-%s-py%s' % (core, controller), python, 'core-%s.txt' % core), controller


def collection_copy(session):
    """ansible-test needs the collection as real files under .../ansible_collections/bemi/postgresql."""
    copy = os.path.join(CACHE, 'work', session.name, 'ansible_collections', 'bemi', 'postgresql')
    session.run(os.path.join(ROOT, 'scripts', 'copy-collection.sh'), copy, external=True, silent=True)
    return copy


def ansible_test(session, core, command, *args):
    bindir, controller = core_venv(session, core)
    copy = collection_copy(session)
    env = {'HOME': os.path.join(CACHE, 'home'), 'PATH': bindir + os.pathsep + os.environ['PATH']}
    session.run(os.path.join(ROOT, 'scripts', 'offline-get-pip.sh'), os.path.join(bindir, 'python'),
                external=True, env=env)
    session.chdir(copy)
    session.run(os.path.join(bindir, 'ansible-test'), command, '--local', '--python', controller,
                '--color', 'no', *args, external=True, env=env)
    session.chdir(ROOT)
    write_result(session.name, 'passed')


# -- sessions ----------------------------------------------------------------
def sanity_session(core):
    def sanity(session):
        tests = []
        for test in SANITY_SKIP.get(core, ()):
            tests += ['--skip-test', test]
        ansible_test(session, core, 'sanity', *tests)
    sanity.__doc__ = 'ansible-test sanity with ansible-core %s on Python %s' % (core, CORES[core][1])
    return sanity


def units_session(core):
    def units(session):
        ansible_test(session, core, 'units')
    units.__doc__ = 'ansible-test units with ansible-core %s on Python %s' % (core, CORES[core][1])
    return units


def smoke_session(core):
    def smoke(session):
        bindir, controller = core_venv(session, core)
        hosts = []
        for host in SMOKE_HOSTS[core]:
            version, _driver, requirements = HOSTS[host]
            python = require_python(session, version, 'managed host %s' % host)
            hosts.append('%s=%s' % (host, os.path.join(venv(session, 'host-' + host, python, requirements), 'python')))
        majors = ','.join(str(major) for major in SMOKE_PG_MAJORS)
        session.run(os.path.join(bindir, 'python'), os.path.join(ROOT, 'tests', 'matrix', 'smoke.py'),
                    '--pg', majors, '--role-pg', str(ROLE_PG_MAJOR), *hosts, external=True)
        write_result(session.name, 'passed')
    smoke.__doc__ = ('every module in check mode and for real, plus bemi_info, with ansible-core %s, on PostgreSQL %s;'
                     ' the role (dry run, rollout, second rollout) on PostgreSQL %d'
                     % (core, ' and '.join(map(str, SMOKE_PG_MAJORS)), ROLE_PG_MAJOR))
    return smoke


def tools_venv(session):
    controller = CORES[NEWEST][1]
    python = require_python(session, controller, 'controller for ansible-core %s' % NEWEST)
    return venv(session, 'tools-%s-py%s' % (NEWEST, controller), python, 'tools-%s.txt' % NEWEST)


def run_without_deprecations(session, argv, env):
    """Run ``argv``; fail when the newest ansible-core prints a deprecation warning."""
    env = dict(env, ANSIBLE_DEPRECATION_WARNINGS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    output = session.run(*argv, external=True, env=env, silent=True) or ''
    print(output)
    found = [line for line in output.splitlines() if 'DEPRECATION' in line]
    if found:
        session.error('deprecation warnings:\n' + '\n'.join(found))


def lint(session):
    bindir = tools_venv(session)
    collections = os.path.join(ROOT, '.cache', 'collections')
    env = {'ANSIBLE_COLLECTIONS_PATH': collections, 'PATH': bindir + os.pathsep + os.environ['PATH'],
           'ANSIBLE_HOME': os.path.join(CACHE, 'ansible-home')}
    session.run(os.path.join(ROOT, 'scripts', 'link-collection.sh'), external=True, env=env)
    run_without_deprecations(session, [os.path.join(bindir, 'ansible-lint'), '--profile', 'production',
                                       '--offline'], env)
    write_result(session.name, 'passed')


def molecule(session):
    bindir = tools_venv(session)
    # molecule.sh waits for another run of the scenario (same ports) on this machine to end.
    run_without_deprecations(session, [os.path.join(ROOT, 'scripts', 'molecule.sh'), 'default'],
                             {'BEMI_TOOLS_BIN': bindir, 'MOLECULE_LOGS': os.path.join(CACHE, 'molecule-logs')})
    write_result(session.name, 'passed')


lint.__doc__ = 'ansible-lint --profile production with ansible-core %s on Python %s' % (NEWEST, CORES[NEWEST][1])
molecule.__doc__ = 'Molecule scenario default with ansible-core %s on Python %s' % (NEWEST, CORES[NEWEST][1])
nox.session(name='lint-' + NEWEST)(lint)
nox.session(name='molecule-' + NEWEST)(molecule)

for _core in CORES:
    nox.session(name='sanity-' + _core)(sanity_session(_core))
    nox.session(name='units-' + _core)(units_session(_core))
    nox.session(name='smoke-' + _core)(smoke_session(_core))
