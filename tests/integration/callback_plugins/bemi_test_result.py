# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bemi_test_result
type: aggregate
short_description: Write each task's raw result to a JSON lines file, for the test suite
description:
  - Test-only callback of bemi.postgresql. It appends one JSON object per task result,
    as the module returned it (diff included), to the file named by E(BEMI_TEST_RESULT_FILE).
author:
  - Bemi (@BemiHQ)
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bemi_test_result'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        path = os.environ.get('BEMI_TEST_RESULT_FILE')
        if not path:
            return
        record = {'status': status, 'host': result._host.get_name(), 'task': result._task.get_name(),
                  'result': result._result}
        with open(path, 'a') as handle:
            handle.write(json.dumps(record, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._write('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write('failed', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)

    def v2_runner_on_skipped(self, result):
        self._write('skipped', result)
