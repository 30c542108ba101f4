# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.role import (
    RoleError,
    SchemaState,
    check_role_name,
    describe,
    needs_role_privilege,
    plan_absent,
    plan_present,
    predicted,
    wanted_attributes,
)

WANTED = wanted_attributes(True, -1)


def test_new_role_gets_everything():
    actions = plan_present(None, WANTED, 'V', [], ['rds_replication'], {'public': SchemaState('public', without_select=3)},
                           ['public'], ['owner'])
    assert actions == [
        ('create', WANTED, 'V'),
        ('grant_role', 'rds_replication'),
        ('grant_usage', 'public'),
        ('grant_select', 'public'),
        ('grant_default', 'owner', 'public'),
    ]
    assert needs_role_privilege(actions)


def test_empty_schema_needs_no_select_grant():
    actions = plan_present(None, WANTED, None, [], None, {'app': SchemaState('app')}, ['app'], ['owner'])
    assert ('grant_select', 'app') not in actions


def test_in_place_role_is_left_alone():
    states = {'public': SchemaState('public', True, 0, 5, ['owner'])}
    assert plan_present(dict(WANTED), WANTED, None, ['g'], ['g'], states, ['public'], ['owner']) == []
    # memberships not managed: an existing one stays
    assert plan_present(dict(WANTED), WANTED, None, ['g'], None, states, ['public'], ['owner']) == []


def test_only_differences_are_altered():
    current = dict(WANTED, replication=False, superuser=True, connection_limit=5)
    actions = plan_present(current, WANTED, None, [], None, {}, [], [])
    assert actions == [('alter', {'replication': True, 'superuser': False, 'connection_limit': -1}, None)]
    assert plan_present(dict(WANTED), WANTED, 'V', [], None, {}, [], []) == [('alter', {}, 'V')]


def test_exact_sets_are_enforced():
    states = {
        'public': SchemaState('public', True, 1, 2, ['old_owner', 'owner']),
        'gone': SchemaState('gone', True, 0, 2, ['owner']),
        'usage_only': SchemaState('usage_only', True, 4, 0, []),
    }
    actions = plan_present(dict(WANTED), WANTED, None, ['a', 'b'], ['b', 'c'], states, ['public'], ['owner'])
    assert actions == [
        ('grant_role', 'c'),
        ('revoke_role', 'a'),
        ('grant_select', 'public'),
        ('revoke_default', 'old_owner', 'public'),
        ('revoke_default', 'owner', 'gone'),
        ('revoke_select', 'gone'),
        ('revoke_usage', 'gone'),
        ('revoke_usage', 'usage_only'),
    ]
    assert needs_role_privilege(actions)
    attrs, members, after = predicted(actions, dict(WANTED), ['a', 'b'], states)
    assert members == ['b', 'c']
    described = describe(attrs, members, after)
    assert described['schemas'] == ['public']
    assert described['default_privileges'] == {'public': ['owner']}
    assert described['tables_without_select'] == {}
    assert describe(dict(WANTED), ['a', 'b'], states)['tables_without_select'] == {'public': 1, 'usage_only': 4}
    # the input states are not modified by the prediction
    assert states['gone'].usage and states['public'].default_owners == ['old_owner', 'owner']


def test_grants_only_need_no_role_privilege():
    assert not needs_role_privilege([('grant_usage', 's'), ('grant_default', 'o', 's')])


def test_absent():
    assert plan_absent(False, {}) == []
    states = {'s': SchemaState('s', True, 0, 1, ['o'])}
    actions = plan_absent(True, states)
    assert actions == [('revoke_default', 'o', 's'), ('revoke_select', 's'), ('revoke_usage', 's'),
                       ('drop_owned',), ('drop_role',)]
    assert predicted(actions, dict(WANTED), ['g'], states) == (None, [], {})
    assert describe(None, [], {}) == {'state': 'absent'}


@pytest.mark.parametrize('name', ['', 'x' * 64, '\u00e9' * 32])
def test_bad_role_names(name):
    with pytest.raises(RoleError):
        check_role_name(name)


@pytest.mark.parametrize('name', ['bemi', 'x' * 63, 'Bemi "x"; --', '\u00e9' * 31])
def test_good_role_names(name):
    check_role_name(name)


def test_quiet_settings_for_the_password_transaction():
    from ansible_collections.bemi.postgresql.plugins.module_utils import role

    rows = [
        {'name': 'log_statement', 'setting': 'all', 'context': 'superuser', 'may_set': False},
        {'name': 'log_min_error_statement', 'setting': 'panic', 'context': 'superuser', 'may_set': False},
        {'name': 'pg_stat_statements.track', 'setting': 'top', 'context': 'superuser', 'may_set': True},
        {'name': 'debug_print_parse', 'setting': 'off', 'context': 'user', 'may_set': False},
    ]
    settings, unsettable = role.quiet_settings(rows, superuser=True)
    assert settings == {'log_statement': 'none', 'log_min_error_statement': 'panic',
                        'pg_stat_statements.track': 'none', 'debug_print_parse': 'off'}
    assert unsettable == []
    settings, unsettable = role.quiet_settings(rows, superuser=False)
    # Granted (PG 15+) or user-settable ones are set; one already quiet needs nothing; the rest are named.
    assert settings == {'pg_stat_statements.track': 'none', 'debug_print_parse': 'off'}
    assert unsettable == ['log_statement']
    message = role.quiet_warning('admin', unsettable, True)
    assert 'GRANT SET ON PARAMETER log_statement TO admin' in message
    assert 'superuser' in role.quiet_warning('admin', unsettable, False)
    assert role.sends_password([('create', {}, 'SCRAM-SHA-256$x')])
    assert not role.sends_password([('alter', {'replication': False}, None), ('grant_usage', 'public')])


def test_connect_and_expiry():
    from ansible_collections.bemi.postgresql.plugins.module_utils import role

    attrs = role.wanted_attributes(True, -1)
    access = {'dbname': 'app', 'has_connect': False, 'can_grant': True, 'can_connect': True, 'expired': True,
              'valid_until': '2001-01-01 00:00:00+00'}
    actions = role.plan_present(attrs, attrs, None, [], None, {}, [], [], access)
    assert actions == [('renew',), ('grant_connect', 'app')]
    after = role.predicted_access(actions, access)
    assert after['has_connect'] and after['valid_until'] == 'infinity' and not after['expired']
    assert role.describe(attrs, [], {}, after)['connect'] is True
    assert role.plan_present(attrs, attrs, None, [], None, {}, [], [], dict(access, has_connect=True, expired=False)) == []
    assert role.plan_absent(True, {}, dict(access, has_connect=True)) == [
        ('revoke_connect', 'app'), ('drop_owned',), ('drop_role',)]
    # A login that may not grant CONNECT: nothing planned; a warning only when the role could not connect.
    cannot = dict(access, can_grant=False, expired=False)
    assert role.plan_present(attrs, attrs, None, [], None, {}, [], [], cannot) == []
    assert role.connect_warning('bemi', cannot) is None
    assert 'GRANT CONNECT ON DATABASE app TO bemi' in role.connect_warning('bemi', dict(cannot, can_connect=False))
