"""bemi_wal_level against real servers of every major.

Each test gets a server of its own (these tests change server-wide settings and
restart it), so the shared server of the other tests is never disturbed.
"""

from __future__ import annotations

import os

import pytest

from ansible_run import run_module

# No reload: these settings take effect only at a restart.
SET_LOGICAL = ["ALTER SYSTEM SET wal_level = 'logical'"]
RESET = ['ALTER SYSTEM RESET wal_level']


def snapshot(cluster):
    """Everything bemi_wal_level could change: the auto.conf file and what the server reads from files."""
    return {
        'auto_conf': cluster.read_file('postgresql.auto.conf'),
        'file_settings': cluster.query('SELECT name, setting, sourceline FROM pg_file_settings ORDER BY seqno'),
        'pending': cluster.query('SELECT name FROM pg_settings WHERE pending_restart ORDER BY name'),
    }


def check_then_apply(cluster, args):
    """Run in check mode (asserting nothing changed), then for real; both must agree."""
    before = snapshot(cluster)
    predicted = run_module('bemi_wal_level', args, check=True)
    assert not predicted.failed, predicted
    assert snapshot(cluster) == before, 'check mode changed the server'
    real = run_module('bemi_wal_level', args)
    assert not real.failed, real
    for key in ('changed', 'queries', 'diff', 'restart_required', 'wal_level'):
        assert predicted[key] == real[key], key
    return real


def assert_unchanged_run(cluster, args, restart_required):
    for check in (True, False):
        again = run_module('bemi_wal_level', args, check=check)
        assert not again.failed, again
        assert again['changed'] is False
        assert again['queries'] == []
        assert again['restart_required'] is restart_required


@pytest.fixture
def server(pool, major):
    cluster = pool.fresh(major, 'wal')
    yield cluster
    pool.clusters.pop((major, 'wal')).destroy()


def test_replica_to_logical_and_back(server):
    args = server.connection_args()
    assert server.scalar("SELECT current_setting('wal_level')") == 'replica'

    first = check_then_apply(server, args)
    assert first['changed'] is True
    assert first['queries'] == SET_LOGICAL
    assert first['diff'] == {'before': {'wal_level': 'replica'}, 'after': {'wal_level': 'logical'}}
    assert first['restart_required'] is True
    assert first['wal_level'] == {'running': 'replica', 'configured': 'logical'}
    assert "wal_level = 'logical'" in server.read_file('postgresql.auto.conf')
    assert "ALTER SYSTEM SET wal_level = 'logical'" in server.log_text()

    # Before the restart: nothing to do, and still pending.
    assert_unchanged_run(server, args, restart_required=True)

    server.restart()
    assert server.scalar("SELECT current_setting('wal_level')") == 'logical'
    assert_unchanged_run(server, args, restart_required=False)

    # Minimums are raised, never lowered.
    raised = check_then_apply(server, dict(args, min_replication_slots=25, min_wal_senders=5))
    assert raised['queries'] == ['ALTER SYSTEM SET max_replication_slots = 25']
    assert raised['diff'] == {
        'before': {'wal_level': 'logical', 'max_replication_slots': 10, 'max_wal_senders': 10},
        'after': {'wal_level': 'logical', 'max_replication_slots': 25, 'max_wal_senders': 10},
    }
    assert raised['restart_required'] is True
    assert raised['max_replication_slots'] == {'running': 10, 'configured': 25}
    assert_unchanged_run(server, dict(args, min_replication_slots=20), restart_required=True)
    server.restart()
    assert server.scalar("SELECT current_setting('max_replication_slots')") == '25'

    # absent while a logical slot exists: refused, since the server would not start again.
    server.query("SELECT pg_create_logical_replication_slot('bemi', 'test_decoding')")
    before = snapshot(server)
    for check in (True, False):
        refused = run_module('bemi_wal_level', dict(args, state='absent'), check=check)
        assert refused.failed
        assert 'logical replication slots exist (bemi)' in refused['msg']
        assert "pg_drop_replication_slot('<name>')" in refused['msg']
    assert snapshot(server) == before
    server.query("SELECT pg_drop_replication_slot('bemi')")

    # absent: RESET, which brings back the default at the next start.
    reset = check_then_apply(server, dict(args, state='absent'))
    assert reset['queries'] == RESET
    assert reset['diff'] == {'before': {'wal_level': 'logical'}, 'after': {'wal_level': 'replica'}}
    assert reset['restart_required'] is True
    assert 'wal_level' not in server.read_file('postgresql.auto.conf')
    assert_unchanged_run(server, dict(args, state='absent'), restart_required=True)
    server.restart()
    assert server.scalar("SELECT current_setting('wal_level')") == 'replica'
    assert_unchanged_run(server, dict(args, state='absent'), restart_required=False)


def test_value_from_postgresql_conf_is_reported_not_edited(server):
    args = server.connection_args()
    server.append_conf({'wal_level': 'logical'})
    conf_before = server.read_file('postgresql.conf')
    # Configured in postgresql.conf, not yet running: nothing to change, restart pending.
    assert_unchanged_run(server, args, restart_required=True)
    # absent does not touch postgresql.conf: there is nothing in auto.conf to reset.
    assert_unchanged_run(server, dict(args, state='absent'), restart_required=True)

    server.append_conf({'wal_level': 'replica'})
    result = check_then_apply(server, args)
    assert result['queries'] == SET_LOGICAL
    assert any('postgresql.conf' in warning and 'wal_level is set to replica' in warning
               for warning in result.get('warnings', [])), result.get('warnings')
    assert server.read_file('postgresql.conf') == conf_before + "wal_level = replica\n"


def test_non_superuser_is_refused_with_the_fix(server, major):
    server.query("CREATE ROLE ops LOGIN PASSWORD 'ops-pw'")
    args = dict(server.connection_args(), login_user='ops', login_password='ops-pw',
                login_host='127.0.0.1', login_db='postgres')
    before = snapshot(server)
    for check in (True, False):
        result = run_module('bemi_wal_level', args, check=check)
        assert result.failed
        assert 'is not a superuser and has no ALTER SYSTEM privilege' in result['msg']
        assert 'GRANT ALTER SYSTEM ON PARAMETER wal_level TO ops' in result['msg']
        assert 'Traceback' not in result.stdout + result.stderr
    assert snapshot(server) == before

    if major < 15:
        return
    # PostgreSQL 15+: the parameter privilege is enough, and with the file
    # settings readable the module is exactly idempotent for that role too.
    server.query('GRANT ALTER SYSTEM ON PARAMETER wal_level TO ops')
    server.query('GRANT SELECT ON pg_file_settings TO ops')
    server.query('GRANT EXECUTE ON FUNCTION pg_show_all_file_settings() TO ops')
    granted = check_then_apply(server, args)
    assert granted['queries'] == ["ALTER SYSTEM SET wal_level = 'logical'"]
    assert not any('pg_reload_conf()' in warning for warning in granted.get('warnings', []))
    assert_unchanged_run(server, args, restart_required=True)


@pytest.mark.min_major(17)
def test_allow_alter_system_off(server):
    server.append_conf({'allow_alter_system': 'off'})
    server.reload()
    server.wait_ready()
    before = snapshot(server)
    result = run_module('bemi_wal_level', server.connection_args(), check=True)
    assert result.failed
    assert 'allow_alter_system = off' in result['msg']
    assert 'set wal_level in postgresql.conf' in result['msg']
    assert snapshot(server) == before


def test_connection_errors_are_clear(server):
    args = server.connection_args()
    cases = [
        (dict(args, login_port=1), 'server unreachable'),
        (dict(args, login_db='no_such_db'), 'unknown database'),
        (dict(args, login_host='127.0.0.1', login_user='nobody_here', login_password='x'),
         'authentication failed'),
    ]
    for case_args, expected in cases:
        result = run_module('bemi_wal_level', case_args)
        assert result.failed
        assert expected in result['msg'], result['msg']
        assert result['msg'].startswith('Could not connect to PostgreSQL')
        assert 'Traceback' not in result.stdout + result.stderr
        assert 'x' != result['invocation']['module_args'].get('login_password')


def test_missing_psycopg2_is_a_clear_error(server, major, tmp_path):
    if major != 15:
        pytest.skip('independent of the server: checked once, on 15')
    import subprocess
    import sys
    # A bare virtualenv: ansible-core's module runtime works, psycopg2 is absent.
    bare = tmp_path / 'bare'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(bare)], check=True)
    result = run_module('bemi_wal_level', server.connection_args(), python=str(bare / 'bin' / 'python'))
    assert result.failed
    assert 'psycopg2' in result['msg']
    assert 'Traceback' not in result.get('msg', '')


def test_options_rejected_before_connecting(pool, major):
    if major != 15:
        pytest.skip('no server involved: checked once, on 15')
    result = run_module('bemi_wal_level', {'login_port': 1, 'state': 'absent', 'min_wal_senders': 5})
    assert result.failed
    assert result['msg'] == 'min_replication_slots and min_wal_senders only go with state=present.'


def auto_budget_now(cluster):
    """Half the free space of the server's pg_wal filesystem at this moment, in whole GB, at least 80MB."""
    stat = os.statvfs(os.path.join(cluster.data_dir, 'pg_wal'))
    return max(stat.f_bavail * stat.f_frsize // 2 // 1024 ** 3 * 1024, 80)


def test_auto_budget_is_set_once(server):
    args = dict(server.connection_args(), max_slot_wal_keep_size='auto')
    low, first = auto_budget_now(server), check_then_apply(server, args)
    high = auto_budget_now(server)
    (statement,) = [q for q in first['queries'] if 'max_slot_wal_keep_size' in q]
    budget = int(statement.rsplit(' ', 1)[1])
    # Half the free space in whole GB (other tests write to this disk meanwhile: between two readings).
    assert min(low, high) <= budget <= max(low, high), (low, budget, high)
    assert budget % 1024 == 0 or budget == 80
    assert first['max_slot_wal_keep_size'] == {'running': budget, 'configured': budget}
    assert first['diff']['after']['max_slot_wal_keep_size'] in ('%dGB' % (budget // 1024), '80MB')
    assert first['diff']['before']['max_slot_wal_keep_size'] == 'unlimited'

    # Once a budget exists, auto leaves it, whatever the free space says now: here it would be 1/64 of it.
    assert_unchanged_run(server, dict(args, share=64), restart_required=True)
    # A size the user gives is set exactly, and auto then keeps that one too.
    check_then_apply(server, dict(args, max_slot_wal_keep_size='2GB'))
    assert_unchanged_run(server, args, restart_required=True)
    assert server.scalar("SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'") == '2048'


@pytest.mark.parametrize('written, mb', [("'1.5GB'", 1536), ("'1536kB'", 2), ("'-1'", -1)])
def test_budget_written_by_an_administrator_is_read_as_postgresql_reads_it(server, written, mb):
    server.append_conf({'max_slot_wal_keep_size': written})
    server.reload()
    args = dict(server.connection_args(), max_slot_wal_keep_size='auto')
    for check in (True, False):
        kept = run_module('bemi_wal_level', args, check=check)
        assert not kept.failed, kept
        # wal_level is this fresh server's only change: the budget is left as written.
        assert kept['queries'] == SET_LOGICAL
        assert kept['max_slot_wal_keep_size'] == {'running': mb, 'configured': mb}
    # An exact size the user asks for is compared in the same units.
    same = run_module('bemi_wal_level', dict(args, max_slot_wal_keep_size='%dMB' % mb if mb > 0 else 'unlimited'))
    assert not same.failed and same['changed'] is False, same


def test_auto_budget_where_pg_wal_cannot_be_read_changes_nothing(server, tmp_path):
    before = snapshot(server)
    args = dict(server.connection_args(), max_slot_wal_keep_size='auto', data_directory=str(tmp_path / 'elsewhere'))
    for check in (True, False):
        failed = run_module('bemi_wal_level', args, check=check)
        assert failed.failed
        assert 'give max_slot_wal_keep_size a size' in failed['msg'], failed['msg']
        assert failed['queries'] == []
    assert snapshot(server) == before


def test_bemi_info_answers_what_bemi_wal_level_would_do(server):
    """bemi_info's wal_level option: the same answer as bemi_wal_level in check mode, from one read; a refusal
    is told in the plan, not as bemi_info's failure; nothing changes, in check mode or not."""
    args = server.connection_args()
    options = {'min_replication_slots': 12, 'max_slot_wal_keep_size': '2GB'}
    before = snapshot(server)
    alone = run_module('bemi_wal_level', dict(args, **options), check=True)
    assert not alone.failed, alone.result
    assert alone['changed'] is True
    for check in (True, False):
        info = run_module('bemi_info', dict(args, wal_level=options), check=check)
        assert not info.failed, info.result
        plan = info['wal_level_plan']
        for key in ('changed', 'queries', 'diff', 'restart_required', 'wal_level', 'max_replication_slots',
                    'max_wal_senders', 'max_slot_wal_keep_size', 'idle_replication_slot_timeout'):
            assert plan[key] == alone[key], key
        assert 'failed' not in plan and plan['warnings'] == []
        assert info['queries'] == [] and info['changed'] is False
    assert snapshot(server) == before

    check_then_apply(server, dict(args, **options))
    plan = run_module('bemi_info', dict(args, wal_level=options))['wal_level_plan']
    assert plan['changed'] is False and plan['queries'] == [] and plan['restart_required'] is True

    # A refusal of bemi_wal_level (its own words), and bad options, are the plan's, not bemi_info's.
    server.query("CREATE ROLE ops_info LOGIN PASSWORD 'ops-pw'")
    server.query('GRANT pg_read_all_settings TO ops_info')
    as_ops = dict(args, login_user='ops_info', login_password='ops-pw', login_host='127.0.0.1', login_db='postgres')
    refused = run_module('bemi_info', dict(as_ops, wal_level={'min_replication_slots': 50}))
    assert not refused.failed, refused.result
    assert refused['wal_level_plan']['failed'] is True
    assert 'is not a superuser and has no ALTER SYSTEM privilege' in refused['wal_level_plan']['msg']
    bad = run_module('bemi_info', dict(args, wal_level={'state': 'absent', 'min_wal_senders': 3}))
    assert not bad.failed, bad.result
    assert bad['wal_level_plan'] == {'failed': True, 'queries': [], 'warnings': [],
                                     'msg': 'min_replication_slots and min_wal_senders only go with state=present.'}
    unknown = run_module('bemi_info', dict(args, wal_level={'colour': 'blue'}))
    assert unknown['wal_level_plan']['msg'].startswith('Unsupported parameters: colour.')
