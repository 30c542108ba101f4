# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Facts about PostgreSQL's catalogs that several modules rely on, each defined once here."""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql

# Schemas whose tables are never tracked: these two, and every name that starts
# with pg_ (pg_toast, pg_temp_N, pg_toast_temp_N; user schemas may not start with pg_).
SYSTEM_SCHEMAS = ('pg_catalog', 'information_schema')
SYSTEM_SCHEMA_PREFIX = 'pg_'

# The schemas option's value for "every non-system schema".
ALL_SCHEMAS = '*'

# Query parameters for USER_SCHEMA_CONDITION.
SYSTEM_SCHEMA_PARAMS = {'system_schemas': list(SYSTEM_SCHEMAS), 'system_prefix': SYSTEM_SCHEMA_PREFIX}

# True for a user schema ``n`` (pg_namespace) in a catalog query run with SYSTEM_SCHEMA_PARAMS.
USER_SCHEMA_CONDITION = ("(n.nspname::text <> ALL (%(system_schemas)s::text[]) "
                         "AND NOT pg_catalog.starts_with(n.nspname::text, %(system_prefix)s))")


def user_schema_names(quoted=False):
    """SQL (with SYSTEM_SCHEMA_PARAMS) whose one value is the array of every user schema's name, sorted."""
    name = 'quote_ident(n.nspname)' if quoted else 'n.nspname::text'
    return ("(SELECT coalesce(array_agg(" + name + " ORDER BY n.nspname), '{}') FROM pg_namespace n"
            " WHERE " + USER_SCHEMA_CONDITION + ")")


def means_all_schemas(values):
    """True for a schemas option of ``['*']``; ValueError when ``'*'`` is combined with names."""
    if ALL_SCHEMAS not in values:
        return False
    if len(values) != 1:
        raise ValueError("schemas: '*' means every non-system schema and cannot be combined with names")
    return True


def is_system_schema(name):
    return name in SYSTEM_SCHEMAS or name.startswith(SYSTEM_SCHEMA_PREFIX)


def user_schema_test(expr):
    """SQL that is true when the schema name ``expr`` (SQL text) is a user schema.

    Built from string literals only, so the text is the same whatever the
    driver (stored function bodies are compared as text).
    """
    expr = sql.SQL(expr)
    tests = [sql.SQL('NOT pg_catalog.starts_with({}::text, {})').format(expr, sql.Literal(SYSTEM_SCHEMA_PREFIX))]
    tests += [sql.SQL('{}::text <> {}').format(expr, sql.Literal(name)) for name in SYSTEM_SCHEMAS]
    return sql.SQL('(') + sql.SQL(' AND ').join(tests) + sql.SQL(')')
