from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import Setting
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_level import (
    OptionError,
    parse_keep_size,
    plan_keep_size,
    alter_privilege_problem,
    needs_reload,
    plan_settings,
    predicted_configured,
    privileges_query,
    slots_block_reset,
)

AUTO = '/data/postgresql.auto.conf'


def setting(name, configured, running=None, auto=False, readable=True, boot='replica'):
    rows = [{'setting': configured, 'sourcefile': AUTO, 'sourceline': 3}] if auto else []
    return Setting(name, running if running is not None else configured, configured, boot, 'default', False,
                   rows, readable)


def current(wal='replica', slots='10', senders='10', auto=False, readable=True):
    return {
        'wal_level': setting('wal_level', wal, auto=auto, readable=readable),
        'max_replication_slots': setting('max_replication_slots', slots, boot='10'),
        'max_wal_senders': setting('max_wal_senders', senders, boot='10'),
    }


def test_present_sets_logical_once():
    assert plan_settings('present', {}, current()) == [('wal_level', 'logical')]
    assert plan_settings('present', {}, current(wal='logical')) == []


def test_minimums_only_raise():
    minimums = {'max_wal_senders': 20, 'max_replication_slots': 5}
    assert plan_settings('present', minimums, current(wal='logical')) == [('max_wal_senders', 20)]


def test_absent_resets_only_what_auto_conf_sets():
    assert plan_settings('absent', {}, current(wal='logical', auto=True)) == [('wal_level', None)]
    assert plan_settings('absent', {}, current(wal='logical')) == []
    # Files unreadable: RESET is harmless, so it is planned.
    assert plan_settings('absent', {}, current(wal='logical', readable=False)) == [('wal_level', None)]


def test_prediction_for_check_mode():
    settings = current(wal='logical', auto=True)
    assert predicted_configured([('wal_level', None)], settings)['wal_level'] == 'replica'
    assert predicted_configured([('max_wal_senders', 20)], current())['max_wal_senders'] == 20


def test_privileges_query_passes_names_as_parameters():
    statement, args = privileges_query(160000, ['wal_level'])
    assert 'has_parameter_privilege' in statement and args == (['wal_level'],)
    statement, args = privileges_query(140000, ['wal_level'])
    assert 'has_parameter_privilege' not in statement and args == ()


def facts(superuser=False, granted=False, allow='on'):
    return {'superuser': superuser, 'alter_system_granted': granted, 'allow_alter_system': allow}


def test_privilege_problems_name_the_fix():
    assert alter_privilege_problem(facts(superuser=True), ['wal_level'], 'postgres', None) is None
    assert alter_privilege_problem(facts(granted=True), ['wal_level'], 'ops', None) is None
    message = alter_privilege_problem(facts(), ['wal_level'], 'ops', None)
    assert 'GRANT ALTER SYSTEM ON PARAMETER wal_level TO ops' in message
    assert 'allow_alter_system = off' in alter_privilege_problem(facts(superuser=True, allow='off'), ['wal_level'], 'x', None)
    managed = alter_privilege_problem(facts(), ['wal_level'], 'x', ('Amazon RDS / Aurora', 'set rds.logical_replication = 1'))
    assert 'Amazon RDS' in managed and 'rds.logical_replication' in managed


def test_reset_is_refused_while_logical_slots_exist():
    assert slots_block_reset('replica', []) is None
    assert slots_block_reset('logical', ['bemi']) is None
    message = slots_block_reset('replica', ['bemi', 'other'])
    assert 'logical replication slots exist (bemi, other)' in message


def test_reload_only_for_reload_level_settings():
    settings = current()
    for item in settings.values():
        item.context = 'postmaster'
    changes = [('wal_level', 'logical'), ('max_replication_slots', 20)]
    assert needs_reload(changes, settings) is False
    settings['max_slot_wal_keep_size'] = setting('max_slot_wal_keep_size', '-1', boot='-1')
    settings['max_slot_wal_keep_size'].context = 'sighup'
    assert needs_reload(changes + [('max_slot_wal_keep_size', '50GB')], settings) is True
    # Unknown context: reload, as before.
    settings['wal_level'].context = None
    assert needs_reload([('wal_level', None)], settings) is True


def keep(configured, auto=True, source_rows=None):
    rows = source_rows if source_rows is not None else (
        [{'setting': configured, 'sourcefile': AUTO, 'sourceline': 4}] if auto else [])
    return Setting('max_slot_wal_keep_size', configured, configured, '-1', 'default', False, rows, True)


@pytest.mark.parametrize('text, mb', [('50GB', 51200), ('512MB', 512), ('512mb', 512), ('1024', 1024),
                                      ('1TB', 1024 ** 2), ('2048kB', 2), ('unlimited', -1), ('-1', -1), ('0', 0)])
def test_parse_keep_size(text, mb):
    assert parse_keep_size(text) == mb


@pytest.mark.parametrize('text', ['', 'lots', '1.5GB', '100kB', '-5', '10 PB', 'automatic'])
def test_parse_keep_size_refuses(text):
    with pytest.raises(OptionError) as error:
        parse_keep_size(text)
    assert 'such as 50GB' in str(error.value)


def test_plan_keep_size_exact():
    assert plan_keep_size(64, True, keep('-1', auto=False)) == ('max_slot_wal_keep_size', 64)
    assert plan_keep_size(64, True, keep('64MB')) is None
    assert plan_keep_size(64, True, keep('1GB')) == ('max_slot_wal_keep_size', 64)
    assert plan_keep_size(-1, True, keep('64')) == ('max_slot_wal_keep_size', -1)


def test_plan_keep_size_auto_never_lowers():
    # The built-in default (no file sets it) is replaced; a larger or an explicit unlimited value is kept.
    assert plan_keep_size(10240, False, keep('-1', auto=False)) == ('max_slot_wal_keep_size', 10240)
    assert plan_keep_size(10240, False, keep('20GB')) is None
    assert plan_keep_size(10240, False, keep('-1')) is None
    assert plan_keep_size(10240, False, keep('5GB')) == ('max_slot_wal_keep_size', 10240)


def test_parse_keep_size_auto():
    assert parse_keep_size('auto') == parse_keep_size(' AUTO ') == 'auto'


def never_measured():
    raise AssertionError('the free space must not be measured when a budget exists')


def test_plan_keep_size_auto_sets_once():
    # No budget: measured now.
    assert plan_keep_size('auto', False, keep('-1', auto=False), lambda: 38912) == ('max_slot_wal_keep_size', 38912)
    # A budget exists, smaller or larger than what the disk would give now, or an explicit unlimited: left alone,
    # and the free space is not even measured (it moves between a dry run and the real run).
    for configured in ('1GB', '100GB', '-1', '1.5GB'):
        assert plan_keep_size('auto', True, keep(configured), never_measured) is None
    in_conf = [{'setting': '10GB', 'sourcefile': '/etc/postgresql.conf', 'sourceline': 9}]
    assert plan_keep_size('auto', False, keep('10GB', source_rows=in_conf), never_measured) is None


def test_plan_keep_size_reads_fractions_as_postgresql_does():
    assert plan_keep_size(1536, True, keep('1.5GB')) is None
    assert plan_keep_size(1024, True, keep('1.5GB')) == ('max_slot_wal_keep_size', 1024)
