# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.database_scope import (
    FilterModule,
    database_scope,
    database_steps,
    preflight_refusals,
    readiness_problems,
)


def test_all_tables_by_default():
    scope = database_scope({'name': 'app'})
    assert scope == {
        'name': 'app', 'mode': 'all', 'publication': {'all_tables': True}, 'tables': [], 'schemas': ['*'],
        'exclude': [], 'track_new_tables': True,
        'grant': {'schemas': ['*'], 'tables': [], 'all_schemas': True}, 'expected': [],
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
    assert set(FilterModule().filters()) == {'database_scope', 'readiness_problems', 'preflight_refusals',
                                             'database_steps'}


def test_preflight_refusals_name_each_entry_in_the_roles_words():
    databases = [{'name': 'shop', 'tables': ['t', 'nosuch']}, {'name': 'shpo'}, {'name': 'crm', 'schemas': ['s']},
                 {'name': 'ok'}, {'name': 'all'}, {'name': 'x'}, {'name': 'locked'}]
    entries = [
        {'name': 'shop', 'failed': True, 'failed_step': 'publication', 'msg': 'Cannot publish',
         'role': {'changed': False}, 'publication': {'msg': 'Cannot publish', 'reason': 'missing',
                                                     'problems': ['table public.nosuch does not exist']}},
        {'name': 'shpo', 'failed': True, 'failed_step': 'role', 'msg': 'Could not connect',
         'role': {'msg': 'Could not connect', 'connect_error': 'unknown_database'}},
        {'name': 'crm', 'failed': True, 'failed_step': 'publication', 'msg': 'schemas: needs 15',
         'publication': {'msg': 'schemas: needs 15', 'reason': 'version'}},
        {'name': 'ok', 'role': {}, 'publication': {}, 'replica_identity': {}},
        {'name': 'all', 'failed': True, 'failed_step': 'publication', 'msg': 'Only a superuser',
         'publication': {'msg': 'Only a superuser', 'reason': 'superuser'}},
        {'name': 'x', 'failed': True, 'failed_step': 'role', 'msg': 'fix login_db', 'role': {'msg': 'fix login_db'}},
        # A reason of another step is no publication refusal: its message is told in the role's words.
        {'name': 'locked', 'failed': True, 'failed_step': 'replica_identity', 'msg': 'raise lock_timeout',
         'replica_identity': {'msg': 'raise lock_timeout', 'reason': 'missing'}},
    ]
    message = preflight_refusals(entries, databases, 'db1', 140010, 'app')
    assert message == (
        'Nothing was changed on db1, because '
        'bemi_databases[0] (shop): table public.nosuch does not exist (fix bemi_databases[0].tables, or create them'
        ' first); '
        'bemi_databases[1].name: database shpo does not exist (fix the name in bemi_databases, or create the database'
        ' first); '
        'bemi_databases[2].schemas: publishing schemas (FOR TABLES IN SCHEMA) needs PostgreSQL 15 or newer and this'
        ' server runs 14 (list the tables in bemi_databases[2].tables instead, or leave out both to publish all'
        ' tables); '
        'bemi_databases[4] (all): bemi_login_user app is not a superuser, and publishing all tables needs one (set'
        ' bemi_login_user to a superuser, or list the tables in bemi_databases[4].tables); '
        'bemi_databases[5] (x): fix bemi_login_db (or the name in bemi_databases); '
        'bemi_databases[6] (locked): raise bemi_lock_timeout; '
        'no setting, role or database was touched.')


def test_no_refusal_is_no_message():
    assert preflight_refusals([{'name': 'a', 'publication': {}}], [{'name': 'a'}], 'db1', 150000, 'p') == ''


def test_database_steps_give_each_database_its_scope_and_share_the_rest():
    steps = database_steps([{'name': 'shop'}, {'name': 'crm', 'tables': ['accounts']},
                            {'name': 'app', 'schemas': ['sales'], 'exclude': ['sales.queue']}],
                           user='bemi', password='pw', default_privileges_for=['app'], lock_timeout='1s',
                           lock_retries='3', reset_unpublished='false')
    assert steps['role'] == {'name': 'bemi', 'password': 'pw', 'update_password': 'always',
                             'default_privileges_for': ['app'], 'state': 'present'}
    assert steps['publication'] == {'name': 'bemi', 'state': 'present'}
    assert steps['replica_identity'] == {'identity': 'full', 'publication': 'bemi', 'lock_timeout': '1s',
                                         'retries': 3, 'reset_unpublished': False}
    shop, crm, app = steps['databases']
    assert shop == {'name': 'shop', 'role': {'schemas': ['*'], 'tables': []}, 'publication': {'all_tables': True},
                    'replica_identity': {'tables': None, 'schemas': ['*'], 'exclude': [], 'track_new_tables': True}}
    # A table list: no schema-wide grant (bemi_grant_select auto), no trigger.
    assert crm['role'] == {'schemas': [], 'tables': []}
    assert crm['publication'] == {'tables': ['accounts']}
    assert crm['replica_identity'] == {'tables': ['accounts'], 'schemas': ['public'], 'exclude': [],
                                       'track_new_tables': False}
    assert app['publication'] == {'schemas': ['sales']}
    assert app['replica_identity']['exclude'] == ['sales.queue']


def test_database_steps_leave_out_what_is_managed_elsewhere():
    steps = database_steps([{'name': 'shop'}], password='', default_privileges_for=[])
    # Null: bemi_databases leaves the password alone and takes its own default for the owners.
    assert steps['role']['password'] is None
    assert steps['role']['default_privileges_for'] is None
