# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """A warning of the play, returned as the task's ``warnings``: Ansible shows it as a warning and
    a callback (or a register) can read it, where a debug line is easy to miss across a fleet."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('msg',))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        msg = self._task.args.get('msg')
        if not isinstance(msg, str) or not msg.strip():
            result.update(failed=True, msg='bemi_warn needs msg, the warning to give (a non-empty string).')
            return result
        text = ' '.join(msg.split())
        result.update(changed=False, msg=text, warnings=[text])
        return result
