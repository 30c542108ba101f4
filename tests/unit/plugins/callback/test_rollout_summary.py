# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.callback.rollout_summary import (
    REASON_MAX,
    render,
    short_reason,
    summarize,
)

OUTCOME = {'phase': 'primary', 'restart_pending': False, 'restart_allowed': True}


def event(**changes):
    base = {'outcome': None, 'changed': False, 'failed': None, 'unreachable': None, 'stopped': False}
    base.update(changes)
    return base


def test_each_host_gets_one_status_in_inventory_order():
    events = {
        'done1': event(outcome=OUTCOME, changed=True),
        'done2': event(outcome=OUTCOME),
        'broken': event(failed={'task': 'Check the databases', 'reason': 'bemi_databases[0] does not exist'}),
        'cut': event(stopped=True),
        'gone': event(unreachable='Connection refused', failed={'task': 'Stop', 'reason': 'cannot be reached'}),
        # Configured in the standby phase, then the primaries phase stopped before it: done.
        'standby': event(outcome=dict(OUTCOME, phase='standby')),
    }
    summary = summarize(['done1', 'done2', 'broken', 'cut', 'gone', 'standby', 'later'], events)
    assert summary['done'] == ['done1', 'done2', 'standby']
    assert summary['failed'] == ['broken']
    assert summary['unreachable'] == ['gone']
    assert summary['stopped'] == ['cut']
    assert summary['not_reached'] == ['later']
    assert summary['hosts']['done1'] == {'status': 'done', 'changed': True, 'phase': 'primary', 'restart_pending': False}
    assert summary['hosts']['broken'] == {'status': 'failed', 'changed': False, 'task': 'Check the databases',
                                          'reason': 'bemi_databases[0] does not exist'}
    assert summary['hosts']['gone']['reason'] == 'Connection refused'


def test_a_host_that_failed_after_recording_an_outcome_is_failed():
    # An outcome of the standby phase does not hide a failure of a later phase.
    summary = summarize(['h'], {'h': event(outcome=OUTCOME, failed={'task': 't', 'reason': 'r'})})
    assert summary['failed'] == ['h'] and summary['done'] == []


def test_restart_pending_and_not_allowed_is_listed():
    events = {
        'held': event(outcome=dict(OUTCOME, restart_pending='True', restart_allowed='False')),
        'restarting': event(outcome=dict(OUTCOME, restart_pending=True, restart_allowed=True)),
        'clean': event(outcome=OUTCOME),
    }
    summary = summarize(['held', 'restarting', 'clean'], events)
    assert summary['restart_pending_not_allowed'] == ['held']
    assert summary['hosts']['restarting']['restart_pending'] is True
    text = '\n'.join(line for line, _color in render(summary))
    assert 'RESTART PENDING, not allowed by bemi_allow_restart=false (1): held' in text


def test_render_names_the_failed_task_and_leaves_out_empty_statuses():
    summary = summarize(['a', 'b', 'c'], {'a': event(outcome=OUTCOME),
                                          'b': event(failed={'task': 'Set wal_level', 'reason': 'no privilege'})})
    lines = [line for line, _color in render(summary)]
    assert lines == ['done (1):', '  a (unchanged)', 'FAILED (1):', '  b: [Set wal_level] no privilege',
                     'NOT REACHED (the rollout stopped before them; run it again) (1):', '  c']


def test_a_dry_run_says_what_would_change():
    summary = summarize(['a', 'b'], {'a': event(outcome=OUTCOME, changed=True), 'b': event(outcome=OUTCOME)},
                        check_mode=True)
    assert summary['check_mode'] is True
    assert [line for line, _color in render(summary)] == ['done (2):', '  a (would change)', '  b (nothing to change)']


def test_short_reason():
    assert short_reason({'msg': 'one\n   two  three'}) == 'one two three'
    assert short_reason({'stderr': 'sudo: not found\n'}) == 'sudo: not found'
    assert short_reason({'msg': 'One or more items failed',
                         'results': [{'failed': False, 'msg': 'fine'}, {'failed': True, 'msg': 'locked'}]}) == 'locked'
    long = short_reason({'msg': 'x ' * 500})
    assert len(long) == REASON_MAX and long.endswith('...')
    assert short_reason({}) == '' and short_reason(None) == ''
