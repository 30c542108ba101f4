# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL password verifiers, built and checked on the client.

A plaintext password is turned into a SCRAM-SHA-256 (or md5) verifier here, so
the server and its statement log only ever see the verifier. A stored verifier
is compared with a plaintext password by recomputing it with the stored salt
and iteration count, which is what the server does at login. The text forms
and the SASLprep step follow PostgreSQL's own code (``scram-common.c``,
``saslprep.c``) and libpq's ``PQencryptPasswordConn``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stringprep
import unicodedata

SCRAM = 'scram-sha-256'
MD5 = 'md5'
PLAIN = 'plain'

SCRAM_PREFIX = 'SCRAM-SHA-256'
DEFAULT_ITERATIONS = 4096
SALT_LENGTH = 16
KEY_LENGTH = 32

_MD5_RE = re.compile(r'^md5[0-9a-f]{32}$')


class ScramSecret:
    """The parts of ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``."""

    def __init__(self, iterations, salt, stored_key, server_key):
        self.iterations = iterations
        self.salt = salt
        self.stored_key = stored_key
        self.server_key = server_key

    def __str__(self):
        return '%s$%d:%s$%s:%s' % (SCRAM_PREFIX, self.iterations, _b64(self.salt),
                                   _b64(self.stored_key), _b64(self.server_key))


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def _b64decode(text):
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def parse_scram(text):
    """A ScramSecret, or None when ``text`` is not a SCRAM-SHA-256 verifier as the server reads one."""
    if not isinstance(text, str) or not text.startswith(SCRAM_PREFIX + '$'):
        return None
    parts = text[len(SCRAM_PREFIX) + 1:].split('$')
    if len(parts) != 2:
        return None
    head, keys = parts[0].split(':'), parts[1].split(':')
    if len(head) != 2 or len(keys) != 2 or not head[0].isdigit() or not head[0].isascii():
        return None
    iterations = int(head[0])
    salt, stored_key, server_key = (_b64decode(part) for part in (head[1], keys[0], keys[1]))
    if iterations < 1 or not salt or stored_key is None or server_key is None:
        return None
    if len(stored_key) != KEY_LENGTH or len(server_key) != KEY_LENGTH:
        return None
    return ScramSecret(iterations, salt, stored_key, server_key)


def is_md5(text):
    return isinstance(text, str) and bool(_MD5_RE.match(text))


def password_type(text):
    """How the server would read ``text`` given as a password: a verifier (scram, md5) or plain."""
    if is_md5(text):
        return MD5
    if parse_scram(text) is not None:
        return SCRAM
    return PLAIN


def saslprep(password):
    """The bytes that SCRAM hashes: SASLprep (RFC 4013) as PostgreSQL applies it.

    Like the server and libpq, a password that SASLprep rejects (prohibited
    characters, bad bidirectional text) is used as its raw UTF-8 bytes.
    """
    raw = password.encode('utf-8')
    if password.isascii():
        return raw
    mapped = []
    for char in password:
        if stringprep.in_table_c12(char):
            mapped.append(' ')
        elif not stringprep.in_table_b1(char):
            mapped.append(char)
    text = unicodedata.normalize('NFKC', ''.join(mapped))
    if not text:
        return raw
    prohibited = (stringprep.in_table_a1, stringprep.in_table_c12, stringprep.in_table_c21_c22,
                  stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
                  stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
                  stringprep.in_table_c9)
    if any(check(char) for char in text for check in prohibited):
        return raw
    if any(stringprep.in_table_d1(char) for char in text):
        if any(stringprep.in_table_d2(char) for char in text):
            return raw
        if not (stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1])):
            return raw
    return text.encode('utf-8')


def scram_secret(password, salt, iterations):
    salted = hashlib.pbkdf2_hmac('sha256', saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
    server_key = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
    return ScramSecret(iterations, salt, hashlib.sha256(client_key).digest(), server_key)


def scram_verifier(password, iterations=DEFAULT_ITERATIONS, salt=None):
    """A new SCRAM-SHA-256 verifier with a random salt (as libpq makes one)."""
    return str(scram_secret(password, salt if salt is not None else os.urandom(SALT_LENGTH), iterations))


def md5_verifier(password, role):
    """``md5`` + md5(password || role name): the role name is the salt."""
    return 'md5' + hashlib.md5((password + role).encode('utf-8')).hexdigest()  # nosec: PostgreSQL's format


def verify(password, role, stored):
    """True when plaintext ``password`` is the one behind verifier ``stored`` (of role ``role``)."""
    secret = parse_scram(stored)
    if secret is not None:
        mine = scram_secret(password, secret.salt, secret.iterations)
        return (hmac.compare_digest(mine.stored_key, secret.stored_key)
                and hmac.compare_digest(mine.server_key, secret.server_key))
    if is_md5(stored):
        return hmac.compare_digest(md5_verifier(password, role), stored)
    return False


class PasswordDecision:
    """What to do about the password: ``verifier`` to set (None: leave it), and why."""

    def __init__(self, verifier, reason, warning=None):
        self.verifier = verifier
        self.reason = reason
        self.warning = warning

    @property
    def change(self):
        return self.verifier is not None


def decide_password(password, role, exists, stored, readable, update_password, encryption,
                    iterations=DEFAULT_ITERATIONS):
    """Decide whether (and to what verifier) the password of ``role`` must be set.

    ``stored`` is the stored verifier (None: no password), meaningful only when
    ``readable``; ``encryption`` the server's ``password_encryption``.
    """
    if password is None:
        return PasswordDecision(None, 'not managed')
    if exists and update_password == 'on_create':
        return PasswordDecision(None, 'on_create: the existing password is kept')
    kind = password_type(password)
    if kind == PLAIN:
        if encryption == MD5:
            wanted = md5_verifier(password, role)
        else:
            wanted = scram_verifier(password, iterations)
    else:
        wanted = password
    if not exists:
        return PasswordDecision(wanted, 'new role')
    if not readable:
        return PasswordDecision(wanted, 'stored verifier unreadable', warning=(
            'The stored password of role %s cannot be read by the login user (only a superuser can read '
            'pg_authid), so it cannot be compared and is set again on every run. Use a superuser, or '
            'update_password=on_create.' % role))
    if stored is None:
        return PasswordDecision(wanted, 'no password yet')
    if kind != PLAIN:
        return PasswordDecision(None if stored == password else wanted, 'verifier given')
    if is_md5(stored) and encryption != MD5:
        return PasswordDecision(wanted, 'md5 upgraded to SCRAM-SHA-256')
    if verify(password, role, stored):
        return PasswordDecision(None, 'matches')
    return PasswordDecision(wanted, 'differs')
