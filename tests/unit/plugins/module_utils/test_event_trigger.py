# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils import event_trigger as et

BODY_F = '\n' + et.MARKER + '\n-- bemi.postgresql tracked schemas: ["app", "public"]\nBEGIN END\n'
BODY_P = '\n' + et.MARKER + '\nBEGIN END\n'


def routine(kind, source, returns, **extra):
    function = kind == 'f'
    value = {'kind': kind, 'source': source, 'definer': function,
             'config': ['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_generic_plan'] if function else None,
             'owner': 'postgres', 'owner_super': True, 'public_execute': False, 'returns': returns, 'language': 'plpgsql'}
    value.update(extra)
    return value


def trigger(**extra):
    value = {'event': 'ddl_command_end', 'tags': list(et.TAGS), 'enabled': 'O',
             'function_schema': 'public', 'function_name': et.FUNCTION}
    value.update(extra)
    return value


def installed(**changes):
    state = {'procedure': routine('p', BODY_P, 'void'), 'function': routine('f', BODY_F, 'event_trigger'),
             'trigger': trigger(), 'superuser': True, 'current_user': 'postgres', 'provider_roles': None,
             'provider_settings': None}
    state.update(changes)
    return state


def kinds(steps):
    """The statement kinds of composables, without needing a connection to render them."""
    out = []
    for step in steps:
        text = repr(step)
        for kind in ('CREATE OR REPLACE PROCEDURE', 'CREATE OR REPLACE FUNCTION', 'CREATE EVENT TRIGGER',
                     'DROP EVENT TRIGGER', 'REVOKE', 'OWNER TO', 'DROP '):
            if kind in text:
                out.append(kind)
                break
    return out


def test_schemas_line_round_trip():
    line = et.schemas_line(['public', 'app', "we'ird \"x\""])
    assert line == '-- bemi.postgresql tracked schemas: ["app", "public", "we\'ird \\"x\\""]'
    assert et.parse_schemas_line('x\n' + line + '\ny') == ['app', 'public', "we'ird \"x\""]
    assert et.parse_schemas_line('-- bemi.postgresql tracked schemas: nope') is None
    assert et.parse_schemas_line(None) is None


def test_is_ours():
    assert et.is_ours(BODY_F)
    assert not et.is_ours('BEGIN CALL _bemi_set_replica_identity(); END')


def test_up_to_date_plans_nothing():
    assert et.plan_install(installed(), BODY_F, BODY_P) == []


def test_fresh_install():
    state = {'procedure': None, 'function': None, 'trigger': None, 'current_user': 'postgres'}
    assert kinds(et.plan_install(state, BODY_F, BODY_P)) == [
        'CREATE OR REPLACE PROCEDURE', 'REVOKE', 'CREATE OR REPLACE FUNCTION', 'CREATE EVENT TRIGGER']


def test_bemi_manual_install_is_adopted():
    state = installed(procedure=routine('p', 'CALL x', 'void', definer=False, config=None, public_execute=True),
                      function=routine('f', 'CALL', 'event_trigger', definer=False, config=None),
                      trigger=trigger(tags=['CREATE TABLE'], function_name=et.FUNCTION))
    assert kinds(et.plan_install(state, BODY_F, BODY_P)) == [
        'CREATE OR REPLACE PROCEDURE', 'REVOKE', 'CREATE OR REPLACE FUNCTION', 'DROP EVENT TRIGGER',
        'CREATE EVENT TRIGGER']


def test_other_schemas_replace_bodies_only():
    other = BODY_F.replace('"app", ', '')
    assert kinds(et.plan_install(installed(), other, BODY_P)) == ['CREATE OR REPLACE FUNCTION']


def test_disabled_trigger_and_non_superuser_owner():
    state = installed(trigger=trigger(enabled='D'),
                      function=routine('f', BODY_F, 'event_trigger', owner='app', owner_super=False))
    assert kinds(et.plan_install(state, BODY_F, BODY_P)) == ['OWNER TO', 'DROP EVENT TRIGGER', 'CREATE EVENT TRIGGER']
    assert et.function_owner_after(state) == ('postgres', True)


def test_managed_admin_owner_is_kept():
    """A function owned by the login user, a managed service's admin (no superuser): re-runs plan nothing."""
    admin = routine('f', BODY_F, 'event_trigger', owner='admin', owner_super=False)
    state = installed(function=admin, superuser=False, current_user='admin', provider_roles=['rds_superuser'])
    assert et.plan_install(state, BODY_F, BODY_P) == []
    assert et.function_owner_after(state) == ('admin', False)
    # A superuser login still takes it over, so that it can alter every table.
    assert kinds(et.plan_install(installed(function=admin), BODY_F, BODY_P)) == ['OWNER TO']


def test_old_procedure_is_replaced_by_one_that_may_commit():
    old = routine('p', BODY_P, 'void', definer=True, config=['search_path=pg_catalog, pg_temp'])
    assert kinds(et.plan_install(installed(procedure=old), BODY_F, BODY_P)) == ['CREATE OR REPLACE PROCEDURE']


def test_function_without_the_generic_plan_setting_is_replaced():
    # Installed by an earlier release: its queries were planned anew on every CREATE TABLE.
    old = routine('f', BODY_F, 'event_trigger', config=['search_path=pg_catalog, pg_temp'])
    assert kinds(et.plan_install(installed(function=old), BODY_F, BODY_P)) == ['CREATE OR REPLACE FUNCTION']


def test_old_marker_is_not_ours():
    assert not et.is_ours('\n-- bemi.postgresql event trigger v1\nBEGIN END\n')


def test_text_literal_holds_no_backslash():
    rendered = repr(et.text_literal('a\\b'))
    assert 'chr(92)' in rendered and "Literal('a')" in rendered and "Literal('b')" in rendered
    assert repr(et.text_literal('plain')) == repr(et.sql.Literal('plain'))


def test_squatted_names_are_dropped_first():
    state = installed(procedure=routine('f', 'x', 'integer'), function=routine('f', 'x', 'integer'))
    assert kinds(et.plan_install(state, BODY_F, BODY_P)) == [
        'DROP ', 'CREATE OR REPLACE PROCEDURE', 'REVOKE', 'DROP EVENT TRIGGER', 'DROP ', 'CREATE OR REPLACE FUNCTION',
        'CREATE EVENT TRIGGER']


def test_remove_only_what_exists():
    assert kinds(et.plan_remove(installed())) == ['DROP EVENT TRIGGER', 'DROP ', 'DROP ']
    assert et.plan_remove({'procedure': None, 'function': None, 'trigger': None}) == []


def test_dollar_tag_avoids_the_body():
    assert et._dollar_tag('x') == '$bemi$'
    assert et._dollar_tag("'$bemi$' and $bemi1$") == '$bemi2$'


def test_describe():
    assert et.describe({'procedure': None, 'function': None, 'trigger': None}) == {'state': 'absent'}
    assert et.describe(installed()) == {'state': 'present', 'ours': True, 'schemas': ['app', 'public'],
                                        'partition_trees': None, 'tags': sorted(et.TAGS), 'enabled': 'O'}
    trees = installed(function=routine('f', BODY_F + et.trees_line([('Sales', 'Events')]) + '\n', 'event_trigger'))
    assert et.describe(trees)['partition_trees'] == ['"Sales"."Events"']
    assert et.describe_wanted([], True, [('public', 'events')])['partition_trees'] == ['public.events']


def test_trees_line_round_trip():
    line = et.trees_line([('public', 'events'), ('app', "we'ird")])
    assert line == '-- bemi.postgresql tracked partition trees: [["app", "we\'ird"], ["public", "events"]]'
    assert et.parse_trees_line('x\n' + line + '\ny') == [('app', "we'ird"), ('public', 'events')]
    assert et.parse_trees_line(et.trees_line([])) == []
    assert et.parse_trees_line('-- bemi.postgresql tracked partition trees: [["only"]]') is None
    assert et.parse_trees_line('BEGIN END') is None


def test_privilege_problem_has_hints():
    assert et.privilege_problem(installed(), 'admin') is None
    message = et.privilege_problem(installed(superuser=False, provider_settings=['rds.logical_replication']), 'app')
    assert 'needs a superuser' in message and 'master user' in message
    assert 'Supabase' in et.privilege_hints({'provider_settings': ['supabase.x']})
    assert 'Neon' in et.privilege_hints({'provider_settings': ['neon.x']})
    # Members of a provider's admin role are let through; a refusal is then explained.
    assert et.privilege_problem(installed(superuser=False, provider_roles=['rds_superuser']), 'app') is None
