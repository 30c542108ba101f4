# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One connection per module run: argument spec, libpq parameters, clear errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.bemi.postgresql.plugins.module_utils import driver
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import PlanError
# Re-exported, so that modules import the SQL composition module from one place.
from ansible_collections.bemi.postgresql.plugins.module_utils.driver import (  # noqa: F401 pylint: disable=unused-import
    DatabaseError,
    sql,
)


# libpq's secret connection keywords (those PQconndefaults marks with dispchar "*"): their values
# never appear in results, errors, -vvv output or the managed host's log, wherever they are given.
SECRET_KEYWORDS = frozenset(('password', 'sslpassword', 'oauth_client_secret'))

# A dbname may be a whole connection string: a URI or key=value pairs (libpq expands it).
_URI_RE = re.compile(r'^postgres(?:ql)?://(?:([^@/?#]*)@)?[^?#]*(?:\?([^#]*))?')
_PAIR_RE = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']\S*)")


def _connection_string_secrets(text):
    """The secret values inside a libpq connection string (URI or key=value), raw and decoded."""
    if not isinstance(text, str):
        return []
    found = []
    uri = _URI_RE.match(text)
    if uri:
        userinfo, querystring = uri.group(1) or '', uri.group(2) or ''
        if ':' in userinfo:
            found.append(userinfo.split(':', 1)[1])
        found.extend(value for key, value in parse_qsl(querystring) if key in SECRET_KEYWORDS)
        found.extend(unquote(value) for value in list(found))
    elif '=' in text:
        for key, value in _PAIR_RE.findall(text):
            if key in SECRET_KEYWORDS:
                found.append(value)
                if value.startswith("'"):
                    found.append(re.sub(r'\\(.)', r'\1', value[1:-1]))
    return found


def secret_values(params):
    """The values to mask: secret keywords in ``connect_params``, and passwords inside connection strings."""
    extra = params.get('connect_params') or {}
    if isinstance(extra, str):
        # What Ansible's dict type will make of it ("password=x sslmode=require" or JSON).
        try:
            extra = check_type_dict(extra)
        except (TypeError, ValueError):
            return _connection_string_secrets(extra)
    if not isinstance(extra, dict):
        return []
    found = [str(value) for key, value in extra.items() if key in SECRET_KEYWORDS and value not in (None, '')]
    for text in (params.get('login_db'), params.get('db'), extra.get('dbname')):
        found.extend(_connection_string_secrets(text))
    return [value for index, value in enumerate(found) if value and value not in found[:index]]


class ConnectionModule(AnsibleModule):
    """AnsibleModule that masks the secrets given through ``connect_params`` (see SECRET_KEYWORDS).

    They are registered as soon as the arguments are read, before AnsibleModule logs
    its invocation or reports an invalid argument, so they are masked in every result,
    error, ``invocation`` (-vvv) and log line, like an option declared ``no_log``.
    """

    def _load_params(self):
        super(ConnectionModule, self)._load_params()
        self.no_log_values.update(secret_values(self.params))


def connection_argument_spec():
    """The options of the ``bemi.postgresql.connection`` doc fragment."""
    return dict(
        login_user=dict(type='str', default='postgres', fallback=(env_fallback, ['PGUSER'])),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['PGPASSWORD'])),
        login_host=dict(type='str', default='', fallback=(env_fallback, ['PGHOST'])),
        login_unix_socket=dict(type='str', default=''),
        login_port=dict(type='int', default=5432, aliases=['port'], fallback=(env_fallback, ['PGPORT'])),
        login_db=dict(type='str', aliases=['db'], fallback=(env_fallback, ['PGDATABASE'])),
        ssl_mode=dict(type='str', default='prefer', fallback=(env_fallback, ['PGSSLMODE']),
                      choices=['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
        ca_cert=dict(type='path', aliases=['ssl_rootcert']),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path', no_log=False),
        connect_timeout=dict(type='int', default=10),
        connect_params=dict(type='dict', default={}),
    )


def libpq_params(params):
    """Map module options to libpq keywords; unset options are left to libpq (and its environment)."""
    conn = {
        'user': params['login_user'],
        'port': params['login_port'],
        'sslmode': params['ssl_mode'],
        'connect_timeout': params['connect_timeout'],
    }
    host = params['login_host'] or params['login_unix_socket']
    optional = {
        'host': host,
        'password': params['login_password'],
        'dbname': params['login_db'],
        'sslrootcert': params['ca_cert'],
        'sslcert': params['ssl_cert'],
        'sslkey': params['ssl_key'],
    }
    conn.update((key, value) for key, value in optional.items() if value)
    conn.update(params['connect_params'] or {})
    return conn


def describe_target(conn_params):
    """Where we tried to connect, for error messages (never the password)."""
    host = conn_params.get('host') or 'the default unix socket'
    return '%s@%s port %s database %s' % (
        conn_params.get('user'), host, conn_params.get('port'),
        conn_params.get('dbname') or conn_params.get('user'))


# libpq's connection errors, recognised by a pattern of their (lower-cased) text: a stable code
# (returned as ``connect_error``, for playbooks to test instead of the wording), the kind, and
# the likely fix. The server's refusals are anchored at their "FATAL:", and libpq's own errors at
# the start of a line or after libpq's "failed: ", so that a name quoted in the message never
# decides the kind (a role named database_admin that does not exist is an unknown role).
# The first that matches wins; none matching means the server could not be reached.
_FATAL = r'fatal:\s+'
_LIBPQ = r'(?:^|failed: )'
CONNECT_ERRORS = (
    # Peer (or ident) first: the fix is the OS user the module runs as, not a password.
    (_FATAL + r'(?:peer|ident) authentication failed for user ', 'authentication_failed', 'peer authentication failed',
     'on the unix socket, peer authentication needs the OS user that runs the module to be login_user: run the task '
     'with become: true and become_user: postgres (for login_user postgres), or connect over TCP with login_host and '
     'login_password'),
    (_FATAL + r'[a-z0-9 ]*authentication failed for user |' + _LIBPQ + r'fe_sendauth: no password supplied',
     'authentication_failed', 'authentication failed',
     'check login_user and login_password (or PGPASSWORD / ~/.pgpass), and the pg_hba.conf line that matched'),
    (_FATAL + r'role ".*" does not exist', 'unknown_role', 'unknown role', 'create the role first or fix login_user'),
    (_FATAL + r'database ".*" does not exist', 'unknown_database', 'unknown database',
     'create the database first or fix login_db'),
    (_FATAL + r'(?:no pg_hba\.conf entry|pg_hba\.conf rejects connection)', 'rejected_by_pg_hba',
     'rejected by pg_hba.conf',
     'add a pg_hba.conf line for this client, user and database, then reload PostgreSQL'),
    (_FATAL + r'permission denied for database', 'insufficient_privilege', 'insufficient privilege',
     'GRANT CONNECT ON DATABASE to login_user'),
    (_FATAL + r'(?:sorry, too many clients already|remaining connection slots are reserved|'
              r'too many connections for (?:role|database) )', 'too_many_connections', 'too many connections',
     'close idle sessions, or raise max_connections (a restart) or the CONNECTION LIMIT of the role or database'),
    (_FATAL + r'the database system is (?:starting up|shutting down|in recovery mode|not yet accepting connections)',
     'server_not_ready', 'server starting up or shutting down',
     'wait until PostgreSQL has started, then run again'),
    (_LIBPQ + r'server does not support ssl, but ssl was required', 'ssl_not_supported',
     'the server does not support SSL',
     'the server runs with ssl = off: set ssl_mode to prefer (or disable), or turn SSL on in PostgreSQL '
     '(ssl = on, with a certificate and key)'),
    (_LIBPQ + r'timeout expired', 'timed_out', 'server unreachable (timed out)',
     'check login_host, login_port, firewalls, or raise connect_timeout'),
)
UNREACHABLE = ('server_unreachable', 'server unreachable',
               'check that the server is running and that login_host, login_unix_socket and login_port point at it')
# The codes that go away by themselves: a server that is (re)starting, or whose connections are all
# taken for a moment. The failed result says so in ``connect_error_transient``, for a retry loop.
TRANSIENT_CONNECT_ERRORS = frozenset(('server_unreachable', 'server_not_ready', 'too_many_connections'))


def explain_connect_error(message, conn_params):
    """(code, a clear message with the likely fix) for a failed connection."""
    detail = ' '.join(line.strip() for line in message.strip().splitlines() if line.strip())
    lowered = message.lower()
    code, kind, hint = next((entry[1:] for entry in CONNECT_ERRORS if re.search(entry[0], lowered, re.MULTILINE)),
                            UNREACHABLE)
    return code, 'Could not connect to PostgreSQL as %s: %s (%s). Fix: %s.' % (
        describe_target(conn_params), kind, detail, hint)


def connect(module):
    """Open the module's single connection, in autocommit mode; fail_json with a clear message otherwise."""
    if not driver.available():
        module.fail_json(msg=missing_required_lib('psycopg2 (or psycopg2-binary, or psycopg 3)'),
                         exception=driver.IMPORT_ERROR)
    conn_params = libpq_params(module.params)
    try:
        conn = driver.connect(conn_params)
    except DatabaseError as exc:
        code, message = explain_connect_error(str(exc), conn_params)
        module.fail_json(msg=message, connect_error=code, connect_error_transient=code in TRANSIENT_CONNECT_ERRORS)
    # Statements group themselves into transactions explicitly (see plan.py).
    conn.autocommit = True
    return conn


def run_with_connection(module, work, failure):
    """Open the module's one connection, call ``work(conn)``, and turn errors into clear failures.

    ``failure`` starts the message of a statement that failed mid-plan (its
    ``queries`` then say what had already run).
    """
    conn = connect(module)
    try:
        return run_on(module, conn, work, failure)
    finally:
        conn.close()


def run_on(module, conn, work, failure):
    """Call ``work(conn)`` on an open connection, and turn errors into clear failures (see run_with_connection)."""
    try:
        return work(conn)
    except PlanError as exc:
        module.fail_json(msg='%s: %s' % (failure, exc.message), queries=exc.executed)
    except DatabaseError as exc:
        lost = {'connect_error': CONNECTION_LOST, 'connect_error_transient': True} if connection_lost(conn, exc) else {}
        module.fail_json(msg='PostgreSQL error: %s' % error_text(exc), queries=[], **lost)
    return None


# The code of a connection the server cut mid-query (a restart or shutdown, such as Patroni's):
# worth another try, like server_unreachable.
CONNECTION_LOST = 'connection_lost'


def connection_lost(conn, exc):
    """Whether a statement failed because the server ended the connection (closed, or SQLSTATE class 57P)."""
    return bool(getattr(conn, 'closed', False)) or (driver.sqlstate(exc) or '').startswith('57P')


def server_version_num(conn):
    return conn.info.server_version


def query(conn, statement, args=None):
    """Run a read-only catalog query and return the rows as dicts."""
    with driver.dict_cursor(conn) as cur:
        cur.execute(statement, args)
        return [dict(row) for row in cur.fetchall()]


def query_one(conn, statement, args=None):
    rows = query(conn, statement, args)
    return rows[0] if rows else None


def is_insufficient_privilege(exc):
    return driver.sqlstate(exc) == driver.INSUFFICIENT_PRIVILEGE


def error_text(exc):
    """The server's message without the driver's trailing context, on one line."""
    diag = getattr(exc, 'diag', None)
    primary = getattr(diag, 'message_primary', None) if diag else None
    text = primary
    if not text:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else repr(exc)
    hint = getattr(diag, 'message_hint', None) if diag else None
    return '%s (hint: %s)' % (text, hint) if hint else text
