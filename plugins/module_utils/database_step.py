# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The steps that make one database ready for Bemi, each run by its own module or, several
databases at once, by bemi_databases.

A step (role_run, publication_run, replica_identity_run) is what its module does: its options,
``prepare`` (their checks, before connecting) and ``run`` (read, plan, apply through plan.py,
then ``exit_json``). ``run_module`` is the whole of such a module's main(). bemi_databases runs
the same code through StepModule, so that a database's step ends with a result to keep (or a
failure) instead of the end of the process.
"""

from __future__ import annotations

from collections import namedtuple

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    connect,
    connection_argument_spec,
    run_on,
    run_with_connection,
)


class DatabaseStep(namedtuple('DatabaseStep', ['name', 'module', 'option_spec', 'mutually_exclusive', 'prepare', 'run',
                                               'failure', 'follows'], defaults=(None,))):
    """One step: ``name`` (its option in bemi_databases), ``module`` (its own module), ``option_spec()``
    (its options without the connection ones), ``prepare(module)``, ``run(module, conn, prepared)``,
    ``failure(params)`` (how a statement's failure message starts), and ``follows(earlier, params)``:
    in a dry run over several databases, the params of this step once the same step ran in an earlier
    database, for a step that also changes what all databases share (the role)."""

    __slots__ = ()


def run_module(step):
    """The main() of the step's own module: one database, one connection."""
    argument_spec = connection_argument_spec()
    argument_spec.update(step.option_spec())
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=step.mutually_exclusive)
    prepared = step.prepare(module)
    run_with_connection(module, lambda conn: step.run(module, conn, prepared), step.failure(module.params))


class StepEnded(Exception):
    """A step's exit_json (``failed`` false) or fail_json (``failed`` true), with its result."""

    def __init__(self, result, failed):
        super(StepEnded, self).__init__(result.get('msg', ''))
        self.result = result
        self.failed = failed


class StepModule(object):
    """The part of AnsibleModule that a step's code uses, for one step in one database of bemi_databases.

    ``exit_json`` and ``fail_json`` end the step, not the process (as AnsibleModule's end the process,
    they never return); the warnings are kept, to be told with the database's name.
    """

    def __init__(self, params, check_mode, diff):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **result):
        raise StepEnded(result, failed=False)

    def fail_json(self, msg, **result):
        result['msg'] = msg
        raise StepEnded(result, failed=True)


def connection_params(module):
    """The connection options of ``module``, for the steps it runs on the same server."""
    return dict((key, module.params[key]) for key in connection_argument_spec())


def step_params(step, shared, own, connection):
    """(params, error): the database's own options over the shared ones, checked as the step's module checks
    them (types, choices, defaults), with the connection options. An option left out or null keeps the shared one."""
    merged = dict((key, value) for key, value in (shared or {}).items() if value is not None)
    merged.update((key, value) for key, value in (own or {}).items() if value is not None)
    checked = ArgumentSpecValidator(step.option_spec(), mutually_exclusive=step.mutually_exclusive).validate(merged)
    if checked.error_messages:
        # Worded as the step's own module words them (AnsibleModule adds "Unsupported parameters").
        return None, '; '.join(('Unsupported parameters: %s' % error.msg) if isinstance(error, UnsupportedError)
                               else error.msg for error in checked.errors.errors)
    params = dict(connection)
    params.update(checked.validated_parameters)
    return params, None


def run_step(step, step_module, conn, prepared):
    """(result, failed) of the step on an open connection."""
    try:
        run_on(step_module, conn, lambda c: step.run(step_module, c, prepared), step.failure(step_module.params))
    except StepEnded as ended:
        return ended.result, ended.failed
    # Every step ends in exit_json or fail_json: reaching here is a bug of the step.
    return {'msg': 'The %s step ended without a result.' % step.module}, True


def run_database(steps, params_of, check_mode, diff):
    """Every step in one database, on one connection; the first failure ends the database.

    ``params_of`` holds each step's params (or an error) by name; a step that is not asked for is missing.
    Returns the database's entry: changed, queries, warnings, each step's result by its name, and on
    failure ``failed``, ``failed_step`` (the name of the step, whose result says more) and ``msg``.
    """
    entry = {'changed': False, 'queries': [], 'warnings': []}
    chosen = [step for step in steps if step.name in params_of]
    modules, prepared = {}, {}

    def failed(step, result):
        entry.update(failed=True, failed_step=step.name, msg=result.get('msg', ''))
        entry[step.name] = result
        return entry

    for step in chosen:
        params, error = params_of[step.name]
        if error:
            return failed(step, {'msg': error, 'queries': []})
        modules[step.name] = StepModule(params, check_mode, diff)
        try:
            prepared[step.name] = step.prepare(modules[step.name])
        except StepEnded as ended:
            return failed(step, ended.result)
    if not chosen:
        return entry
    try:
        conn = connect(modules[chosen[0].name])
    except StepEnded as ended:
        return failed(chosen[0], ended.result)
    try:
        for step in chosen:
            step_module = modules[step.name]
            result, step_failed = run_step(step, step_module, conn, prepared[step.name])
            entry['warnings'].extend('%s: %s' % (step.module, warning) for warning in step_module.warnings)
            entry['queries'].extend(result.get('queries') or [])
            entry['changed'] = entry['changed'] or bool(result.get('queries'))
            if step_failed:
                return failed(step, result)
            entry[step.name] = result
    finally:
        conn.close()
    return entry


def databases_argument_spec(steps):
    """bemi_databases' options: the connection, each step's shared options, and ``databases``.

    A step's options are a plain dict here, checked by ``step_params`` once merged, as the step's
    module checks them; its secrets are masked by DatabasesModule."""
    spec = connection_argument_spec()
    own = dict(name=dict(type='str', required=True))
    for step in steps:
        spec[step.name] = dict(type='dict')
        own[step.name] = dict(type='dict')
    spec['databases'] = dict(type='list', elements='dict', required=True, options=own)
    return spec


class DatabasesModule(ConnectionModule):
    """ConnectionModule that also masks the values of the steps' no_log options (bemi_role's password),
    shared or given for one database, as soon as the arguments are read (see ConnectionModule)."""

    def __init__(self, steps, **kwargs):
        # Before AnsibleModule's own __init__, which reads the arguments (_load_params).
        self.steps = steps
        super(DatabasesModule, self).__init__(**kwargs)

    def _load_params(self):
        super(DatabasesModule, self)._load_params()
        for step in self.steps:
            secret = [name for name, option in step.option_spec().items() if option.get('no_log')]
            given = [self.params.get(step.name)] + [database.get(step.name) for database in
                                                    self.params.get('databases') or [] if isinstance(database, dict)]
            for options in given:
                if isinstance(options, dict):
                    self.no_log_values.update(str(options[name]) for name in secret if options.get(name) not in (None, ''))


def run_databases(module, steps):
    """bemi_databases: the steps in each database in turn. A real run stops at the first database that
    fails (the later ones are left as they are); check mode goes on, so that its failure names them all."""
    connection = connection_params(module)
    entries, failures = [], []
    # Check mode: the params of each step that ran in an earlier database (see DatabaseStep.follows).
    ran = {}
    for database in module.params['databases']:
        params_of = {}
        for step in steps:
            if module.params[step.name] is not None or database[step.name] is not None:
                params_of[step.name] = step_params(step, module.params[step.name], database[step.name],
                                                   dict(connection, login_db=database['name']))
                params, error = params_of[step.name]
                if module.check_mode and step.follows and step.name in ran and not error:
                    params_of[step.name] = (step.follows(ran[step.name], params), None)
        entry = dict(name=database['name'])
        entry.update(run_database(steps, params_of, module.check_mode, module._diff))
        entries.append(entry)
        for step in steps:
            if step.name in entry and entry.get('failed_step') != step.name:
                ran[step.name] = params_of[step.name][0]
        for warning in entry['warnings']:
            module.warn('Database %s, %s' % (database['name'], warning))
        if entry.get('failed'):
            module_name = next(step.module for step in steps if step.name == entry['failed_step'])
            failures.append('Database %s, %s: %s' % (database['name'], module_name, entry['msg']))
            if not module.check_mode:
                break

    before, after = {}, {}
    for entry in entries:
        for step in steps:
            step_diff = (entry.get(step.name) or {}).pop('diff', None)
            # Only what changes: a database of many is easier to review that way.
            if step_diff and step_diff['before'] != step_diff['after']:
                before.setdefault(entry['name'], {})[step.name] = step_diff['before']
                after.setdefault(entry['name'], {})[step.name] = step_diff['after']
    queries = [statement for entry in entries for statement in entry['queries']]
    result = dict(changed=bool(queries), queries=queries, databases=entries)
    if module._diff:
        result['diff'] = {'before': before, 'after': after}
    if failures:
        left = [database['name'] for database in module.params['databases'][len(entries):]]
        if left:
            failures.append('Not reached, so left as they are: %s.' % ', '.join(left))
        module.fail_json(msg=' '.join(failures), **result)
    module.exit_json(**result)


def dry_run(step, module, conn, options):
    """What the step's own module would do with ``options``, in check mode, on this module's connection:
    its result, with its ``warnings``, and ``failed`` and ``msg`` when it would refuse. For a read-only
    module (bemi_info) that answers another module's question in the same run."""
    connection = connection_params(module)
    params, error = step_params(step, options, None, connection)
    if error:
        return {'failed': True, 'msg': error, 'queries': [], 'warnings': []}
    step_module = StepModule(params, check_mode=True, diff=module._diff)
    try:
        result, failed = run_step(step, step_module, conn, step.prepare(step_module))
    except StepEnded as ended:
        # prepare() refused the options.
        result, failed = ended.result, ended.failed
    result.update(warnings=step_module.warnings)
    result.setdefault('queries', [])
    if failed:
        result['failed'] = True
    return result
