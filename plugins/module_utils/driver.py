# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The database driver: psycopg2, or psycopg 3 when psycopg2 is not installed.

Everything else in the collection uses only what both drivers share (``sql``,
``conn.info``, ``conn.autocommit``, cursors as context managers, ``exc.diag``)
plus the few functions here, so the modules never name a driver.
"""

from __future__ import annotations

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
