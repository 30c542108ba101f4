# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_summary
type: aggregate
short_description: End a bemi.postgresql.rollout run with the hosts done, failed and not reached
version_added: 0.2.0
description:
  - After the play recap of C(bemi.postgresql.rollout), lists every host of the rollout under one of
    C(done) (changed or unchanged), C(failed) (with the failing task and its reason), C(unreachable),
    C(stopped) (its batch was cut short when another host of the batch failed; part of its changes may be
    applied) and C(not reached) (the rollout stopped before its batch). Hosts with a restart pending that
    C(bemi_allow_restart=false) did not allow are listed too.
  - ansible-core stops a playbook after a serial batch that failed, and its recap then leaves out the hosts
    of later batches and shows a host whose batch was cut short as if it had succeeded. This summary names them.
  - A host is done when the rollout recorded its outcome (the fact C(bemi_rollout_outcome), set by the
    rollout playbook after the role configured the host).
  - The summary never changes the run; the playbook still stops at a failed batch and exits non-zero.
author:
  - Bemi (@BemiHQ)
requirements:
  - enable it, e.g. C(callbacks_enabled = bemi.postgresql.rollout_summary) in the C([defaults]) section of ansible.cfg
options:
  output_path:
    description:
      - Also write the summary as JSON to this file (overwritten at each run). Empty - no file.
    type: path
    default: ''
    env:
      - name: BEMI_ROLLOUT_SUMMARY
    ini:
      - section: bemi_rollout_summary
        key: output_path
"""

import json
import os
import re

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase

OUTCOME_FACT = 'bemi_rollout_outcome'
REASON_MAX = 240
# How a done host's changes read: after a real run, and after a dry run (--check).
WORDS = {False: {True: 'changed', False: 'unchanged'}, True: {True: 'would change', False: 'nothing to change'}}
STATUSES = ('done', 'failed', 'unreachable', 'stopped', 'not_reached')
HEADINGS = {
    'done': 'done',
    'failed': 'FAILED',
    'unreachable': 'UNREACHABLE',
    'stopped': 'STOPPED mid-batch (another host of its batch failed; run the rollout again)',
    'not_reached': 'NOT REACHED (the rollout stopped before them; run it again)',
}


def short_reason(result):
    """One line that says why a task failed: its msg (or a failed loop item's), else stderr."""
    text = ''
    if isinstance(result, dict):
        items = [item for item in result.get('results') or [] if isinstance(item, dict) and item.get('failed')]
        for source in [result] + items:
            text = source.get('msg') or source.get('stderr') or source.get('module_stderr') or ''
            if text and not (source is result and items and text.startswith('One or more items failed')):
                break
    text = re.sub(r'\s+', ' ', str(text)).strip()
    return text if len(text) <= REASON_MAX else text[:REASON_MAX - 3].rstrip() + '...'


def summarize(hosts, events, check_mode=False):
    """Classify each host of the rollout.

    ``hosts``: every host a play of the run targeted, in order. ``events``: per host name a dict with
    ``outcome`` (the last ``bemi_rollout_outcome``, or None), ``changed`` (bool), ``failed``
    (``{task, reason}`` or None), ``unreachable`` (a reason or None) and ``stopped`` (its batch was cut
    short while it ran). Returns ``{hosts: {name: {...}}, <status>: [names], restart_pending_not_allowed: [...],
    check_mode}``.
    """
    summary = {status: [] for status in STATUSES}
    summary['check_mode'] = bool(check_mode)
    summary['restart_pending_not_allowed'] = []
    summary['hosts'] = {}
    for name in hosts:
        event = events.get(name) or {}
        outcome = event.get('outcome')
        entry = {'changed': bool(event.get('changed'))}
        if event.get('unreachable'):
            status = 'unreachable'
            entry['reason'] = event['unreachable']
        elif event.get('failed'):
            status = 'failed'
            entry.update(event['failed'])
        elif outcome is not None:
            status = 'done'
        elif event.get('stopped'):
            status = 'stopped'
        else:
            status = 'not_reached'
        entry['status'] = status
        if isinstance(outcome, dict):
            entry['phase'] = outcome.get('phase')
            entry['restart_pending'] = _bool(outcome.get('restart_pending'))
            if entry['restart_pending'] and not _bool(outcome.get('restart_allowed', True)):
                summary['restart_pending_not_allowed'].append(name)
        summary[status].append(name)
        summary['hosts'][name] = entry
    return summary


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ('true', 'yes', 'on', '1')
    return bool(value)


def render(summary):
    """The summary as (line, color) pairs; color None for plain text."""
    lines = []
    for status in STATUSES:
        names = summary[status]
        if not names:
            continue
        color = None if status == 'done' else (C.COLOR_UNREACHABLE if status == 'unreachable' else C.COLOR_ERROR)
        lines.append(('%s (%d):' % (HEADINGS[status], len(names)), color))
        for name in names:
            entry = summary['hosts'][name]
            if status == 'done':
                text = '%s (%s)' % (name, WORDS[summary.get('check_mode', False)][entry['changed']])
            elif status == 'failed':
                text = '%s: [%s] %s' % (name, entry.get('task', ''), entry.get('reason', ''))
            elif status == 'unreachable':
                text = '%s: %s' % (name, entry.get('reason', ''))
            else:
                text = name
            lines.append(('  ' + text, color))
    pending = summary['restart_pending_not_allowed']
    if pending:
        lines.append(('RESTART PENDING, not allowed by bemi_allow_restart=false (%d): %s' % (len(pending), ', '.join(pending)),
                      C.COLOR_WARN))
        lines.append(('  Bemi cannot stream from them until PostgreSQL is restarted; restart in a maintenance window, '
                      'or run the rollout with bemi_allow_restart=true.', C.COLOR_WARN))
    return lines


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bemi.postgresql.rollout_summary'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._hosts = []
        self._events = {}
        self._batch = set()

    def _event(self, name):
        return self._events.setdefault(name, {'outcome': None, 'changed': False, 'failed': None,
                                              'unreachable': None, 'stopped': False})

    def _seen(self, result):
        name = result._host.get_name()
        self._batch.add(name)
        return self._event(name)

    def v2_playbook_on_play_start(self, play):
        # Called once per serial batch; the play's pattern names every host of the rollout.
        self._batch = set()
        try:
            inventory = play.get_variable_manager()._inventory
            targeted = [host.get_name() for host in inventory.get_hosts(play.hosts, ignore_restrictions=True)]
        except Exception:  # pylint: disable=broad-except
            # An inventory API that changed loses the hosts never reached, never the run.
            targeted = []
        for name in targeted:
            if name not in self._hosts:
                self._hosts.append(name)

    def v2_playbook_on_no_hosts_remaining(self):
        # The strategy cut the batch short (a failure beyond max_fail_percentage): its other hosts stopped mid-play.
        for name in self._batch:
            self._event(name)['stopped'] = True

    def v2_runner_on_ok(self, result):
        event = self._seen(result)
        if result._result.get('changed'):
            event['changed'] = True
        outcome = (result._result.get('ansible_facts') or {}).get(OUTCOME_FACT)
        if outcome is not None:
            event['outcome'] = outcome

    def v2_runner_on_failed(self, result, ignore_errors=False):
        event = self._seen(result)
        if not ignore_errors:
            event['failed'] = {'task': result._task.get_name(), 'reason': short_reason(result._result)}

    def v2_runner_on_unreachable(self, result):
        self._seen(result)['unreachable'] = short_reason(result._result)

    def v2_runner_on_skipped(self, result):
        self._seen(result)

    def v2_runner_item_on_ok(self, result):
        if result._result.get('changed'):
            self._seen(result)['changed'] = True

    def v2_playbook_on_stats(self, stats):
        for name, event in self._events.items():
            # A failure inside a block that a rescue handled is not one (the recap counts it as rescued).
            if event['failed'] and not stats.failures.get(name):
                event['failed'] = None
            if name not in self._hosts:
                self._hosts.append(name)
        summary = summarize(self._hosts, self._events, check_mode=context.CLIARGS.get('check', False))
        self._display.banner('BEMI ROLLOUT SUMMARY')
        for line, color in render(summary):
            self._display.display(line, color=color)
        self._display.display('')
        path = self.get_option('output_path')
        if path:
            self._write(path, summary)

    def _write(self, path, summary):
        # Written whole and then renamed, so a reader never sees half a summary.
        tmp = os.path.expanduser(path) + '.tmp'
        try:
            with open(tmp, 'w') as handle:
                json.dump(summary, handle, indent=2, sort_keys=True)
                handle.write('\n')
            os.replace(tmp, os.path.expanduser(path))
        except (IOError, OSError) as exc:
            self._display.warning('bemi.postgresql.rollout_summary could not write %s: %s' % (path, exc))
            return
        self._display.display('Rollout summary written to %s' % path)
