# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The database driver: psycopg2, or psycopg 3 when psycopg2 is not installed.

Everything else in the collection uses only what both drivers share (``sql``,
``conn.info``, ``conn.autocommit``, cursors as context managers, ``exc.diag``)
plus the few functions here, so the modules never name a driver.
"""

from __future__ import annotations

import os
import select
import socket
import traceback

NAME = None
IMPORT_ERROR = None
sql = None  # pylint: disable=invalid-name
_rows = None

try:
    import psycopg2 as _driver
    import psycopg2.extras
    from psycopg2 import sql  # noqa: F811 pylint: disable=unused-import
    NAME = 'psycopg2'
except ImportError:
    IMPORT_ERROR = traceback.format_exc()
    try:
        import psycopg as _driver
        from psycopg import rows as _rows
        from psycopg import sql  # noqa: F811
        NAME = 'psycopg'
        IMPORT_ERROR = None
    except ImportError:
        _driver = None


class _NoDriver(Exception):
    """Stands in for the driver's Error class when no driver is installed (never raised)."""


DatabaseError = _driver.Error if _driver is not None else _NoDriver

# SQLSTATE codes the collection reacts to.
INSUFFICIENT_PRIVILEGE = '42501'
LOCK_NOT_AVAILABLE = '55P03'
DEADLOCK_DETECTED = '40P01'
UNDEFINED_TABLE = '42P01'
INVALID_SCHEMA_NAME = '3F000'
# Worth another try after a back-off: the other session will release its lock.
LOCK_BUSY = (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED)
# The statement's object was dropped or renamed (or its schema dropped) since the catalogs were read.
OBJECT_GONE = (UNDEFINED_TABLE, INVALID_SCHEMA_NAME)


def available():
    return _driver is not None


def connect(params):
    """A new connection from libpq keyword parameters."""
    return _driver.connect(**params)


def sqlstate(exc):
    """The SQLSTATE of a driver error, or None."""
    return getattr(exc, 'pgcode', None) or getattr(exc, 'sqlstate', None)


def dict_cursor(conn):
    """A cursor whose rows are dicts keyed by column name."""
    if NAME == 'psycopg2':
        return conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    return conn.cursor(row_factory=_rows.dict_row)


# -- Replication connections (the end-to-end probe) ---------------------------
# psycopg2 speaks the streaming protocol through LogicalReplicationConnection;
# psycopg 3 does not, so its session talks to libpq directly (psycopg.pq):
# simple-query commands (a walsender refuses the extended protocol) and CopyBoth.

def replication_connect(params):
    """A ``replication=database`` connection from libpq keyword parameters, as a ReplicationSession."""
    if NAME == 'psycopg2':
        return _Psycopg2Session(params)
    return _PqSession(params)


class _Psycopg2Session:
    def __init__(self, params):
        self.conn = _driver.connect(connection_factory=psycopg2.extras.LogicalReplicationConnection, **params)
        self.cur = self.conn.cursor()
        self.backend_pid = self.conn.get_backend_pid()

    def command(self, statement):
        """Run a replication command or a SELECT; return its rows as tuples."""
        self.cur.execute(statement)
        return self.cur.fetchall() if self.cur.description else []

    def start(self, statement):
        """START_REPLICATION: returns once the server has entered CopyBoth (the stream started)."""
        self.cur.start_replication_expert(statement, decode=False)

    def read(self, timeout):
        """The payload of the next XLogData message, or None when nothing arrived within ``timeout`` s."""
        message = self.cur.read_message()
        if message is None:
            select.select([self.conn], [], [], max(0.0, timeout))
            message = self.cur.read_message()
        return None if message is None else bytes(message.payload)

    def cancel(self):
        self.conn.cancel()

    def abort(self):
        _shut_down(self.conn.fileno())

    def close(self):
        self.conn.close()


class _PqSession:
    def __init__(self, params):
        from psycopg import pq  # pylint: disable=import-outside-toplevel
        self.pq = pq
        self.conn = _driver.connect(replication='database', autocommit=True, **params)
        self.pgconn = self.conn.pgconn
        self.backend_pid = self.pgconn.backend_pid

    def _exec(self, statement, expected):
        text = statement if isinstance(statement, str) else statement.as_string(self.conn)
        result = self.pgconn.exec_(text.encode('utf-8'))
        if result.status not in expected:
            message = (result.error_message or self.pgconn.error_message or b'').decode('utf-8', 'replace')
            state = result.error_field(self.pq.DiagnosticField.SQLSTATE)
            raise _pq_error(state)(message.strip() or 'replication command failed')
        return result

    def command(self, statement):
        status = self.pq.ExecStatus
        result = self._exec(statement, (status.TUPLES_OK, status.COMMAND_OK))
        return [tuple(None if value is None else value.decode('utf-8') for value in
                      (result.get_value(row, col) for col in range(result.nfields)))
                for row in range(result.ntuples)]

    def start(self, statement):
        self._exec(statement, (self.pq.ExecStatus.COPY_BOTH,))

    def read(self, timeout):
        size, data = self.pgconn.get_copy_data(1)
        if size == 0:
            select.select([self.pgconn.socket], [], [], max(0.0, timeout))
            self.pgconn.consume_input()
            size, data = self.pgconn.get_copy_data(1)
        if size < 0:
            raise _driver.OperationalError(self.pgconn.error_message.decode('utf-8', 'replace').strip()
                                           or 'the replication stream ended')
        data = bytes(data) if size else b''
        # XLogData is 'w', start and end LSN, send time (25 bytes), then the plugin's payload.
        return data[25:] if data[:1] == b'w' else None

    def cancel(self):
        self.pgconn.get_cancel().cancel()

    def abort(self):
        _shut_down(self.pgconn.socket)

    def close(self):
        self.conn.close()


def _pq_error(state):
    """psycopg's exception class for a SQLSTATE (so sqlstate() reads it back), else OperationalError."""
    try:
        return _driver.errors.lookup(state.decode())
    except (AttributeError, KeyError):
        return _driver.OperationalError


def _shut_down(fileno):
    """Shut a connection's socket down under libpq, so that a call blocked on a silent server returns."""
    try:
        sock = socket.socket(fileno=os.dup(fileno))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
    except OSError:  # already closed
        pass
