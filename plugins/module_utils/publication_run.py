# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What bemi_publication does in one database: its options, their checks, and the run.

Shared by the bemi_publication module and by bemi_databases, which runs it in each of several databases."""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import SYSTEM_SCHEMA_PARAMS
from ansible_collections.bemi.postgresql.plugins.module_utils.connection import query, query_one
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import DatabaseStep
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    parse_name,
    parse_table,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, diff
from ansible_collections.bemi.postgresql.plugins.module_utils.publication import (
    PUBLISHABLE_QUERY,
    RESOLVE_QUERY,
    Publication,
    build_statements,
    current_from_row,
    dedupe,
    needs_publishable,
    needs_superuser,
    plan_publication,
    resolve_args,
    resolve_problems,
    state_query,
    table_changes,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import VersionError, require


MUTUALLY_EXCLUSIVE = [['tables', 'schemas']]


def option_spec():
    """bemi_publication's options, without the connection options."""
    return dict(
        name=dict(type='str', default='bemi'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        all_tables=dict(type='bool'),
        tables=dict(type='list', elements='str'),
        schemas=dict(type='list', elements='str'),
        append=dict(type='bool', default=False),
        operations=dict(type='list', elements='str', choices=['insert', 'update', 'delete', 'truncate'],
                        default=['insert', 'update', 'delete', 'truncate']),
        publish_via_partition_root=dict(type='bool', default=False),
        slots_dropped_before=dict(type='list', elements='str', default=[]),
    )


def failure(params):
    return 'Could not change publication %s' % params['name']


def parse_scope(module):
    """(scope, tables, schemas) from the options; contradictions fail here, before connecting."""
    params = module.params
    given = params['tables'] is not None or params['schemas'] is not None
    if params['all_tables'] and given:
        module.fail_json(msg='all_tables: true publishes every table; it cannot be combined with tables or schemas. '
                             'Remove all_tables, or remove tables/schemas.')
    if params['all_tables'] is False and not given and params['state'] == 'present':
        module.fail_json(msg='all_tables: false needs tables or schemas to say what to publish.')
    if not params['name']:
        module.fail_json(msg='name must not be empty.')
    try:
        tables = dedupe(parse_table(text) for text in params['tables'] or [])
        schemas = dedupe(parse_name(text) for text in params['schemas'] or [])
    except IdentifierError as exc:
        module.fail_json(msg='Invalid name in tables or schemas: %s' % exc)
    if params['tables'] is not None:
        return 'tables', tables, schemas
    if params['schemas'] is not None:
        return 'schemas', tables, schemas
    return 'all', tables, schemas


def run(module, conn, prepared):
    scope, tables, schemas = prepared
    params = module.params
    name = params['name']
    if scope == 'schemas' and params['state'] == 'present':
        try:
            require(conn.info.server_version, 'publication_schemas')
        except VersionError as exc:
            module.fail_json(msg='schemas: %s Fix: list the tables in tables instead.' % exc, queries=[], reason='version')

    row = query_one(conn, state_query(conn.info.server_version), (name,))
    current = current_from_row(name, row)

    wanted = None
    if params['state'] == 'present':
        if tables or schemas:
            resolved = query_one(conn, RESOLVE_QUERY, resolve_args(tables, schemas))
            problems = resolve_problems(tables, schemas, resolved)
            if problems:
                module.fail_json(msg='Cannot publish: %s. Nothing was changed.' % '; '.join(problems), queries=[],
                                 reason='missing', problems=problems)
        wanted = Publication(name, scope == 'all', tables, schemas, params['operations'],
                             params['publish_via_partition_root'])

    actions, target = plan_publication(current, wanted, scope, params['append'])
    privileged = needs_superuser(actions)
    if privileged and not row['superuser']:
        module.fail_json(msg='Only a superuser may %s, and role %s is not one, so publication %s was not changed. '
                             'Fix: run as a superuser, or publish a list of tables (tables), which needs '
                             'only ownership of those tables.' % (privileged, params['login_user'], name),
                         queries=[], reason='superuser')
    readers = row['slots']
    if module.check_mode:
        readers = [slot for slot in readers if slot not in params['slots_dropped_before']]
    if params['state'] == 'absent' and current is not None and readers:
        module.warn('Logical replication slot(s) %s (pgoutput) in this database may still read publication %s; '
                    'once it is dropped, Bemi stops receiving changes and the slot fails on its next read.'
                    % (', '.join(readers), name))

    plan = Plan()
    # One transaction: a DROP and CREATE (change of scope) is never seen half done.
    plan.add_transaction(build_statements(name, actions), label=name)
    applied = plan.apply(conn, module.check_mode)

    if applied.changed and not module.check_mode:
        target = current_from_row(name, query_one(conn, state_query(conn.info.server_version), (name,)))
    before = current.report() if current is not None else {}
    after = target.report() if target is not None else {}
    added, removed = tables_added_removed(conn, current, target)
    result = dict(changed=applied.changed, queries=applied.queries, tables_added=added, tables_removed=removed,
                  publication=target.report() if target is not None else None)
    result_diff = diff(module, before, after)
    if result_diff is not None:
        result['diff'] = result_diff
    module.exit_json(**result)


def tables_added_removed(conn, current, target):
    publishable = []
    if needs_publishable(current, target):
        publishable = [(row['schema'], row['name']) for row in query(conn, PUBLISHABLE_QUERY, SYSTEM_SCHEMA_PARAMS)]
    return table_changes(current, target, publishable)


STEP = DatabaseStep('publication', 'bemi_publication', option_spec, MUTUALLY_EXCLUSIVE, parse_scope, run, failure)
