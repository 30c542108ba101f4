"""A fork server for module runs: each run is a new process, without the interpreter's start-up.

A module run starts Python and imports ansible-core's module runtime, psycopg2 and the
collection's module_utils: about 0.15 s of CPU, most of a short module run's cost, and the
suite makes hundreds of runs per major. This server imports them once; every run is then a
fork of it that executes the module as ``python -m <module> <args file>`` would (runpy, as
``__main__``), with the caller's environment and working directory, its own stdout and stderr
files and its own exit status. Nothing of a run survives it: the server itself never runs a
module, so each fork starts from freshly imported, never used module state.

    python module_forkserver.py SOCKET    serve on a unix socket until stdin closes (its client ended)
"""

from __future__ import annotations

import json
import os
import pkgutil
import runpy
import socket
import sys
import threading
import traceback


def preload():
    import ansible.module_utils.basic  # noqa: F401  pylint: disable=unused-import
    import psycopg2  # noqa: F401  pylint: disable=unused-import
    import psycopg2.extras  # noqa: F401  pylint: disable=unused-import
    import psycopg2.sql  # noqa: F401  pylint: disable=unused-import
    import ansible_collections.bemi.postgresql.plugins.module_utils as utils
    for info in pkgutil.iter_modules(utils.__path__):
        __import__('%s.%s' % (utils.__name__, info.name))


def run(request):
    """In the forked child: become ``python -m module args_file`` and never return."""
    code = 1
    try:
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, path in ((1, request['stdout']), (2, request['stderr'])):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(handle, fd)
            os.close(handle)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, 'w', closefd=False)
        sys.stderr = open(2, 'w', closefd=False)
        sys.argv = [request['module'], request['args_file']]
        # As with python -m: the working directory first on the path (not this file's directory).
        sys.path[0] = request['cwd']
        try:
            runpy.run_module(request['module'], run_name='__main__', alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                sys.stderr.write('%s\n' % exc.code)
        except BaseException:  # pylint: disable=broad-except
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # pylint: disable=broad-except
                pass
        os._exit(code)


def handle(conn):
    """In a forked handler: read one request, fork the run, send back its exit status."""
    data = b''
    while not data.endswith(b'\n'):
        chunk = conn.recv(65536)
        if not chunk:
            os._exit(1)
        data += chunk
    request = json.loads(data.decode('utf-8'))
    pid = os.fork()
    if pid == 0:
        conn.close()
        run(request)
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    conn.sendall(('%d\n' % code).encode())
    conn.close()
    os._exit(0)


def reap(block):
    """Wait for ended handlers, so that their CPU time (and their runs') counts in ours, and so in the client's."""
    while True:
        try:
            pid, _status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def exit_with_client():
    """The client holds our stdin: when it ends, however it ends, so do we (after the runs under way)."""
    sys.stdin.buffer.read()
    reap(block=True)
    os._exit(0)


def serve(path):
    preload()
    threading.Thread(target=exit_with_client, daemon=True).start()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    while True:
        conn, _addr = server.accept()
        if os.fork() == 0:
            server.close()
            handle(conn)
        conn.close()
        reap(block=False)


if __name__ == '__main__':
    serve(sys.argv[1])
