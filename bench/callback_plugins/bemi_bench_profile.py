# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bemi_bench_profile
type: aggregate
short_description: Write the wall time of each task and host to a JSON lines file, for bench/role.py
description:
  - Benchmark-only callback of bemi.postgresql. For each task result it appends one JSON object
    (task name, action, file and line, host, status, seconds since the task started, loop items)
    to the file named by E(BEMI_BENCH_PROFILE_FILE). ansible.posix.profile_tasks gives the same
    per task, but is not a dependency of this collection.
author:
  - Bemi (@BemiHQ)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bemi_bench_profile'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get('BEMI_BENCH_PROFILE_FILE')
        self._started = time.time()
        self._task_started = self._started

    def _write(self, record):
        if self._path:
            with open(self._path, 'a') as handle:
                handle.write(json.dumps(record, default=str) + '\n')

    def v2_playbook_on_start(self, playbook):
        # Controller start-up (imports, configuration) happened before this callback was loaded.
        self._write({'event': 'playbook_start', 'at': time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self._task_started = time.time()

    def _result(self, status, result):
        task = result._task
        items = result._result.get('results')
        self._write({'event': 'result', 'status': status, 'host': result._host.get_name(), 'task': task.get_name(),
                     'action': task.action, 'path': task.get_path(), 'seconds': time.time() - self._task_started,
                     'items': len(items) if isinstance(items, list) else None, 'at': time.time()})

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_playbook_on_include(self, included_file):
        self._write({'event': 'include', 'path': included_file._filename, 'seconds': time.time() - self._task_started,
                     'hosts': [host.get_name() for host in included_file._hosts], 'at': time.time()})

    def v2_playbook_on_stats(self, stats):
        self._write({'event': 'end', 'at': time.time()})
