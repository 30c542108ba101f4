#!/usr/bin/env bash
# Benchmarks (not part of `make test`): starts its own PostgreSQL server and prints a
# Markdown report of bemi_replica_identity against the manual way. See docs/benchmarks.md.
#   BENCH_MAJOR=16 BENCH_SIZES=0,1000,10000 BENCH_LOOP=200 bench/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
exec "$python" "$root/bench/bench_replica_identity.py" "$@"
