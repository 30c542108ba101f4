"""Run the collection's modules through Ansible, as users do, and read back their results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.dirname(sys.executable)


def collections_path():
    """A directory where ansible_collections/bemi/postgresql is this work tree."""
    base = os.path.join(ROOT, '.cache', 'collections')
    link = os.path.join(base, 'ansible_collections', 'bemi', 'postgresql')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return base


class ModuleRun(object):
    def __init__(self, result, status, stdout, stderr, rc):
        self.result = result
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.rc = rc

    @property
    def failed(self):
        return self.status != 'ok' or bool(self.result.get('failed'))

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)

    def __repr__(self):
        return 'ModuleRun(status=%r, result=%r)' % (self.status, self.result)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
        'ANSIBLE_CALLBACKS_ENABLED': 'bemi_test_result',
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'PATH': VENV_BIN + os.pathsep + env.get('PATH', ''),
    })
    env.update(extra or {})
    return env


def run_module(module, args, check=False, diff=True, verbosity=0, env=None, python=None):
    """Run ``bemi.postgresql.<module>`` on localhost; return its raw result.

    By default the module process runs as Ansible runs it on a managed host (its arguments
    file, with the check and diff flags): the same code, arguments handling, no_log masking
    and result, without the controller's start-up, which made the suite six times slower.
    Runs with ``verbosity`` (the secret tests read -vvv output, which is the controller's),
    another interpreter, extra environment, or with BEMI_TEST_VIA_ANSIBLE=1 set, go through
    the ``ansible`` command line.
    """
    if verbosity or python or env or os.environ.get('BEMI_TEST_VIA_ANSIBLE') == '1':
        return run_module_via_ansible(module, args, check, diff, verbosity, env, python)
    return run_module_process(module, args, check, diff)


def run_module_process(module, args, check, diff):
    """The module's own process, with the arguments Ansible would hand it."""
    handle, args_file = tempfile.mkstemp(prefix='bemi-args-', suffix='.json')
    with os.fdopen(handle, 'w') as stream:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_check_mode=check, _ansible_diff=diff,
                                               _ansible_module_name='bemi.postgresql.%s' % module)}, stream)
    env = dict(os.environ, PYTHONPATH=collections_path())
    try:
        proc = subprocess.run([sys.executable, '-m', 'ansible_collections.bemi.postgresql.plugins.modules.%s' % module,
                               args_file], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=300, check=False)
    finally:
        os.unlink(args_file)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        # What Ansible reports for a module that printed no result (a crash).
        result = {'failed': True, 'msg': 'MODULE FAILURE', 'module_stdout': proc.stdout,
                  'module_stderr': proc.stderr, 'rc': proc.returncode}
    for key in ('warnings', 'deprecations'):
        if key in result:
            result[key] = [message_text(item) for item in result[key]]
    return ModuleRun(result, 'failed' if result.get('failed') else 'ok', proc.stdout, proc.stderr, proc.returncode)


def message_text(item):
    """A warning as the controller shows it: ansible-core 2.19+ modules return structured events."""
    if isinstance(item, dict):
        event = item.get('event', item)
        return event.get('msg', str(item))
    return item


def run_module_via_ansible(module, args, check, diff, verbosity, env, python):
    """``ansible localhost -m bemi.postgresql.<module>``; the result comes from this suite's callback plugin."""
    handle, result_file = tempfile.mkstemp(prefix='bemi-result-', suffix='.jsonl')
    os.close(handle)
    argv = [os.path.join(VENV_BIN, 'ansible'), 'localhost', '-m', 'bemi.postgresql.%s' % module,
            '-a', json.dumps(args)]
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    if verbosity:
        argv.append('-' + 'v' * verbosity)
    if python:
        argv += ['-e', 'ansible_python_interpreter=%s' % python]
    extra = {'BEMI_TEST_RESULT_FILE': result_file}
    extra.update(env or {})
    try:
        proc = subprocess.run(argv, env=ansible_env(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=300, check=False)
        with open(result_file) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    finally:
        os.unlink(result_file)
    if not records:
        raise AssertionError('ansible produced no result (rc=%s)\nstdout:\n%s\nstderr:\n%s'
                             % (proc.returncode, proc.stdout, proc.stderr))
    record = records[-1]
    return ModuleRun(record['result'], record['status'], proc.stdout, proc.stderr, proc.returncode)


def run_playbook(playbook, inventory=None, extra_args=(), env=None):
    argv = [os.path.join(VENV_BIN, 'ansible-playbook'), playbook]
    if inventory:
        argv += ['-i', inventory]
    argv += list(extra_args)
    return subprocess.run(argv, env=ansible_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
