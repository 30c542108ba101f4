# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.table_schema import FilterModule, table_schema


@pytest.mark.parametrize('name, schema', [
    ('orders', 'public'),
    ('Orders', 'public'),
    ('billing.invoices', 'billing'),
    ('Billing.invoices', 'billing'),
    ('"Sales"."Q1"', '"Sales"'),
    ('"we ird".t', '"we ird"'),
    ('"a.b".t', '"a.b"'),
    ('"x""y".t', '"x""y"'),
])
def test_schema_in_sql_form(name, schema):
    assert table_schema(name) == schema


def test_bare_name_takes_the_default():
    assert table_schema('orders', default='app') == 'app'


@pytest.mark.parametrize('name', ['', 'a.b.c', '"open', 'a b'])
def test_bad_names_are_clear_errors(name):
    with pytest.raises(AnsibleFilterError, match='table_schema'):
        table_schema(name)


def test_registered_name():
    assert FilterModule().filters() == {'table_schema': table_schema}
