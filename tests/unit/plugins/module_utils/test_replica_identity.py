# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.replica_identity import (
    IdentityChange,
    ScopeError,
    check_lock_timeout,
    identity_diff,
    parse_schemas,
    parse_tables,
    partition_trees,
    plan_identities,
    plan_resets,
    resolve_scope,
    trigger_scope,
)


def row(schema, name, kind='r', identity='d', persistence='p', in_extension=False, parent=None):
    return {'schema': schema, 'name': name, 'kind': kind, 'identity': identity, 'persistence': persistence,
            'in_extension': in_extension, 'parent_schema': parent[0] if parent else None,
            'parent_name': parent[1] if parent else None}


ROWS = [
    row('app', 'orders'),
    row('app', 'events_2024', kind='p', parent=('public', 'events')),
    row('app', 'events_2024_a', parent=('app', 'events_2024')),
    row('public', 'events', kind='p'),
    row('public', 'orders', identity='f'),
    row('public', 'items'),
    row('public', 'v', kind='v'),
    row('public', 'mv', kind='m'),
    row('public', 'ft', kind='f'),
    row('public', 'ext', in_extension=True),
    row('public', 'keyed', identity='i'),
]
SCHEMAS = {'public', 'app', 'empty'}


def test_parse_schemas():
    assert parse_schemas(None) == ['public']
    assert parse_schemas(['b', 'A', '"Mixed Case"', 'b']) == ['Mixed Case', 'a', 'b']
    assert parse_schemas(['*']) == ['*']
    with pytest.raises(ScopeError):
        parse_schemas(['*', 'public'])
    with pytest.raises(ScopeError):
        parse_schemas(['pg_catalog'])
    with pytest.raises(ScopeError):
        parse_schemas(['a b'])


def test_parse_tables():
    assert parse_tables(['t', 'app.T', 't', '"We ird"."x"'], 'tables') == [
        ('public', 't'), ('app', 't'), ('We ird', 'x')]
    with pytest.raises(ScopeError, match='exclude'):
        parse_tables(['a.b.c.d'], 'exclude')


@pytest.mark.parametrize('value', ['2s', '200ms', '1.5s', '3min', '100', ' 5 s '])
def test_lock_timeout_accepted(value):
    assert check_lock_timeout(value) == value.strip()


@pytest.mark.parametrize('value', ['0', '0ms', '-1s', 'soon', '2 days', "1s'; DROP"])
def test_lock_timeout_refused(value):
    with pytest.raises(ScopeError):
        check_lock_timeout(value)


def test_schema_scope_includes_partitions_elsewhere_and_skips_other_kinds():
    scope, warnings = resolve_scope(ROWS, SCHEMAS, [], ['public'], [])
    assert scope == [('app', 'events_2024'), ('app', 'events_2024_a'), ('public', 'events'), ('public', 'items'),
                     ('public', 'keyed'), ('public', 'orders')]
    assert warnings == []


def test_all_schemas_and_exclude():
    scope, warnings = resolve_scope(ROWS, SCHEMAS, [], ['*'], [('public', 'items'), ('public', 'gone')])
    assert ('app', 'orders') in scope and ('public', 'items') not in scope
    assert warnings == ['exclude: public.gone does not exist']


def test_unknown_schema_is_an_error():
    with pytest.raises(ScopeError, match='nope'):
        resolve_scope(ROWS, SCHEMAS, [], ['public', 'nope'], [])


def test_tables_scope_errors_name_every_problem():
    with pytest.raises(ScopeError) as info:
        resolve_scope(ROWS, SCHEMAS, [('public', 'missing'), ('public', 'v'), ('public', 'ext'), ('public', 'ft')],
                      ['public'], [])
    message = str(info.value)
    assert 'public.missing does not exist' in message and 'public.v is a view' in message
    assert 'public.ext belongs to an extension' in message and 'public.ft is a foreign table' in message


def test_tables_scope_follows_partitions():
    scope, dummy = resolve_scope(ROWS, SCHEMAS, [('public', 'events')], ['public'], [])
    assert scope == [('app', 'events_2024'), ('app', 'events_2024_a'), ('public', 'events')]


def test_excluding_a_partitioned_table_excludes_its_partitions_at_every_level():
    scope, warnings = resolve_scope(ROWS, SCHEMAS, [], ['public'], [('public', 'events')])
    assert [pair for pair in scope if 'events' in pair[1]] == []
    assert warnings == []
    # Excluding a partition keeps its parent (and its own partitions are left out with it).
    scope, dummy = resolve_scope(ROWS, SCHEMAS, [('public', 'events')], ['public'], [('app', 'events_2024')])
    assert scope == [('public', 'events')]


def test_plan_full_and_default():
    scope = [('public', 'items'), ('public', 'keyed'), ('public', 'orders')]
    assert plan_identities(ROWS, scope, 'full') == [('public', 'items', 'default', 'full'),
                                                    ('public', 'keyed', 'index', 'full')]
    # DEFAULT only undoes FULL; USING INDEX was somebody's choice.
    assert plan_identities(ROWS, scope, 'default') == [('public', 'orders', 'full', 'default')]


def test_identity_diff_uses_display_names():
    before, after = identity_diff([IdentityChange('We ird', 'T', 'default', 'full')])
    assert before == {'"We ird"."T"': 'default'} and after == {'"We ird"."T"': 'full'}


def test_unknown_schema_is_an_error_with_a_table_list_too():
    # The event trigger tracks the schemas, so they must exist whatever the scope.
    with pytest.raises(ScopeError, match='"We ird"'):
        resolve_scope(ROWS, SCHEMAS, [('public', 'items')], ['We ird'], [])


def test_plan_resets_keeps_every_tracked_table():
    rows = [row('public', 'kept', identity='f'), row('public', 'gone', identity='f'), row('public', 'plain'),
            row('public', 'other_pub', identity='f'), row('public', 'excluded', identity='f'),
            row('public', 'ext', identity='f', in_extension=True), row('public', 'tmp', identity='f', persistence='t'),
            row('public', 'indexed', identity='i'), row('s2', 'x', identity='f')]
    published = {'all_tables': False, 'tables': [['public', 'other_pub']]}
    scope = [('public', 'kept')]
    exclude = [('public', 'excluded')]
    gone = [('public', 'gone', 'full', 'default'), ('s2', 'x', 'full', 'default')]
    assert plan_resets(rows, scope, exclude, published, None) == gone
    # The trigger's schemas are a tracked scope; every schema, or another FOR ALL TABLES publication, keeps all.
    assert plan_resets(rows, scope, exclude, published, ['s2']) == [('public', 'gone', 'full', 'default')]
    assert plan_resets(rows, scope, exclude, published, ['*']) == []
    assert plan_resets(rows, scope, exclude, dict(published, all_tables=True), None) == []
    # The partitions of an excluded partitioned table keep their identity too.
    parted = [row('public', 'excluded_parent', kind='p', identity='f'),
              row('s2', 'excluded_child', identity='f', parent=('public', 'excluded_parent'))]
    assert plan_resets(parted, scope, [('public', 'excluded_parent')], published, None) == []


def test_split_published_keeps_full_where_another_publication_needs_it():
    from ansible_collections.bemi.postgresql.plugins.module_utils.replica_identity import IdentityChange, split_published
    changes = [IdentityChange('public', 'mine', 'full', 'default'), IdentityChange('public', 'shared', 'full', 'default'),
               IdentityChange('public', 'new', 'default', 'full')]
    go, kept = split_published(changes, {'all_tables': False, 'tables': [['public', 'shared']]})
    assert go == [changes[0], changes[2]] and kept == [changes[1]]
    go, kept = split_published(changes, {'all_tables': True, 'tables': []})
    assert go == [changes[2]] and kept == changes[:2]


def test_partition_trees_are_the_listed_partitioned_tables_in_scope():
    tables = [('public', 'events'), ('app', 'orders'), ('app', 'events_2024')]
    scope, dummy = resolve_scope(ROWS, SCHEMAS, tables, ['public'], [])
    assert partition_trees(ROWS, tables, scope) == [('app', 'events_2024'), ('public', 'events')]
    # An excluded tree is not tracked either; no list, no trees (the trigger tracks schemas then).
    scope, dummy = resolve_scope(ROWS, SCHEMAS, tables, ['public'], [('app', 'events_2024')])
    assert partition_trees(ROWS, tables, scope) == [('public', 'events')]
    assert partition_trees(ROWS, [], scope) == []


def test_trigger_scope():
    trees = [('public', 'events')]
    assert trigger_scope(None, ['public'], trees) is None
    assert trigger_scope(True, ['public'], trees) == (['public'], trees)
    # Without track_new_tables, the trees alone; nothing at all removes the trigger.
    assert trigger_scope(False, ['public'], trees) == ([], trees)
    assert trigger_scope(False, ['public'], []) == ([], [])
