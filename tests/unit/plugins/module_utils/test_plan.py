from __future__ import annotations

from psycopg2 import sql

from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    display_table,
    parse_name,
    parse_table,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan, Step, backoff_delay

import pytest


def test_check_mode_only_renders_and_masks_secrets():
    plan = Plan()
    assert not plan
    plan.add(sql.SQL("ALTER SYSTEM SET wal_level = 'logical'"))
    plan.add_transaction([Step(sql.SQL("ALTER ROLE bemi PASSWORD 'SCRAM-SHA-256$4096:...'"),
                               sql.SQL("ALTER ROLE bemi PASSWORD '********'"))], label='bemi')
    result = plan.apply(conn=None, check_mode=True)
    assert result.changed
    assert result.queries == ["ALTER SYSTEM SET wal_level = 'logical'", "ALTER ROLE bemi PASSWORD '********'"]
    assert result.failed == []


def test_empty_transactions_are_not_added():
    plan = Plan()
    plan.add_transaction([])
    assert not plan and plan.apply(None, True).queries == []


def test_backoff_grows_and_is_capped():
    assert backoff_delay(0, rand=lambda: 1.0) == pytest.approx(0.1)
    assert backoff_delay(3, rand=lambda: 1.0) == pytest.approx(0.8)
    assert backoff_delay(20, rand=lambda: 1.0) == 5.0
    assert backoff_delay(2, rand=lambda: 0.0) == 0.0


@pytest.mark.parametrize('text, expected', [
    ('orders', ('public', 'orders')),
    ('Orders', ('public', 'orders')),
    ('app.Orders', ('app', 'orders')),
    ('"we ird"."Mixed Case"', ('we ird', 'Mixed Case')),
    ('public."a""b"', ('public', 'a"b')),
    ('"x;drop table t"', ('public', 'x;drop table t')),
    (' app . "Ünï" ', ('app', 'Ünï')),
])
def test_parse_table(text, expected):
    assert parse_table(text) == expected


@pytest.mark.parametrize('text', ['', 'a.b.c', '"open', 'a b', '""', 'a.'])
def test_parse_table_rejects(text):
    with pytest.raises(IdentifierError):
        parse_table(text)


def test_display_round_trips():
    for schema, table in [('public', 'orders'), ('we ird', 'Mixed Case'), ('public', 'a"b'), ('app', 'Ünï')]:
        assert parse_table(display_table(schema, table)) == (schema, table)
    assert parse_name('"App"') == 'App'


@pytest.mark.parametrize('text, expected', [
    # PostgreSQL (UTF-8) folds only ASCII A-Z; Python's lower() would also fold Ü, Ï and the Turkish İ.
    ('Ünï2', ('public', 'Ünï2')),
    ('ÜNÏ.ABCß', ('ÜnÏ', 'abcß')),
    ('İstanbul', ('public', 'İstanbul')),
    # A no-break space is part of a name for PostgreSQL's scanner, not a separator.
    ('a\u00a0b', ('public', 'a\u00a0b')),
])
def test_folding_is_postgresql_s(text, expected):
    assert parse_table(text) == expected


def test_long_names_are_cut_as_postgresql_cuts_them():
    assert parse_name('A' * 70) == 'a' * 63
    # 31 two-byte characters are 62 bytes; the 32nd would cross 63 bytes and is dropped whole.
    assert parse_name('"%s"' % ('é' * 40)) == 'é' * 31
