# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What bemi_replica_identity does in one database: its options, their checks, and the run.

Shared by the bemi_replica_identity module and by bemi_databases, which runs it in each of several databases."""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import query, query_one
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import DatabaseStep
from ansible_collections.bemi.postgresql.plugins.module_utils import event_trigger
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, PlanError, diff
from ansible_collections.bemi.postgresql.plugins.module_utils.replica_identity import (
    Progress,
    ScopeError,
    add_alters,
    check_lock_timeout,
    finish_moved_tables,
    parse_schemas,
    parse_tables,
    partition_trees,
    plan_identities,
    plan_resets,
    published_query,
    split_published,
    read_tables,
    resolve_scope,
    track_choice,
    trigger_scope,
)

TRIGGER_LABEL = 'event trigger'


def option_spec():
    """bemi_replica_identity's options, without the connection options."""
    return dict(
        identity=dict(type='str', choices=['full', 'default'], default='full'),
        tables=dict(type='list', elements='str'),
        schemas=dict(type='list', elements='str', default=['public']),
        exclude=dict(type='list', elements='str', default=[]),
        lock_timeout=dict(type='str', default='2s'),
        retries=dict(type='int', default=5),
        track_new_tables=dict(type='bool'),
        reset_unpublished=dict(type='bool', default=False),
        keep_published=dict(type='bool', default=False),
        track_partitions=dict(type='bool', default=True),
        publication=dict(type='str', default='bemi'),
    )


def prepare(module):
    """The parsed scope and settings; a contradiction fails here, before connecting."""
    params = module.params
    if params['reset_unpublished'] and params['identity'] == 'default':
        module.fail_json(msg='reset_unpublished: true only goes with identity: full (identity: default already sets '
                             'the tables in scope back to DEFAULT).')
    if params['retries'] < 0:
        module.fail_json(msg='retries must be 0 or more.')
    try:
        prepared = dict(
            identity=params['identity'],
            schemas=parse_schemas(params['schemas']),
            tables=parse_tables(params['tables'], 'tables'),
            exclude=parse_tables(params['exclude'], 'exclude'),
            lock_timeout=check_lock_timeout(params['lock_timeout']),
            retries=params['retries'],
            track=track_choice(params['identity'], params['tables'], params['track_new_tables']),
        )
    except ScopeError as exc:
        module.fail_json(msg=str(exc))
    if params['tables'] is not None and not prepared['tables']:
        module.fail_json(msg='tables is an empty list; leave it out to use schemas.')
    return prepared


def warn_unreachable_owners(module, conn, state, schemas):
    owner, superuser = event_trigger.function_owner_after(state)
    if superuser:
        return
    roles = event_trigger.unreachable_owners(conn, query, owner, schemas)
    if roles:
        module.warn(event_trigger.owner_warning(owner, roles))


def run(module, conn, prepared):
    # This run's own copy: the trigger's scope and the kept tables are added to it.
    options = dict(prepared)
    state = event_trigger.read_state(conn, query_one)
    rows, existing_schemas = read_tables(conn)
    try:
        scope, warnings = resolve_scope(rows, existing_schemas, options['tables'], options['schemas'],
                                        options['exclude'])
    except ScopeError as exc:
        module.fail_json(msg=str(exc), queries=[])
    for warning in warnings:
        module.warn(warning)
    trees = partition_trees(rows, options['tables'], scope) \
        if module.params['track_partitions'] and options['identity'] == 'full' else []
    options['trigger'] = trigger_scope(options['track'], options['schemas'], trees)
    resets = planned_resets(module, conn, state, rows, scope, options)
    changes = plan_identities(rows, scope, options['identity']) + resets
    kept = []
    if module.params['keep_published'] and options['identity'] == 'default':
        published = query_one(conn, published_query(conn.info.server_version), {'publication': module.params['publication']})
        changes, kept = split_published(changes, published)
        options['kept'] = set(change.label for change in kept)
        if kept:
            module.warn('These tables keep REPLICA IDENTITY FULL, because another publication than %s includes them '
                        '(its consumers may need their old rows): %s.'
                        % (module.params['publication'], ', '.join(change.label for change in kept)))

    # The trigger first: tables created while the existing ones are altered are then covered too.
    plan = Plan()
    trigger_steps = plan_trigger(module, conn, state, options)
    plan.add_transaction(trigger_steps, settings={'lock_timeout': options['lock_timeout']},
                         retries=options['retries'], label=TRIGGER_LABEL)
    add_alters(plan, changes, options)
    try:
        applied = plan.apply(conn, module.check_mode)
    except PlanError as exc:
        if exc.label == TRIGGER_LABEL and ('permission denied' in exc.message or 'must be' in exc.message):
            exc.message = '%s %s' % (exc.message, event_trigger.privilege_hints(state))
        raise
    progress = Progress(changes, applied)
    if not module.check_mode and (trigger_steps or applied.skipped):
        # Tables created before the trigger was in place, or renamed during this run, are read again.
        finish_moved_tables(conn, options, progress)
    report(module, state, options, progress, resets, kept)


def plan_trigger(module, conn, state, options):
    """The event trigger's statements: install or update, remove, or none (``trigger`` None leaves it as it is)."""
    if options['trigger'] is None:
        return []
    schemas, trees = options['trigger']
    if schemas or trees:
        steps = event_trigger.plan_install(
            state, event_trigger.function_body(conn, schemas, trees), event_trigger.procedure_body(conn, schemas, trees))
        problem = event_trigger.privilege_problem(state, module.params['login_user']) if steps else None
        if problem and not options['track']:
            problem = ('%s is partitioned: the partitions created later are published with it and need REPLICA '
                       'IDENTITY FULL, which the event trigger gives them. %s Or set track_partitions: false and '
                       're-run this task after each new partition.'
                       % (', '.join(display_table(*pair) for pair in trees), problem))
        if problem:
            module.fail_json(msg=problem, queries=[])
        # The trees' partitions may live in any schema; the owner check reads the tracked schemas only.
        if schemas:
            warn_unreachable_owners(module, conn, state, schemas)
        return steps
    steps = event_trigger.plan_remove(state)
    if steps and not state['superuser'] and not state['provider_roles']:
        module.fail_json(msg='Removing the event trigger needs a superuser. %s' % event_trigger.privilege_hints(state),
                         queries=[])
    return steps


def report(module, state, options, progress, resets, kept):
    """exit_json with the tables changed, skipped and failed; fail_json when some stayed locked."""
    if options['trigger'] is None:
        current = event_trigger.describe(state)
        present = current['state'] == 'present'
        tracked = (current.get('schemas') or []) if present else []
        trees = (current.get('partition_trees') or []) if present else []
    else:
        schemas, tree_pairs = options['trigger']
        present = bool(schemas or tree_pairs)
        tracked = schemas
        trees = [display_table(*pair) for pair in tree_pairs]
    before_tables, after_tables = progress.diff()
    result = dict(
        changed=bool(progress.queries),
        queries=progress.queries,
        tables_changed=progress.changed_tables(),
        tables_failed=progress.failed,
        tables_skipped=progress.skipped,
        tables_reset=progress.changed_tables(resets),
        tables_kept=sorted(change.label for change in kept),
        event_trigger='present' if present else 'absent',
        tracked_schemas=tracked,
        tracked_partition_trees=trees,
    )
    after_trigger = current if options['trigger'] is None \
        else event_trigger.describe_wanted(tracked, present, options['trigger'][1])
    result_diff = diff(module, {'tables': before_tables, 'event_trigger': event_trigger.describe(state)},
                       {'tables': after_tables, 'event_trigger': after_trigger})
    if result_diff is not None:
        result['diff'] = result_diff
    if progress.skipped:
        module.warn('These tables were dropped or renamed while this run went on, and were skipped: %s.'
                    % ', '.join(progress.skipped))
    if progress.failed:
        module.fail_json(msg='These tables stayed locked for lock_timeout %s after %d retries and were not changed: %s. '
                             'All other tables were changed. Re-run when they are less busy, or raise lock_timeout '
                             'or retries.' % (options['lock_timeout'], options['retries'], ', '.join(progress.failed)),
                         **result)
    module.exit_json(**result)


def planned_resets(module, conn, state, rows, scope, options):
    """With reset_unpublished: the FULL tables to set back to DEFAULT, read afresh from the catalogs."""
    if not module.params['reset_unpublished']:
        return []
    args = {'publication': module.params['publication']}
    published = query_one(conn, published_query(conn.info.server_version), args)
    if options['trigger'] is None:
        # The trigger stays as it is: the schemas it tracks now keep their FULL tables.
        current = event_trigger.describe(state)
        trigger_schemas = current.get('schemas') if current['state'] == 'present' else None
    else:
        # The partitions of its trees are in scope already.
        trigger_schemas = options['trigger'][0] or None
    return plan_resets(rows, scope, options['exclude'], published, trigger_schemas)


STEP = DatabaseStep('replica_identity', 'bemi_replica_identity', option_spec, [], prepare, run,
                    lambda params: 'Could not change the replica identity')
