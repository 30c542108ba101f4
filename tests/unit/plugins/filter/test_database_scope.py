# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.database_scope import (
    FilterModule,
    database_scope,
    readiness_problems,
)


def test_all_tables_by_default():
    scope = database_scope({'name': 'app'})
    assert scope == {
        'name': 'app', 'mode': 'all', 'publication': {'all_tables': True}, 'tables': [], 'schemas': ['*'],
        'exclude': [], 'track_new_tables': True,
        'grant': {'schemas': [], 'tables': [], 'all_schemas': True}, 'expected': [],
    }


def test_empty_lists_are_all_tables():
    assert database_scope({'name': 'app', 'tables': [], 'schemas': None})['mode'] == 'all'


def test_schemas():
    scope = database_scope({'name': 'app', 'schemas': ['billing', '"Sales"'], 'exclude': ['billing.audit']})
    assert scope['mode'] == 'schemas'
    assert scope['publication'] == {'schemas': ['billing', '"Sales"']}
    assert scope['schemas'] == ['billing', '"Sales"']
    assert scope['exclude'] == ['billing.audit']
    assert scope['track_new_tables'] is True
    assert scope['grant'] == {'schemas': ['billing', '"Sales"'], 'tables': [], 'all_schemas': False}
    assert scope['expected'] == []


def test_table_list_is_least_privilege_without_trigger():
    scope = database_scope({'name': 'app', 'tables': ['orders', 'Billing.invoices', 'public.items', '"Sales"."Q1"']})
    assert scope['mode'] == 'tables'
    assert scope['publication'] == {'tables': ['orders', 'Billing.invoices', 'public.items', '"Sales"."Q1"']}
    assert scope['tables'] == ['orders', 'Billing.invoices', 'public.items', '"Sales"."Q1"']
    # Each schema once, in order, in SQL form (folded, or quoted).
    assert scope['schemas'] == ['public', 'billing', '"Sales"']
    assert scope['track_new_tables'] is False
    assert scope['grant'] == {'schemas': [], 'tables': [], 'all_schemas': False}
    assert scope['expected'] == ['table_not_published', 'event_trigger_missing', 'role_cannot_select']


def test_table_list_with_listed_grants_and_trigger():
    scope = database_scope({'name': 'app', 'tables': ['orders']}, True, 'listed')
    assert scope['track_new_tables'] is True
    assert scope['grant'] == {'schemas': [], 'tables': ['orders'], 'all_schemas': False}
    assert scope['expected'] == ['table_not_published']


@pytest.mark.parametrize('db', [{'name': 'app'}, {'name': 'app', 'schemas': ['s']}])
def test_no_trigger_and_no_select_are_choices(db):
    scope = database_scope(db, False, 'none')
    assert scope['track_new_tables'] is False
    assert scope['grant'] == {'schemas': [], 'tables': [], 'all_schemas': False}
    assert scope['expected'] == ['event_trigger_missing', 'role_cannot_select']


def test_listed_is_auto_outside_a_table_list():
    assert database_scope({'name': 'app', 'schemas': ['s']}, None, 'listed')['grant']['schemas'] == ['s']
    assert database_scope({'name': 'app'}, None, 'listed')['grant']['all_schemas'] is True


@pytest.mark.parametrize('db, grant_select, message', [
    ({'name': 'app', 'tables': ['t'], 'schemas': ['s']}, 'auto', 'either'),
    ({'tables': ['t']}, 'auto', 'needs a name'),
    ('app', 'auto', 'needs a name'),
    ({'name': 'app', 'tables': 'orders'}, 'auto', 'must be a list'),
    ({'name': 'app'}, 'some', 'bemi_grant_select'),
    ({'name': 'app', 'tables': ['"open']}, 'auto', 'bemi.postgresql.database_scope'),
])
def test_bad_entries_are_clear_errors(db, grant_select, message):
    with pytest.raises(AnsibleFilterError, match=message):
        database_scope(db, None, grant_select)


def test_readiness_problems_keep_only_what_blocks():
    findings = [
        {'code': 'publication_missing', 'severity': 'problem', 'message': 'No publication.', 'fix': 'Create it.'},
        {'code': 'event_trigger_missing', 'severity': 'problem', 'message': 'No trigger.', 'fix': 'Install it.'},
        {'code': 'slot_missing', 'severity': 'note', 'message': 'No slot yet.', 'fix': ''},
        {'code': 'role_missing', 'severity': 'problem', 'message': 'No role.', 'fix': None},
    ]
    assert readiness_problems(findings, ['event_trigger_missing']) == ['No publication. Fix: Create it.', 'No role.']
    assert readiness_problems([], []) == []


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'database_scope', 'readiness_problems'}
