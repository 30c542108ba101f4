#!/usr/bin/env bash
# Benchmarks (not part of `make test`): starts its own PostgreSQL server and prints a
# Markdown report of bemi_replica_identity against the manual way. See docs/benchmarks.md.
#   BENCH_MAJOR=16 BENCH_SIZES=0,1000,10000 BENCH_LOOP=200 bench/run.sh
# For the playbook-loop baseline with community.postgresql.postgresql_query, that collection
# is taken from the `ansible` package on PyPI (it is not a dependency of this collection);
# without it, only the psql loop is measured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
community=${BENCH_COMMUNITY_COLLECTIONS:-$root/.cache/bench/collections}
if [ ! -d "$community/ansible_collections/community/postgresql" ] && [ "${BENCH_FETCH_COMMUNITY:-1}" = 1 ]; then
  wheels=$root/.cache/bench/wheels
  mkdir -p "$wheels"
  if "$python" -m pip download --quiet --no-deps "ansible==${BENCH_ANSIBLE_VERSION:-12.3.0}" -d "$wheels"; then
    "$python" - "$wheels" "$community" <<'PY'
import glob, sys, zipfile
wheel = sorted(glob.glob(sys.argv[1] + '/ansible-*.whl'))[-1]
with zipfile.ZipFile(wheel) as archive:
    archive.extractall(sys.argv[2], [n for n in archive.namelist() if n.startswith('ansible_collections/community/postgresql/')])
PY
  else
    echo "community.postgresql not available: measuring the psql loop only" >&2
  fi
fi
export BENCH_COMMUNITY_COLLECTIONS=$community
exec "$python" "$root/bench/bench_replica_identity.py" "$@"
