#!/usr/bin/env bash
# Build the collection tarball, install it into an empty collections path, and
# run a module from the installed copy (not from this work tree) against a
# throwaway server: what a user with only the tarball gets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.venv/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
"$bin/ansible-galaxy" collection build --force --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/bemi-postgresql-*.tar.gz)
echo "built $(basename "$tarball")"
"$bin/ansible-galaxy" collection install --offline -p "$work/collections" "$tarball" >/dev/null
test -f "$work/collections/ansible_collections/bemi/postgresql/plugins/modules/bemi_wal_level.py"
# Only what users run: no tests, build output, caches, benchmarks, Molecule scenarios or dev scripts.
listing=$(tar -tzf "$tarball" | sed 's|^\./||')
unwanted=$(echo "$listing" \
  | grep -E '^(tests|dist|\.cache|\.venv|bench|extensions|scripts)(/|$)|(^|/)__pycache__/|^(Makefile|noxfile\.py|requirements-(dev|demo|psycopg3|patroni)\.txt)$' || true)
if [ -n "$unwanted" ]; then
  echo "the tarball contains files users do not run:" >&2
  echo "$unwanted" | head -20 >&2
  exit 1
fi
for wanted in roles/tracking/vars/Debian.yml roles/tracking/vars/RedHat.yml playbooks/rollout.yml docs/hosts.md; do
  grep -qx "$wanted" <<<"$listing" || { echo "the tarball lacks $wanted" >&2; exit 1; }
done
ANSIBLE_COLLECTIONS_PATH=$work/collections "$bin/ansible-doc" bemi.postgresql.bemi_wal_level >/dev/null
"$bin/python" - "$work" <<'PY'
import json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.getcwd(), 'scripts'))
import pgserver
work = sys.argv[1]
cluster = pgserver.Cluster(15 if pgserver.debian_bindir(15) else 18, name='build').init().start()
try:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_STDOUT_CALLBACK='oneline')
    args = dict(cluster.connection_args())
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-m',
                           'bemi.postgresql.bemi_wal_level', '-a', json.dumps(args), '--check'],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    print(proc.stdout.strip())
    if proc.returncode != 0 or '"restart_required": true' not in proc.stdout:
        sys.exit('the installed collection did not run')
finally:
    cluster.destroy()
print('installed tarball ran bemi_wal_level')
PY
