"""Run the collection's modules through Ansible, as users do, and read back their results."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

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
    The process is forked from a fork server that has already imported the module runtime
    (ForkServer below; BEMI_TEST_FORKSERVER=0: a new interpreter for each run).
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
    name = 'ansible_collections.bemi.postgresql.plugins.modules.%s' % module
    try:
        if os.environ.get('BEMI_TEST_FORKSERVER', '1') == '1':
            proc = FORKSERVER.run(name, args_file, env)
        else:
            proc = subprocess.run([sys.executable, '-m', name, args_file], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
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


class Background(object):
    """A module run in a thread, so the test can act while it waits on a lock."""

    def __init__(self, module, args):
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(module, args))
        self.thread.start()

    def _run(self, module, args):
        try:
            self.result = run_module(module, args)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc

    def join(self):
        self.thread.join(timeout=300)
        if self.error:
            raise self.error
        return self.result


def no_traceback(result):
    """A module run ended in its own clear result, not a crash."""
    text = result.stdout + result.stderr + json.dumps(result.result)
    assert 'Traceback' not in text and 'KeyError' not in text, text


def wait_for_backend(cluster, dbname, condition, timeout=120):
    """The pid of a backend of ``dbname`` that matches ``condition`` (SQL on pg_stat_activity), once there is one."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        pid = cluster.scalar('SELECT pid FROM pg_stat_activity WHERE datname = %s AND ' + condition, (dbname,))
        if pid:
            return pid
        time.sleep(0.05)
    raise AssertionError('no backend of %s with %s within %d s' % (dbname, condition, timeout))


class ForkServer(object):
    """Module runs forked from one process that has imported the module runtime (module_forkserver.py).

    Same process shape as ``python -m <module> <args file>``, minus 0.15 s of start-up per run.
    BEMI_TEST_FORKSERVER=0 starts a new interpreter for every run instead.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.owner = None
        self.workdir = None

    def socket_path(self):
        with self.lock:
            if self.proc is None or self.owner != os.getpid() or self.proc.poll() is not None:
                self.workdir = tempfile.mkdtemp(prefix='bemi-forkserver-')
                path = os.path.join(self.workdir, 'socket')
                self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'module_forkserver.py'), path],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             env=dict(os.environ, PYTHONPATH=collections_path()))
                if self.proc.stdout.readline() != b'ready\n':
                    raise AssertionError('the module fork server did not start')
                self.owner = os.getpid()
                atexit.register(self.close)
            return os.path.join(self.workdir, 'socket')

    def close(self):
        if self.proc is not None and self.owner == os.getpid():
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.proc = None

    def run(self, module, args_file, env):
        path = self.socket_path()
        outdir = tempfile.mkdtemp(prefix='bemi-run-')
        request = {'module': module, 'args_file': args_file, 'env': env, 'cwd': os.getcwd(),
                   'stdout': os.path.join(outdir, 'stdout'), 'stderr': os.path.join(outdir, 'stderr')}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(300)
                conn.connect(path)
                conn.sendall((json.dumps(request) + '\n').encode('utf-8'))
                answer = b''
                while not answer.endswith(b'\n'):
                    chunk = conn.recv(64)
                    if not chunk:
                        raise AssertionError('the module fork server gave no exit status for %s' % module)
                    answer += chunk
            outputs = []
            for key in ('stdout', 'stderr'):
                with open(request[key], errors='replace') as handle:
                    outputs.append(handle.read())
        finally:
            shutil.rmtree(outdir, ignore_errors=True)
        return subprocess.CompletedProcess([module, args_file], int(answer), outputs[0], outputs[1])


FORKSERVER = ForkServer()


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
