# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible.playbook.task import Task

from ansible_collections.bemi.postgresql.plugins.action.bemi_warn import ActionModule


def run(args):
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = False
    action = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def test_the_message_is_a_warning_of_the_result():
    result = run({'msg': 'PostgreSQL on db1 must be\n  RESTARTED.'})
    assert result['warnings'] == ['PostgreSQL on db1 must be RESTARTED.']
    assert result['msg'] == 'PostgreSQL on db1 must be RESTARTED.'
    assert not result.get('changed') and not result.get('failed')


@pytest.mark.parametrize('args', [{}, {'msg': ''}, {'msg': '  '}, {'msg': ['a']}])
def test_no_message_is_a_clear_failure(args):
    result = run(args)
    assert result['failed'] and 'bemi_warn needs msg' in result['msg']
    assert 'warnings' not in result
