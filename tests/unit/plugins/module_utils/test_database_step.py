# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How bemi_databases merges and checks a step's options, and how a step's end is kept (no server needed:
tests/integration/test_databases.py runs the module)."""

from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils import publication_run, replica_identity_run, role_run
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import (
    StepEnded,
    StepModule,
    databases_argument_spec,
    step_params,
)

CONNECTION = {'login_db': 'shop', 'login_user': 'postgres'}


def test_a_databases_own_options_lie_over_the_shared_ones():
    params, error = step_params(replica_identity_run.STEP, {'schemas': ['public'], 'lock_timeout': '1s'},
                                {'tables': ['orders'], 'schemas': None, 'lock_timeout': '3s'}, CONNECTION)
    assert error is None
    assert params['tables'] == ['orders']
    # Null keeps the shared value; what neither gives takes the module's default.
    assert params['schemas'] == ['public']
    assert params['lock_timeout'] == '3s'
    assert params['retries'] == 5 and params['identity'] == 'full'
    assert params['login_db'] == 'shop'


def test_the_merged_options_are_checked_as_the_module_checks_them():
    dummy, error = step_params(publication_run.STEP, {'tables': ['a']}, {'schemas': ['s']}, CONNECTION)
    assert error == 'parameters are mutually exclusive: tables|schemas'
    dummy, error = step_params(role_run.STEP, {'name': 'bemi'}, {'colour': 'blue'}, CONNECTION)
    assert error.startswith('Unsupported parameters: colour.')
    dummy, error = step_params(role_run.STEP, {}, {}, CONNECTION)
    assert error == 'missing required arguments: name'
    dummy, error = step_params(replica_identity_run.STEP, {'retries': 'many'}, None, CONNECTION)
    assert 'retries' in error


def test_a_step_ends_with_its_result_not_the_process():
    module = StepModule({'name': 'bemi'}, check_mode=True, diff=False)
    module.warn('careful')
    with pytest.raises(StepEnded) as ended:
        module.exit_json(changed=False, queries=[])
    assert not ended.value.failed and ended.value.result == {'changed': False, 'queries': []}
    with pytest.raises(StepEnded) as ended:
        module.fail_json(msg='no', reason='missing')
    assert ended.value.failed and ended.value.result == {'msg': 'no', 'reason': 'missing'}
    assert module.warnings == ['careful']


@pytest.mark.parametrize('change, planned', [
    ({}, True),
    ({'schemas': ['sales'], 'tables': ['public.orders']}, True),
    ({'connection_limit': 5}, False),
    ({'password': 'other'}, False),
    ({'state': 'absent'}, False),
])
def test_a_dry_run_plans_the_role_as_an_earlier_database_left_it(change, planned):
    earlier, dummy = step_params(role_run.STEP, {'name': 'bemi', 'password': 'pw'}, None, CONNECTION)
    params, dummy = step_params(role_run.STEP, dict({'name': 'bemi', 'password': 'pw'}, **change), None, CONNECTION)
    assert role_run.STEP.follows(earlier, params)['planned_before'] is planned


def test_each_step_is_an_option_of_its_own_and_of_each_database():
    spec = databases_argument_spec((publication_run.STEP, role_run.STEP, replica_identity_run.STEP))
    assert spec['databases']['options']['name'] == {'type': 'str', 'required': True}
    for name in ('publication', 'role', 'replica_identity'):
        assert spec[name] == {'type': 'dict'} and spec['databases']['options'][name] == {'type': 'dict'}
