#!/usr/bin/env python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the nox sessions of the support matrix in parallel and print what happened.

    scripts/matrix.py                 every session of noxfile.py (`make matrix`, part of `make test`)
    scripts/matrix.py smoke-2.21 ...  those sessions
    scripts/matrix.py smoke lint      every session of those kinds
    MATRIX_JOBS=1 scripts/matrix.py   one at a time (default: 2, the machine's cores)
    MATRIX_KEEP_ORDER=1 scripts/matrix.py a b   in the order given (default: longest first)

Each session's output goes to .cache/matrix/logs/<session>.log; a failed
session's tail is printed when it ends, and its first failure again at the
end. The table at the end says passed / skipped (and why) / FAILED for every
session; the exit status is 1 when any session failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, '.cache', 'matrix')
NOX = os.path.join(os.path.dirname(sys.executable), 'nox')
# The first line of a failure: a task that failed on a host (Ansible), or a test that failed (ansible-test).
FIRST_FAILURE = re.compile(r'^(fatal|failed): \[|^ERROR: ')


def all_sessions():
    out = subprocess.run([NOX, '--list-sessions', '--json'], cwd=ROOT, stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return [entry['session'] for entry in json.loads(out)]


def order(sessions):
    """Longest first, so that two workers finish together: sanity, molecule, lint, smoke, units."""
    weight = {'sanity': 0, 'molecule': 1, 'lint': 2, 'smoke': 3, 'units': 4}

    def key(name):
        kind, _sep, core = name.partition('-')
        newest_first = [-int(part) for part in core.split('.') if part.isdigit()]
        return weight.get(kind, 5), newest_first, name
    return sorted(sessions, key=key)


def run_session(name):
    log = log_of(name)
    result = os.path.join(CACHE, 'results', name + '.json')
    if os.path.exists(result):
        os.unlink(result)
    start = time.time()
    with open(log, 'w') as handle:
        with subprocess.Popen([NOX, '--no-color', '-s', name], cwd=ROOT, stdout=handle,
                              stderr=subprocess.STDOUT) as proc:
            # The CPU time of the session and everything it ran: on a busy machine the
            # wall time says more about the neighbours than about the session.
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.time() - start
    cpu = usage.ru_utime + usage.ru_stime
    recorded = {}
    if os.path.exists(result):
        with open(result) as handle:
            recorded = json.load(handle)
    if proc.returncode:
        status, reason = 'FAILED', 'nox exit status %d, see %s' % (proc.returncode, os.path.relpath(log, ROOT))
    elif recorded.get('status') in ('passed', 'skipped'):
        status, reason = recorded['status'], recorded.get('reason', '')
    else:
        # nox exited 0 without the session saying it passed or why it skipped.
        status, reason = 'FAILED', 'no result recorded, see %s' % os.path.relpath(log, ROOT)
    print('%-13s %-8s %5.0f s wall %5.0f s CPU  %s' % (name, status, seconds, cpu, reason), flush=True)
    if status == 'FAILED':
        print(log_tail(log), flush=True)
    return name, status, seconds, cpu, reason


def log_of(session):
    return os.path.join(CACHE, 'logs', session + '.log')


def first_failure(log):
    """The first failure in a session's log and what follows it: the cause, often far from the end."""
    with open(log, errors='replace') as handle:
        lines = handle.readlines()
    first = next((index for index, line in enumerate(lines) if FIRST_FAILURE.match(line)), None)
    return '' if first is None else ''.join(lines[max(first - 2, 0):first + 25])


def log_tail(log, count=40):
    with open(log, errors='replace') as handle:
        return ''.join(handle.readlines()[-count:])


def expand(arg, known):
    """A session name, or a kind without a version (smoke, units, sanity): that kind on every core."""
    if arg in known:
        return [arg]
    return [name for name in known if name.partition('-')[0] == arg] or [arg]


def main(argv):
    os.makedirs(os.path.join(CACHE, 'logs'), exist_ok=True)
    known = all_sessions()
    # A kind without a version (smoke, units, sanity) stands for that kind on every core.
    sessions = [name for arg in argv[1:] for name in expand(arg, known)]
    sessions = sessions or known
    unknown = [name for name in sessions if name not in known]
    if unknown:
        print('unknown session(s): %s; `nox -l` lists them' % ' '.join(unknown), file=sys.stderr)
        return 2
    jobs = int(os.environ.get('MATRIX_JOBS', '2'))
    start = time.time()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        queue = sessions if os.environ.get('MATRIX_KEEP_ORDER') else order(sessions)
        results = dict((name, rest) for name, *rest in pool.map(run_session, queue))
    cpu_total = sum(result[2] for result in results.values())
    print('\nSupport matrix: %d sessions, %d at a time, %.0f s wall time, %.0f s CPU time'
          % (len(sessions), jobs, time.time() - start, cpu_total))
    print('%-13s  %-8s  %6s  %6s  %s' % ('session', 'result', 'wall', 'CPU', 'note'))
    for name in sessions:
        status, seconds, cpu, reason = results[name]
        print('%-13s  %-8s  %5.0fs  %5.0fs  %s' % (name, status, seconds, cpu, reason))
    # For the table at the end of `make test` (scripts/test.py).
    with open(os.path.join(CACHE, 'summary.json'), 'w') as handle:
        json.dump(dict((name, {'status': status, 'wall': round(seconds), 'cpu': round(cpu), 'reason': reason})
                       for name, (status, seconds, cpu, reason) in results.items()), handle, indent=1)
    failed = [name for name in sessions if results[name][0] == 'FAILED']
    if failed:
        for name in failed:
            cause = first_failure(log_of(name))
            if cause:
                print('=== %s: its first failure\n%s' % (name, cause))
        print('FAILED: %s' % ' '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
