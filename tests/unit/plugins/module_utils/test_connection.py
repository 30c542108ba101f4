# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    CONNECT_ERRORS,
    SECRET_KEYWORDS,
    TRANSIENT_CONNECT_ERRORS,
    UNREACHABLE,
    connection_lost,
    explain_connect_error,
    secret_values,
)


def test_secret_keywords_of_connect_params():
    params = {'connect_params': {'password': 'p1', 'sslpassword': 'key-pass', 'oauth_client_secret': 'oa',
                                 'application_name': 'ansible', 'sslmode': 'require'}}
    assert sorted(secret_values(params)) == ['key-pass', 'oa', 'p1']
    assert SECRET_KEYWORDS == frozenset(['password', 'sslpassword', 'oauth_client_secret'])


@pytest.mark.parametrize('dbname, expected', [
    ('postgresql://bemi:s%40cret@db.example.com:5432/shop', ['s%40cret', 's@cret']),
    ('postgres://db.example.com/shop?sslpassword=kp&application_name=x', ['kp']),
    ("host=db password='it\\'s x' dbname=shop", ["'it\\'s x'", "it's x"]),
    ('dbname=shop password=plain', ['plain']),
    ('shop', []),
])
def test_passwords_inside_connection_strings(dbname, expected):
    assert secret_values({'login_db': dbname}) == expected
    assert secret_values({'connect_params': {'dbname': dbname}}) == expected


def test_connect_params_given_as_a_string():
    assert secret_values({'connect_params': 'password=p2 sslmode=require'}) == ['p2']
    assert secret_values({'connect_params': None}) == []


@pytest.mark.parametrize('message, code, kind', [
    ('FATAL:  password authentication failed for user "bemi"', 'authentication_failed', 'authentication failed'),
    ('fe_sendauth: no password supplied', 'authentication_failed', 'authentication failed'),
    ('FATAL:  database "shop" does not exist', 'unknown_database', 'unknown database'),
    ('FATAL:  role "nobody" does not exist', 'unknown_role', 'unknown role'),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "bemi", database "shop"', 'rejected_by_pg_hba',
     'rejected by pg_hba.conf'),
    ('FATAL:  permission denied for database "shop"\nDETAIL:  User does not have CONNECT privilege.',
     'insufficient_privilege', 'insufficient privilege'),
    ('timeout expired', 'timed_out', 'server unreachable (timed out)'),
    ('connection to server at "10.0.0.9", port 5432 failed: timeout expired', 'timed_out',
     'server unreachable (timed out)'),
    ('connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: FATAL:  Peer authentication failed for '
     'user "postgres"', 'authentication_failed', 'peer authentication failed'),
    ('FATAL:  Ident authentication failed for user "bemi"', 'authentication_failed', 'peer authentication failed'),
    # A name in the message never decides the kind.
    ('connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  role "database_admin" does not exist',
     'unknown_role', 'unknown role'),
    ('FATAL:  role "my database does not exist" does not exist', 'unknown_role', 'unknown role'),
    ('FATAL:  database "role x does not exist" does not exist', 'unknown_database', 'unknown database'),
    ('FATAL:  database "authentication failed for user " does not exist', 'unknown_database', 'unknown database'),
    ('FATAL:  pg_hba.conf rejects connection for host "[local]", user "bemi", database "shop", no encryption',
     'rejected_by_pg_hba', 'rejected by pg_hba.conf'),
    ('connection to server at "127.0.0.1", port 5432 failed: server does not support SSL, but SSL was required',
     'ssl_not_supported', 'the server does not support SSL'),
    ('FATAL:  sorry, too many clients already', 'too_many_connections', 'too many connections'),
    ('FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute',
     'too_many_connections', 'too many connections'),
    ('FATAL:  remaining connection slots are reserved for non-replication superuser connections',
     'too_many_connections', 'too many connections'),
    ('FATAL:  too many connections for role "bemi"', 'too_many_connections', 'too many connections'),
    ('FATAL:  too many connections for database "shop"', 'too_many_connections', 'too many connections'),
    ('FATAL:  the database system is starting up', 'server_not_ready', 'server starting up or shutting down'),
    ('FATAL:  the database system is shutting down', 'server_not_ready', 'server starting up or shutting down'),
    ('FATAL:  the database system is in recovery mode', 'server_not_ready', 'server starting up or shutting down'),
    ('FATAL:  the database system is not yet accepting connections\nDETAIL:  Consistent recovery state has not '
     'been yet reached.', 'server_not_ready', 'server starting up or shutting down'),
    # Hot standby off: not a state that passes.
    ('FATAL:  the database system is not accepting connections\nDETAIL:  Hot standby mode is disabled.',
     'server_unreachable', 'server unreachable'),
    ('connection to server at "127.0.0.1", port 5 failed: Connection refused', 'server_unreachable',
     'server unreachable'),
])
def test_connect_errors_are_explained(message, code, kind):
    found, text = explain_connect_error(message, {'user': 'bemi', 'host': 'db1', 'port': 5432, 'dbname': 'shop'})
    assert found == code
    assert text.startswith('Could not connect to PostgreSQL as bemi@db1 port 5432 database shop: %s (' % kind), text
    assert ' Fix: ' in text and 'password=' not in text


def test_peer_authentication_names_become_user():
    text = explain_connect_error('FATAL:  Peer authentication failed for user "postgres"', {'user': 'postgres'})[1]
    assert 'become_user: postgres' in text


def test_every_connect_error_is_in_the_troubleshooting_guide():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    with open(os.path.join(root, 'docs', 'troubleshooting.md')) as handle:
        rows = dict(re.findall(r'^\| `([^`]+)` \(`([a-z_]+)`\) \|', handle.read(), re.MULTILINE))
    in_code = dict((kind, code) for dummy, code, kind, dummy_fix in CONNECT_ERRORS + (('',) + UNREACHABLE,))
    assert rows == in_code


def test_transient_codes():
    """What a retry loop may wait out: a (re)starting server, connections all taken for a moment."""
    codes = set(entry[1] for entry in CONNECT_ERRORS) | set([UNREACHABLE[0]])
    assert TRANSIENT_CONNECT_ERRORS == {'server_unreachable', 'server_not_ready', 'too_many_connections'}
    assert TRANSIENT_CONNECT_ERRORS <= codes


class _Conn:
    def __init__(self, closed):
        self.closed = closed


class _Error(Exception):
    def __init__(self, pgcode=None):
        super().__init__('error')
        self.pgcode = pgcode


@pytest.mark.parametrize('closed, pgcode, lost', [
    (2, None, True),             # psycopg2: the server closed the connection mid-query
    (True, None, True),          # psycopg 3
    (0, '57P01', True),          # terminating connection due to administrator command (a fast shutdown)
    (0, '57P03', True),          # the database system is starting up / shutting down
    (0, '42501', False),         # a real error of the statement: not worth another try
    (False, None, False),
])
def test_connection_lost_is_a_restart_not_an_error_of_the_statement(closed, pgcode, lost):
    assert connection_lost(_Conn(closed), _Error(pgcode)) is lost
