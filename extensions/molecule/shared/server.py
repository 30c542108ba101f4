# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL servers for the Molecule scenarios: one per inventory host, each with
its own port, data directory and socket directory (so restarting one never touches
another), built on scripts/pgserver.py.

    python server.py create BASE MAJOR PORT [NAME=VALUE ...]    initdb + start (settings go to postgresql.conf)
    python server.py standby BASE MAJOR PORT PRIMARY_BASE [SLOT]    pg_basebackup -R (-C -S SLOT) + start
    python server.py sql BASE PORT DB FILE    run an SQL file (psql, as postgres)
    python server.py stop BASE | start BASE | destroy BASE
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import pgserver  # noqa: E402  pylint: disable=wrong-import-position


def cluster(base, major=None, port=None):
    if major is None:
        with open(os.path.join(base, 'major')) as handle:
            major, port = (int(word) for word in handle.read().split())
    return pgserver.Cluster(int(major), base_dir=base, port=int(port))


def fresh_base(base, major, port):
    destroy(base)
    os.makedirs(base)
    os.chmod(os.path.dirname(base), 0o755)
    with open(os.path.join(base, 'major'), 'w') as handle:
        handle.write('%s %s\n' % (major, port))


def destroy(base):
    if os.path.exists(os.path.join(base, 'major')):
        cluster(base).stop()
    shutil.rmtree(base, ignore_errors=True)


def main(argv):
    command, base = argv[1], os.path.abspath(argv[2])
    if command == 'create':
        major, port, settings = argv[3], argv[4], argv[5:]
        fresh_base(base, major, port)
        server = cluster(base, major, port)
        server.init(dict(item.split('=', 1) for item in settings)).start()
    elif command == 'standby':
        major, port, primary_base = argv[3:6]
        slot = argv[6] if len(argv) > 6 else None
        fresh_base(base, major, port)
        server = cluster(base, major, port)
        server.init_standby(cluster(os.path.abspath(primary_base)), slot).start()
    elif command == 'sql':
        port, dbname, path = argv[3], argv[4], argv[5]
        # -f (not stdin), so that \ir in the file includes relative to the file.
        subprocess.run(pgserver.as_server_user(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', base,
                                                '-p', port, '-U', 'postgres', '-d', dbname,
                                                '-f', os.path.abspath(path)]), check=True)
    elif command == 'stop':
        cluster(base).stop()
    elif command == 'start':
        cluster(base).start()
    elif command == 'destroy':
        destroy(base)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
