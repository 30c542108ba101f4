"""bemi.postgresql.rollout over a small fleet with one host that fails: the run stops at that batch,
exits non-zero, and the rollout_summary callback names the hosts done, failed, stopped and not reached.

Every inventory host is this machine (``ansible_connection=local``) and logs in to one fresh server;
the host that fails names a database that does not exist, so the role refuses before its first
change; one host is a port with no SSH server behind it, so it is unreachable at once.
The summary is the controller's: it runs on the oldest and the newest selected major only.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from ansible_run import run_playbook
from test_role_preflight import role_vars

pytestmark = pytest.mark.oldest_and_newest


@pytest.fixture
def server(pool, major):
    cluster = pool.fresh(major, 'rollout')
    cluster.query('CREATE DATABASE shop')
    cluster.query('CREATE TABLE public.orders (id int PRIMARY KEY, total int)', dbname='shop')
    yield cluster
    pool.clusters.pop((major, 'rollout')).destroy()


def write_inventory(cluster, hosts):
    """``hosts``: (name, extra vars) in batch order."""
    common = role_vars(cluster, ansible_connection='local', ansible_python_interpreter=sys.executable)
    inventory = {'all': {'children': {'fleet': {'hosts': dict(hosts), 'vars': common}}}}
    path = os.path.join(cluster.base_dir, 'rollout-inventory.json')
    with open(path, 'w') as handle:
        json.dump(inventory, handle)
    return path


def rollout(cluster, hosts, serial):
    summary_file = os.path.join(cluster.base_dir, 'rollout-summary.json')
    if os.path.exists(summary_file):
        os.unlink(summary_file)
    proc = run_playbook('bemi.postgresql.rollout', inventory=write_inventory(cluster, hosts),
                        extra_args=['-e', 'bemi_rollout_hosts=fleet', '-e', 'bemi_serial=%d' % serial],
                        env={'ANSIBLE_CALLBACKS_ENABLED': 'bemi.postgresql.rollout_summary',
                             'BEMI_ROLLOUT_SUMMARY': summary_file})
    assert os.path.exists(summary_file), proc.stdout
    with open(summary_file) as handle:
        return proc, json.load(handle)


def test_a_failed_batch_stops_the_rollout_and_the_summary_says_where(server):
    hosts = [
        # Done, with its wal_level restart held back.
        ('done1', {'bemi_allow_restart': False}),
        # A misspelled database: refused in the primaries phase, before any change.
        ('broken', {'bemi_databases': [{'name': 'shpo'}]}),
        ('later', {}),
    ]
    proc, summary = rollout(server, hosts, serial=1)
    assert proc.returncode != 0, proc.stdout
    assert (summary['done'], summary['failed'], summary['not_reached']) == (['done1'], ['broken'], ['later']), proc.stdout
    assert summary['stopped'] == [] and summary['unreachable'] == []
    assert summary['hosts']['done1']['changed'] is True
    assert summary['restart_pending_not_allowed'] == ['done1']
    assert 'bemi_databases' in summary['hosts']['broken']['reason']
    # The primaries phase never reached "later": the rollout stopped after broken's batch.
    text = proc.stdout[proc.stdout.index('BEMI ROLLOUT SUMMARY'):]
    assert 'NOT REACHED' in text and '  later' in text and '  broken: [' in text, text
    # What the recap alone shows: "later" ran the standbys phase (it is a primary, so that ended at once), failed=0.
    recap = proc.stdout[proc.stdout.index('PLAY RECAP'):proc.stdout.index('BEMI ROLLOUT SUMMARY')]
    assert re.search(r'later +: ok=\d+ +changed=0 +unreachable=0 +failed=0', recap), recap
    print(proc.stdout)
    print(json.dumps(summary, indent=2, sort_keys=True))


def test_an_unreachable_host_stops_the_rollout(server):
    hosts = [
        ('gone', {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 1}),
        ('cut', {}),
        ('later', {}),
    ]
    proc, summary = rollout(server, hosts, serial=2)
    assert proc.returncode != 0, proc.stdout
    # Before the reach check, ansible-core went on past the unreachable host to the next batch and phase.
    assert (summary['unreachable'], summary['stopped'], summary['not_reached']) == (['gone'], ['cut'], ['later']), \
        proc.stdout
    assert summary['done'] == [] and summary['failed'] == []
    assert 'Connection refused' in summary['hosts']['gone']['reason']
    assert server.scalar('SHOW wal_level') != 'logical'
    assert server.query("SELECT 1 FROM pg_roles WHERE rolname = 'bemi'") == []
