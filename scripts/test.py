#!/usr/bin/env python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make test`: every stage, then a table of what each ran and how long it took.

    scripts/test.py                    every stage (what `make test` runs)
    scripts/test.py lint units         those stages only

Each stage is `make <stage>`; its output goes to .cache/test-logs/<stage>.log and to stdout.
The stages run in two tracks side by side (PLAN): Molecule's scenarios mostly wait (restarts,
replication, Patroni's loop) and the support matrix mostly installs venvs, so they run beside
the stages that keep the two cores busy.
The first track's output streams; a stage of the other track is printed in one piece when it
ends, so outputs never interleave. Every stage runs even when an earlier one failed, so one CI
run shows every failure. The end of the log repeats each failed stage's last lines, the
slowest tests, and the table of wall times and counts (tests passed and skipped, Molecule
runs, matrix sessions), so that what was slow or dropped shows without a rerun. The exit
status is 1 when any stage failed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(ROOT, '.cache', 'test-logs')

# Tracks run side by side; the stages of a track one after the other.
# Molecule's scenarios mostly wait, and the matrix mostly installs venvs (from empty caches,
# 14 minutes of wall time for 12.5 minutes of CPU time, 6 of two cores): they share a track,
# and the CPU-bound stages run beside them.
PLAN = [
    ['lint', 'docs-lint', 'sanity', 'units', 'integration', 'build-check', 'ee-check'],
    ['molecule', 'matrix'],
]
STAGES = ['lint', 'docs-lint', 'sanity', 'units', 'integration', 'molecule', 'matrix', 'build-check', 'ee-check']
assert sorted(STAGES) == sorted(stage for track in PLAN for stage in track)
PRINT = threading.Lock()


def make_args(name, wanted):
    """Extra `make` arguments of a stage, for what another stage of the same run does already.

    The sanity linters (pylint, pep8, yamllint, changelog) read the same files on every core;
    the matrix's newest core runs them all (noxfile.py), so `make sanity` (ansible-core 2.19)
    leaves them out when the matrix runs too: 50 s of CPU. Alone, `make sanity` runs them.
    """
    if name == 'sanity' and 'matrix' in wanted:
        spec = importlib.util.spec_from_file_location('noxfile', os.path.join(ROOT, 'noxfile.py'))
        matrix = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(matrix)
        linters = [test for test in matrix.SANITY_LINTERS if test not in matrix.SANITY_SKIP.get(matrix.NEWEST, ())]
        return ['SANITY_SKIP=' + ' '.join(linters)] if linters else []
    return []


class Stage(object):
    def __init__(self, name, args=()):
        self.name = name
        self.args = list(args)
        self.log = os.path.join(LOGS, name + '.log')
        self.status = 'not run'
        self.seconds = 0.0
        self.cpu = 0.0

    def run(self, live):
        """`make <stage>`; streams its output when ``live``, else prints it when it ends."""
        start = time.time()
        with open(self.log, 'w') as log:
            proc = subprocess.Popen(['make', '--no-print-directory', self.name] + self.args, cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    universal_newlines=True, errors='replace')
            for line in proc.stdout:
                log.write(line)
                if live:
                    with PRINT:
                        sys.stdout.write(line)
                        sys.stdout.flush()
            # CPU time of the stage and all it ran: on a shared machine wall time alone misleads.
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        self.seconds = time.time() - start
        self.cpu = usage.ru_utime + usage.ru_stime
        self.status = 'FAILED' if proc.returncode else 'passed'
        with PRINT:
            if not live:
                print('=== make %s (ran beside other stages), its output:' % self.name)
                with open(self.log, errors='replace') as handle:
                    sys.stdout.write(handle.read())
            print('=== make %s: %s in %.0f s' % (self.name, self.status, self.seconds), flush=True)

    def text(self):
        try:
            with open(self.log, errors='replace') as handle:
                return handle.read()
        except OSError:
            return ''


# -- counts, read back from each stage's output ---------------------------------------
def pytest_counts(text):
    """'454 passed, 38 skipped': the pytest summary lines of a stage, added up (units runs pytest twice)."""
    total = {}
    for line in re.findall(r'^=+ ((?:\d+ \w+(?:, )?)+) in [\d.]+s', text, re.M):
        for number, word in re.findall(r'(\d+) (\w+)', line):
            total[word] = total.get(word, 0) + int(number)
    order = ['passed', 'skipped', 'deselected', 'xfailed', 'xpassed', 'failed', 'errors', 'error']
    return ', '.join('%d %s' % (total[word], word) for word in sorted(total, key=lambda w: (w not in order, order.index(w) if w in order else 0, w)))


def durations(text):
    """The 'slowest N durations' section of a pytest run."""
    match = re.search(r'^=+ slowest \d+ durations =+\n(.*?)(?=^=+ )', text, re.M | re.S)
    return match.group(0).rstrip() if match else ''


def molecule_runs():
    path = os.path.join(ROOT, '.cache', 'molecule-logs', 'results.tsv')
    runs = []
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                name, status, seconds = line.split()
                runs.append((name, status, int(seconds)))
    return runs


def matrix_sessions():
    path = os.path.join(ROOT, '.cache', 'matrix', 'summary.json')
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    return {}


def counts(stage, text):
    if stage.name in ('integration', 'units'):
        return pytest_counts(text)
    if stage.name == 'sanity':
        tests = len(re.findall(r'^Running sanity test [\'"]', text, re.M))
        left = ' '.join(arg.partition('=')[2] for arg in stage.args if arg.startswith('SANITY_SKIP='))
        return ('%d sanity tests' % tests + (' (%s: in the matrix\'s newest core)' % left if left else '')) if tests else ''
    if stage.name == 'molecule':
        # molecule.sh says how many runs it planned; a run after a failure in its lane never starts.
        planned = re.search(r'^molecule: (\d+) run', text, re.M)
        runs = molecule_runs()
        passed = sum(1 for run in runs if run[1] == 'passed')
        return '%d of %s runs passed' % (passed, planned.group(1) if planned else len(runs))
    if stage.name == 'matrix':
        sessions = matrix_sessions()
        by_status = {}
        for result in sessions.values():
            by_status[result['status']] = by_status.get(result['status'], 0) + 1
        return '%d sessions: %s' % (len(sessions), ', '.join('%d %s' % (n, s) for s, n in sorted(by_status.items())))
    return ''


def report(stages, wall):
    ran = [stage for stage in stages if stage.status != 'not run']
    for stage in ran:
        if stage.status == 'FAILED':
            lines = stage.text().splitlines()
            print('\n=== make %s FAILED; its last lines (whole output: %s):' % (stage.name, os.path.relpath(stage.log, ROOT)))
            print('\n'.join(lines[-60:]))
    for stage in ran:
        if stage.name in ('integration', 'units'):
            section = durations(stage.text())
            if section:
                print('\n=== %s: %s' % (stage.name, section))
    print('\nmake test: %d stages, %.0f s (%.1f min) wall time on %d cores; load average now %s'
          % (len(ran), wall, wall / 60, os.cpu_count(), ' '.join('%.1f' % x for x in os.getloadavg())))
    print('%-22s %-8s %7s %7s  %s' % ('stage', 'result', 'wall', 'CPU', 'counts'))
    for stage in stages:
        print('%-22s %-8s %6.0fs %6.0fs  %s' % (stage.name, stage.status, stage.seconds, stage.cpu,
                                                counts(stage, stage.text()) if stage.status != 'not run' else ''))
        if stage.name == 'molecule' and stage.status != 'not run':
            for name, status, seconds in molecule_runs():
                print('  %-20s %-8s %6ds' % (name, status, seconds))
        if stage.name == 'matrix' and stage.status != 'not run':
            for name, result in sorted(matrix_sessions().items()):
                print('  %-20s %-8s %6.0fs %6.0fs  %s'
                      % (name, result['status'], result['wall'], result['cpu'], result.get('reason', '')))


def run_track(stages, live):
    for stage in stages:
        stage.run(live)


def main(argv):
    wanted = argv[1:] or STAGES
    unknown = [name for name in wanted if name not in STAGES]
    if unknown:
        print('unknown stage(s): %s; stages: %s' % (' '.join(unknown), ' '.join(STAGES)), file=sys.stderr)
        return 2
    os.makedirs(LOGS, exist_ok=True)
    stages = [Stage(name, make_args(name, wanted)) for name in STAGES if name in wanted]
    by_name = dict((stage.name, stage) for stage in stages)
    # A stage's earlier results must not be read back as this run's.
    for path in (os.path.join(ROOT, '.cache', 'molecule-logs', 'results.tsv'),
                 os.path.join(ROOT, '.cache', 'matrix', 'summary.json')):
        if os.path.exists(path):
            os.unlink(path)
    start = time.time()
    tracks = [[by_name[name] for name in track if name in by_name] for track in PLAN]
    tracks = [track for track in tracks if track]
    threads = [threading.Thread(target=run_track, args=(track, index == 0)) for index, track in enumerate(tracks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report(stages, time.time() - start)
    failed = [stage.name for stage in stages if stage.status == 'FAILED']
    print('make test: %s' % ('FAILED: ' + ' '.join(failed) if failed else 'all passed'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
