# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: table_schema
short_description: The schema of a C(schema.table) name, read as PostgreSQL reads it
version_added: 0.2.0
description:
  - Returns the schema part of a table name as given to the modules' C(tables) options,
    in SQL form (quoted where PostgreSQL needs quotes), so it can be passed on as a schema name.
  - A bare table name is in O(default).
  - Unquoted names fold to lower case as PostgreSQL folds them; quoted names keep their case.
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: A table name, C(table) or C(schema.table), quoted where needed.
    type: str
    required: true
  default:
    description: The schema of a bare table name.
    type: str
    default: public
"""

EXAMPLES = r"""
- name: The schemas of a table list
  ansible.builtin.debug:
    msg: "{{ ['orders', 'billing.invoices', '\"Sales\".\"Q1\"'] | map('bemi.postgresql.table_schema') | unique | list }}"
  # -> ['public', 'billing', '"Sales"']
"""

RETURN = r"""
_value:
  description: The schema name in SQL form.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    parse_table,
    quote_ident,
)


def table_schema(name, default='public'):
    try:
        return quote_ident(parse_table(name, default_schema=default)[0])
    except IdentifierError as exc:
        raise AnsibleFilterError('bemi.postgresql.table_schema: %s' % exc)


class FilterModule:

    def filters(self):
        return {'table_schema': table_schema}
