# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parsing user-given ``schema.table`` names the way PostgreSQL reads them.

``Orders`` means ``orders`` (unquoted names fold to lower case, and as in
PostgreSQL with UTF-8 only the ASCII letters A-Z fold: ``Ünï`` stays ``Ünï``);
``"Orders"`` keeps its case; names longer than 63 bytes are cut as PostgreSQL
cuts them; ``"we ird"."Mixed Case"`` and ``public."a""b"`` work; a bare
name is in the default schema. The result is a pair of exact catalog names,
to be quoted again with ``psycopg2.sql.Identifier`` and never formatted into SQL.
"""

from __future__ import annotations

# PostgreSQL's scanner: these separate tokens; every other character (é, a no-break space) can be in a name.
WHITESPACE = ' \t\n\r\f\v'
# downcase_identifier() folds only A-Z in multibyte encodings such as UTF-8; str.lower() would fold Ü too.
_FOLD = dict((code, code + 32) for code in range(ord('A'), ord('Z') + 1))
# NAMEDATALEN - 1: longer identifiers are truncated (at a character boundary) by the server.
MAX_IDENTIFIER_BYTES = 63


class IdentifierError(ValueError):
    pass


def fold_case(text):
    """An unquoted identifier as PostgreSQL stores it: ASCII A-Z to lower case, nothing else."""
    return text.translate(_FOLD)


def truncate(name):
    """``name`` cut to 63 bytes of UTF-8 without splitting a character, as PostgreSQL does."""
    encoded = name.encode('utf-8')
    if len(encoded) <= MAX_IDENTIFIER_BYTES:
        return name
    return encoded[:MAX_IDENTIFIER_BYTES].decode('utf-8', 'ignore')


def split_qualified(text):
    """``'a."B c".d'`` -> ``['a', 'B c', 'd']``, folding unquoted parts as PostgreSQL does."""
    if not isinstance(text, str) or not text.strip():
        raise IdentifierError('empty name: %r' % (text,))
    parts = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITESPACE:
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars = []
            while True:
                if i >= n:
                    raise IdentifierError('unterminated quoted identifier in %r' % text)
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        chars.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            part = ''.join(chars)
            if not part:
                raise IdentifierError('zero-length quoted identifier in %r' % text)
        else:
            start = i
            while i < n and text[i] not in '."' and text[i] not in WHITESPACE:
                i += 1
            part = fold_case(text[start:i])
            if not part:
                raise IdentifierError('missing name in %r' % text)
        parts.append(truncate(part))
        while i < n and text[i] in WHITESPACE:
            i += 1
        if i >= n:
            return parts
        if text[i] != '.':
            raise IdentifierError('unexpected %r in %r (quote names with spaces or capitals: "My Table")'
                                  % (text[i], text))
        i += 1


def parse_table(text, default_schema='public'):
    """``(schema, table)`` from ``table`` or ``schema.table``."""
    parts = split_qualified(text)
    if len(parts) == 1:
        return default_schema, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise IdentifierError('%r has %d parts; expected table or schema.table' % (text, len(parts)))


def parse_name(text):
    """One identifier (a schema or role name), quoted or not."""
    parts = split_qualified(text)
    if len(parts) != 1:
        raise IdentifierError('%r is not a single name' % text)
    return parts[0]


def quote_ident(name):
    """Display form of a name, as PostgreSQL would print it (for messages and results only)."""
    if name and (name[0].isalpha() or name[0] == '_') and all(
            ch.islower() or ch.isdigit() or ch == '_' for ch in name if ch.isascii()) and name.isascii():
        return name
    return '"%s"' % name.replace('"', '""')


def display_table(schema, table):
    """``schema.table`` with quotes where needed; the form used in results and diffs."""
    return '%s.%s' % (quote_ident(schema), quote_ident(table))
