# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.publication import (
    Publication,
    current_from_row,
    dedupe,
    needs_superuser,
    plan_publication,
    resolve_args,
    resolve_problems,
    state_query,
    table_changes,
)

T1 = ('public', 't1')
T2 = ('public', 't2')
WEIRD = ('we ird', 'Mixed Case')
ALL = Publication('bemi', all_tables=True)


def listed(*tables, **kwargs):
    return Publication('bemi', tables=tables, **kwargs)


def test_absent():
    assert plan_publication(None, None, 'all', False) == ([], None)
    assert plan_publication(ALL, None, 'all', False) == ([('drop',)], None)


def test_create_each_scope():
    for wanted, scope in ((ALL, 'all'), (listed(T1), 'tables'), (Publication('bemi', schemas=['s']), 'schemas')):
        assert plan_publication(None, wanted, scope, False) == ([('create', wanted)], wanted)


def test_all_is_idempotent_and_options_alone_are_altered():
    assert plan_publication(ALL, ALL, 'all', False) == ([], ALL)
    wanted = Publication('bemi', all_tables=True, operations=['insert'], via_root=True)
    actions, target = plan_publication(ALL, wanted, 'all', False)
    assert actions == [('options', wanted)]
    assert target == wanted


def test_change_of_scope_is_a_replace():
    wanted = listed(T1)
    assert plan_publication(ALL, wanted, 'tables', False) == ([('replace', wanted)], wanted)
    assert plan_publication(wanted, ALL, 'all', False) == ([('replace', ALL)], ALL)
    schemas = Publication('bemi', schemas=['s'])
    assert plan_publication(ALL, schemas, 'schemas', False) == ([('replace', schemas)], schemas)


def test_append_never_narrows_all_tables():
    actions, target = plan_publication(ALL, listed(T1), 'tables', True)
    assert actions == []
    assert target == ALL


def test_append_adds_only_missing_tables():
    actions, target = plan_publication(listed(T1), listed(T1, T2), 'tables', True)
    assert actions == [('add', [T2], [])]
    assert target == listed(T1, T2)
    assert plan_publication(listed(T1, T2), listed(T2), 'tables', True) == ([], listed(T1, T2))


def test_append_skips_tables_of_published_schemas():
    current = Publication('bemi', schemas=['public'])
    actions, target = plan_publication(current, listed(T1, WEIRD), 'tables', True)
    assert actions == [('add', [WEIRD], [])]
    assert target == Publication('bemi', tables=[WEIRD], schemas=['public'])


def test_exact_list_uses_add_drop_or_one_set():
    assert plan_publication(listed(T1), listed(T1, T2), 'tables', False)[0] == [('add', [T2], [])]
    assert plan_publication(listed(T1, T2), listed(T1), 'tables', False)[0] == [('remove', [T2], [])]
    assert plan_publication(listed(T1), listed(T2, WEIRD), 'tables', False)[0] == [('set', [T2, WEIRD], [])]
    assert plan_publication(listed(T1), listed(T1), 'tables', False) == ([], listed(T1))


def test_exact_empty_list_removes_everything():
    actions, target = plan_publication(listed(T1, T2), listed(), 'tables', False)
    assert actions == [('remove', [T1, T2], [])]
    assert target == listed()


def test_schemas_replace_tables_in_one_set():
    current = listed(T1)
    wanted = Publication('bemi', schemas=['s2', 'we ird'])
    actions, target = plan_publication(current, wanted, 'schemas', False)
    assert actions == [('set', [], ['s2', 'we ird'])]
    assert target == wanted


def test_options_follow_object_changes():
    wanted = listed(T1, T2, operations=['update', 'insert'], via_root=True)
    actions, target = plan_publication(listed(T1), wanted, 'tables', False)
    assert actions[0] == ('add', [T2], [])
    assert actions[1][0] == 'options'
    assert target.report()['operations'] == ['insert', 'update']
    assert target.via_root is True


def test_exact_list_lists_a_qualified_table_again_in_one_set():
    current = listed(T1, T2, row_filters={T1: '(id > 1)'}, column_lists={T2: ['id']})
    actions, target = plan_publication(current, listed(T1, T2), 'tables', False)
    assert actions == [('set', [T1, T2], [])]
    assert target == listed(T1, T2)
    # A qualified table that leaves the list needs no SET; one that stays does.
    assert plan_publication(current, listed(T1), 'tables', False) == ([('set', [T1], [])], listed(T1))
    assert plan_publication(listed(T1, T2, row_filters={T2: 'x'}), listed(T1), 'tables', False) == (
        [('remove', [T2], [])], listed(T1))


def test_append_drops_and_adds_only_the_qualified_tables_asked_for():
    current = listed(T1, T2, row_filters={T1: '(id > 1)'}, column_lists={T2: ['id']})
    actions, target = plan_publication(current, listed(T1, WEIRD), 'tables', True)
    assert actions == [('remove', [T1], []), ('add', [T1, WEIRD], [])]
    assert target == listed(T1, T2, WEIRD, column_lists={T2: ['id']})
    assert target.report()['column_lists'] == {'public.t2': ['id']} and target.report()['row_filters'] == {}


def test_qualifiers_are_a_difference():
    assert listed(T1) != listed(T1, row_filters={T1: '(id > 1)'})
    assert listed(T1) != listed(T1, column_lists={T1: ['id']})
    report = listed(WEIRD, row_filters={WEIRD: '(a > 1)'}).report()
    assert report['row_filters'] == {'"we ird"."Mixed Case"': '(a > 1)'} and report['column_lists'] == {}


def test_needs_superuser():
    assert needs_superuser([('create', ALL)]) == 'create a FOR ALL TABLES publication'
    assert needs_superuser([('replace', Publication('bemi', schemas=['s']))]) == 'publish TABLES IN SCHEMA'
    assert needs_superuser([('add', [], ['s'])]) == 'publish TABLES IN SCHEMA'
    assert needs_superuser([('add', [T1], []), ('remove', [], ['s']), ('options', ALL)]) is None
    assert needs_superuser([('create', listed(T1))]) is None


def test_report_sorts_and_quotes():
    report = listed(T2, WEIRD, ('public', 'a"b'), T1, schemas=['Z', 'a']).report()
    assert report['tables'] == ['"we ird"."Mixed Case"', 'public."a""b"', 'public.t1', 'public.t2']
    assert report['schemas'] == ['"Z"', 'a']
    assert report['operations'] == ['insert', 'update', 'delete', 'truncate']


def test_current_from_row():
    assert current_from_row('bemi', None) is None
    assert current_from_row('bemi', {'found': False}) is None
    row = {'found': True, 'puballtables': False, 'pubinsert': True, 'pubupdate': False, 'pubdelete': True,
           'pubtruncate': False, 'pubviaroot': True, 'tables': [['we ird', 'Mixed Case', None, None]],
           'schemas': [['s']]}
    assert current_from_row('bemi', row) == Publication('bemi', tables=[WEIRD], schemas=['s'],
                                                        operations=['insert', 'delete'], via_root=True)
    row['tables'] = [['public', 't1', '(id > 1)', None], ['public', 't2', None, ['id', 'name']]]
    assert current_from_row('bemi', row) == Publication('bemi', tables=[T1, T2], schemas=['s'],
                                                        operations=['insert', 'delete'], via_root=True,
                                                        row_filters={T1: '(id > 1)'},
                                                        column_lists={T2: ['id', 'name']})


def test_resolve_problems_name_every_bad_entry():
    row = {'tables': [['public', 'nope', None, None], ['public', 'v', 'v', 'p'], ['public', 'f', 'f', 'p'],
                      ['public', 'ok', 'r', 'p'], ['public', 'parted', 'p', 'p'], ['public', 'u', 'r', 'u'],
                      ['pg_catalog', 'pg_class', 'r', 'p']],
           'schemas': ['s']}
    problems = resolve_problems([], ['s', 'missing', 'pg_catalog'], row)
    assert problems == ['table public.nope does not exist', 'public.v is a view, not a table',
                        'public.f is a foreign table, not a table',
                        'public.u is an unlogged table (its changes are not in the WAL)',
                        'pg_catalog.pg_class is a system table',
                        'schema missing does not exist', 'schema pg_catalog is a system schema']
    assert resolve_problems([], [], {'tables': [], 'schemas': []}) == []


def test_helpers():
    assert dedupe([T1, T2, T1]) == [T1, T2]
    assert resolve_args([T1, WEIRD], ['s']) == (['public', 'we ird'], ['t1', 'Mixed Case'], ['s'])
    assert 'pg_publication_namespace' in state_query(150000)
    assert 'pg_publication_namespace' not in state_query(130000)
    assert 'prqual' in state_query(150000) and 'prqual' not in state_query(140000)


def test_table_changes_resolve_scopes_by_name():
    publishable = [T1, T2, WEIRD]
    assert table_changes(None, ALL, publishable) == (['"we ird"."Mixed Case"', 'public.t1', 'public.t2'], [])
    assert table_changes(ALL, listed(T1), publishable) == ([], ['"we ird"."Mixed Case"', 'public.t2'])
    assert table_changes(listed(T1, T2), listed(T1), []) == ([], ['public.t2'])
    assert table_changes(listed(T1), Publication('bemi', schemas=['we ird'], tables=[T1]), publishable) == (
        ['"we ird"."Mixed Case"'], [])
    assert table_changes(listed(T1), None, []) == ([], ['public.t1'])
