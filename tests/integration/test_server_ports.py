# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The test servers' ports stay where no other program on this machine takes them.

A client socket on 127.0.0.1, even one in TIME_WAIT, holds its ephemeral port, and a server
started on that port then fails to bind. With the integration tests' connections running beside
Molecule in `make test`, a server port inside the ephemeral range fails a run now and then.
"""

from __future__ import annotations

import glob
import os
import re
import socket

import pytest
import yaml

import pgserver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORIES = sorted(glob.glob(os.path.join(ROOT, 'extensions', 'molecule', '*', 'inventory', '*.yml')))
# The Patroni scenario counts its ports up from one: etcd 2, PostgreSQL 3, REST API 3.
PATRONI_PORTS = 8
EPHEMERAL_RANGE = '/proc/sys/net/ipv4/ip_local_port_range'


def fixed_ports(node):
    """Every pg_port of an inventory, and the ports counted from patroni_first_port's default."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'pg_port' and isinstance(value, int):
                yield value
            elif key == 'patroni_first_port':
                first = int(re.search(r"default\('(\d+)'", value).group(1))
                yield from range(first, first + PATRONI_PORTS)
            else:
                yield from fixed_ports(value)


def scenario_ports():
    ports = {}
    for path in INVENTORIES:
        with open(path) as handle:
            ports[os.path.relpath(path, ROOT)] = sorted(fixed_ports(yaml.safe_load(handle)))
    return ports


def test_every_fixed_port_is_a_molecule_port():
    ports = scenario_ports()
    assert sum(len(found) for found in ports.values()) >= 20, ports
    outside = {path: [port for port in found if port not in pgserver.MOLECULE_PORTS] for path, found in ports.items()}
    assert {path: found for path, found in outside.items() if found} == {}


@pytest.mark.parametrize('ports', ['MOLECULE_PORTS', 'FREE_PORTS'])
def test_server_ports_are_outside_the_ephemeral_range(ports):
    if not os.path.exists(EPHEMERAL_RANGE):
        pytest.skip('no %s: not Linux' % EPHEMERAL_RANGE)
    with open(EPHEMERAL_RANGE) as handle:
        low, high = (int(word) for word in handle.read().split())
    ports = getattr(pgserver, ports)
    assert ports.stop <= low or ports.start > high, (ports, low, high)


def test_free_ports_are_not_molecule_ports():
    assert not set(pgserver.FREE_PORTS) & set(pgserver.MOLECULE_PORTS)


@pytest.mark.oldest_and_newest
def test_a_picked_port_taken_before_the_start_moves(major, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with monkeypatch.context() as patch:
            patch.setattr(pgserver, 'free_port', lambda: port)
            cluster = pgserver.Cluster(major, name='ports').init()
        try:
            cluster.start()
            assert cluster.port != port and cluster.port in pgserver.FREE_PORTS
            conn = cluster.connect()
            try:
                with conn.cursor() as cur:
                    cur.execute('SHOW port')
                    assert cur.fetchone() == (str(cluster.port),)
            finally:
                conn.close()
        finally:
            cluster.destroy()
        given = pgserver.Cluster(major, name='ports', port=port).init()
        try:
            with pytest.raises(RuntimeError, match='did not start on port %d(.|\n)*could not bind' % port):
                given.start()
        finally:
            given.destroy()
