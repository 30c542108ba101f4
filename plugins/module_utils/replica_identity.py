# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Planning for bemi_replica_identity: which tables, and which ALTER TABLE for each.

Every relation the module may care about is read in ONE catalog query
(``TABLES_QUERY``), whatever the number of tables; the rest is pure Python.
"""

from __future__ import annotations

import re

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import (
    ALL_SCHEMAS,
    USER_SCHEMA_CONDITION,
    is_system_schema,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    display_table,
    parse_name,
    quote_ident as display_name,
    parse_table,
)

from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql

IDENTITY_NAMES = {'d': 'default', 'f': 'full', 'i': 'index', 'n': 'nothing'}
KIND_NAMES = {'r': 'table', 'p': 'partitioned table', 'f': 'foreign table', 'v': 'view', 'm': 'materialized view'}

# Relations in non-system schemas (temp schemas of other sessions included neither):
# kind, identity, extension membership and the direct partition parent.
TABLES_QUERY = """
SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relreplident AS identity,
       c.relpersistence AS persistence,
       c.oid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d
                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e') AS in_extension,
       pn.nspname AS parent_schema, p.relname AS parent_name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits AS i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_class AS p ON p.oid = i.inhparent
LEFT JOIN pg_catalog.pg_namespace AS pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND """ + USER_SCHEMA_CONDITION + """
ORDER BY 1, 2
"""

SCHEMAS_QUERY = """
SELECT n.nspname AS name FROM pg_catalog.pg_namespace AS n
WHERE """ + USER_SCHEMA_CONDITION + """
"""

# Whether another publication than the one this scope feeds is FOR ALL TABLES, and every ordinary
# or partitioned table another publication includes: by name, through a partitioned ancestor, or
# (15+) through its schema or an ancestor's. Read afresh on each run (no memory of an earlier run);
# the publication that the scope feeds is left out, as its tables are those in scope (in check mode
# it may not have been changed yet).
_PUBLISHED_QUERY = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE puballtables AND pubname <> %%(publication)s) AS all_tables,
       (SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname)), '[]'::json)
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL (SELECT c.oid AS relid, c.relnamespace AS nsp
                            UNION SELECT a.relid, ac.relnamespace FROM pg_catalog.pg_partition_ancestors(c.oid) AS a
                            JOIN pg_catalog.pg_class AS ac ON ac.oid = a.relid) AS up
        WHERE c.relkind IN ('r', 'p')
          AND (EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel AS pr
                       JOIN pg_catalog.pg_publication AS p ON p.oid = pr.prpubid
                       WHERE pr.prrelid = up.relid AND p.pubname <> %%(publication)s)%s)
       ) AS tables
"""
_PUBLISHED_BY_SCHEMA = """
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace AS pn
                          JOIN pg_catalog.pg_publication AS p ON p.oid = pn.pnpubid
                          WHERE pn.pnnspid = up.nsp AND p.pubname <> %(publication)s)"""


def published_query(server_version):
    """Run with {'publication': name}."""
    return _PUBLISHED_QUERY % (_PUBLISHED_BY_SCHEMA if supports(server_version, 'publication_schemas') else '')


LOCK_TIMEOUT_RE = re.compile(r'^\s*(\d+(\.\d+)?)\s*(ms|s|min|h)?\s*$')


class ScopeError(ValueError):
    pass


def parse_schemas(values):
    """``['*']`` or sorted exact schema names; raises ScopeError."""
    values = list(values or ['public'])
    if ALL_SCHEMAS in values:
        if len(values) != 1:
            raise ScopeError("schemas: '*' means every non-system schema and cannot be combined with names")
        return [ALL_SCHEMAS]
    names = []
    for value in values:
        try:
            name = parse_name(value)
        except IdentifierError as exc:
            raise ScopeError('schemas: %s' % exc)
        if is_system_schema(name):
            raise ScopeError('schemas: %s is a system schema, whose tables are never tracked' % name)
        if name not in names:
            names.append(name)
    return sorted(names)


def parse_tables(values, option):
    pairs = []
    for value in values or []:
        try:
            pair = parse_table(value)
        except IdentifierError as exc:
            raise ScopeError('%s: %s' % (option, exc))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def check_lock_timeout(value):
    """The lock_timeout as given, if PostgreSQL would read it as a positive duration; raises ScopeError."""
    match = LOCK_TIMEOUT_RE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise ScopeError("lock_timeout must be a positive duration such as '2s' or '500ms' (0 would wait forever), "
                         "not %r" % (value,))
    return str(value).strip()


def _children(rows):
    children = {}
    for row in rows:
        if row['parent_name'] is not None:
            children.setdefault((row['parent_schema'], row['parent_name']), []).append((row['schema'], row['name']))
    return children


def _trackable(row):
    return row['kind'] in ('r', 'p') and row['persistence'] != 't' and not row['in_extension']


def resolve_scope(rows, existing_schemas, tables, schemas, exclude):
    """The (schema, table) pairs in scope, sorted, and warnings.

    ``tables`` / ``exclude``: lists of (schema, table); ``schemas``: from parse_schemas.
    Partitions of every selected partitioned table are included, at every level and
    in whatever schema they live. Raises ScopeError, naming every unknown table or
    schema, before anything changes.
    """
    by_name = dict(((row['schema'], row['name']), row) for row in rows)
    warnings = []
    selected = []
    # Every problem is named at once. Schemas are checked with a table list too: the event trigger tracks them.
    problems = []
    if schemas != [ALL_SCHEMAS]:
        missing = [name for name in schemas if name not in existing_schemas]
        if missing:
            problems.append('unknown schemas: %s' % ', '.join(display_name(name) for name in missing))
    if tables:
        for pair in tables:
            row = by_name.get(pair)
            if row is None:
                problems.append('%s does not exist' % display_table(*pair))
            elif row['kind'] not in ('r', 'p'):
                problems.append('%s is a %s, which has no replica identity' % (display_table(*pair), KIND_NAMES[row['kind']]))
            elif row['in_extension']:
                problems.append('%s belongs to an extension, whose tables are never changed' % display_table(*pair))
            else:
                selected.append(pair)
    else:
        wanted = None if schemas == [ALL_SCHEMAS] else set(schemas)
        selected = [(row['schema'], row['name']) for row in rows
                    if _trackable(row) and (wanted is None or row['schema'] in wanted)]
    if problems:
        raise ScopeError('Nothing was changed: %s.' % '; '.join(problems))
    # Partitions: replica identity is not inherited, and a partition may live in another schema.
    children = _children(rows)
    result = set()
    todo = list(selected)
    while todo:
        pair = todo.pop()
        if pair in result:
            continue
        row = by_name.get(pair)
        if row is None or not _trackable(row):
            continue
        result.add(pair)
        todo.extend(children.get(pair, []))
    for pair in exclude:
        if pair not in by_name:
            warnings.append('exclude: %s does not exist' % display_table(*pair))
        result.discard(pair)
    return sorted(result), warnings


def plan_identities(rows, scope, identity):
    """[(schema, table, before, after)] for the tables whose identity must change.

    FULL replaces any other identity; DEFAULT only undoes FULL (an identity USING
    INDEX or NOTHING was somebody's choice and stays).
    """
    by_name = dict(((row['schema'], row['name']), row) for row in rows)
    changes = []
    for pair in scope:
        current = by_name[pair]['identity']
        if identity == 'full' and current != 'f':
            changes.append((pair[0], pair[1], IDENTITY_NAMES[current], 'full'))
        elif identity == 'default' and current == 'f':
            changes.append((pair[0], pair[1], 'full', 'default'))
    return changes


def plan_resets(rows, scope, exclude, published, trigger_schemas):
    """[(schema, table, 'full', 'default')] for the FULL tables that nothing tracks any more.

    A table is kept when it is in ``scope``, in ``exclude``, included by another publication
    (``published``: the published-tables query's row) or in a schema the event trigger covers
    (``trigger_schemas``: None without a trigger, ['*'] for every schema). Tables that
    belong to an extension, temporary ones, and other identities than FULL are never touched.
    """
    if published['all_tables'] or trigger_schemas == [ALL_SCHEMAS]:
        return []
    keep = set(scope) | set(exclude) | set(tuple(pair) for pair in published['tables'])
    covered = set(trigger_schemas or [])
    return [(row['schema'], row['name'], 'full', 'default') for row in rows
            if _trackable(row) and row['identity'] == 'f' and (row['schema'], row['name']) not in keep
            and row['schema'] not in covered]


def alter_statement(schema, table, identity):
    return sql.SQL('ALTER TABLE {}.{} REPLICA IDENTITY {}').format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL('FULL' if identity == 'full' else 'DEFAULT'))


def identity_diff(changes):
    before = dict((display_table(schema, table), old) for schema, table, old, dummy in changes)
    after = dict((display_table(schema, table), new) for schema, table, dummy, new in changes)
    return before, after
