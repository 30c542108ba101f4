# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Planning for bemi_replica_identity: which tables, and which ALTER TABLE for each.

Every relation the module may care about is read in ONE catalog query
(``TABLES_QUERY``), whatever the number of tables; the rest is pure Python.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import (
    ALL_SCHEMAS,
    SYSTEM_SCHEMA_PARAMS,
    USER_SCHEMA_CONDITION,
    is_system_schema,
    means_all_schemas,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.connection import query
from ansible_collections.bemi.postgresql.plugins.module_utils.plan import Plan
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

# How many times a run reads the catalogs again for tables that were renamed (or
# created before the trigger was in place) while it went on. Each read only
# finds what moved during the previous one, so a few are plenty.
FOLLOW_UP_READS = 5

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


def track_choice(identity, tables, track_new_tables):
    """True (install the trigger), False (remove it) or None (leave it as it is); raises ScopeError.

    Unset, it follows ``identity``, except that setting a list of tables back to
    DEFAULT leaves the trigger alone: the other tables are still tracked.
    """
    if track_new_tables is None:
        if identity == 'default' and tables is not None:
            return None
        return identity == 'full'
    if track_new_tables and identity == 'default' and tables is None:
        raise ScopeError('track_new_tables: true would give new tables FULL while identity: default, without tables, '
                         'sets every table of schemas back to DEFAULT. Use track_new_tables: false to stop tracking, '
                         'or give the tables to set back to DEFAULT.')
    return track_new_tables


def partition_trees(rows, tables, scope):
    """The listed partitioned tables in ``scope``, sorted: their partitions created or attached later are
    published with them, so the event trigger must track those trees even when it tracks no schema."""
    kinds = dict(((row['schema'], row['name']), row['kind']) for row in rows)
    in_scope = set(scope)
    return sorted(pair for pair in tables or [] if kinds.get(pair) == 'p' and pair in in_scope)


def trigger_scope(track, schemas, trees):
    """What the event trigger tracks after the run, as (schemas, trees), or None to leave it as it is.

    ``track`` is track_choice's answer, ``trees`` partition_trees' (empty unless asked for). Without
    track_new_tables the trigger still tracks the partition trees, and only them; ([], []) removes it.
    """
    if track is None:
        return None
    return (schemas, trees) if track else ([], trees)


def read_tables(conn):
    """(rows of TABLES_QUERY, set of user schema names): two catalog queries, whatever the number of tables."""
    rows = query(conn, TABLES_QUERY, SYSTEM_SCHEMA_PARAMS)
    schemas = set(row['name'] for row in query(conn, SCHEMAS_QUERY, SYSTEM_SCHEMA_PARAMS))
    return rows, schemas


def parse_schemas(values):
    """``['*']`` or sorted exact schema names; raises ScopeError."""
    values = list(values or ['public'])
    try:
        if means_all_schemas(values):
            return [ALL_SCHEMAS]
    except ValueError as exc:
        raise ScopeError(str(exc))
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


def with_partitions(pairs, children, accept=None):
    """``pairs`` and every partition below them, at every level (partitions may live in other schemas).

    With ``accept``, a relation it rejects is left out, and so is everything below it.
    """
    result = set()
    todo = list(pairs)
    while todo:
        pair = todo.pop()
        if pair not in result and (accept is None or accept(pair)):
            result.add(pair)
            todo.extend(children.get(pair, []))
    return result


def _trackable(row):
    return row['kind'] in ('r', 'p') and row['persistence'] != 't' and not row['in_extension']


def _check_schemas(schemas, existing_schemas):
    """Schemas are checked with a table list too: the event trigger tracks them."""
    if schemas == [ALL_SCHEMAS]:
        return []
    missing = [name for name in schemas if name not in existing_schemas]
    return ['unknown schemas: %s' % ', '.join(display_name(name) for name in missing)] if missing else []


def _select_tables(by_name, tables, problems):
    selected = []
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
    return selected


def resolve_scope(rows, existing_schemas, tables, schemas, exclude, strict=True):
    """The (schema, table) pairs in scope, sorted, and warnings.

    ``tables`` / ``exclude``: lists of (schema, table); ``schemas``: from parse_schemas.
    Partitions of every selected partitioned table are included, at every level and
    in whatever schema they live. Raises ScopeError, naming every unknown table or
    schema, before anything changes. With ``strict`` false (a second read in the
    same run), tables and schemas that have gone meanwhile are left out instead.
    """
    by_name = dict(((row['schema'], row['name']), row) for row in rows)
    problems = _check_schemas(schemas, existing_schemas)
    if tables:
        selected = _select_tables(by_name, tables, problems)
    else:
        wanted = None if schemas == [ALL_SCHEMAS] else set(schemas)
        selected = [(row['schema'], row['name']) for row in rows
                    if _trackable(row) and (wanted is None or row['schema'] in wanted)]
    if problems and strict:
        raise ScopeError('Nothing was changed: %s.' % '; '.join(problems))
    # Partitions: replica identity is not inherited, and a partition may live in another schema.
    children = _children(rows)
    result = with_partitions(selected, children, lambda pair: pair in by_name and _trackable(by_name[pair]))
    warnings = ['exclude: %s does not exist' % display_table(*pair) for pair in exclude if pair not in by_name]
    # Excluding a partitioned table excludes its partitions, at every level.
    return sorted(result - with_partitions(exclude, children)), warnings


class IdentityChange(namedtuple('IdentityChange', ['schema', 'table', 'before', 'after'])):
    """One table whose identity must change, from ``before`` to ``after`` (names as in IDENTITY_NAMES)."""

    __slots__ = ()

    @property
    def label(self):
        """The table as shown in results, diffs and Plan labels."""
        return display_table(self.schema, self.table)


def plan_identities(rows, scope, identity):
    """[IdentityChange] for the tables whose identity must change.

    FULL replaces any other identity; DEFAULT only undoes FULL (an identity USING
    INDEX or NOTHING was somebody's choice and stays).
    """
    by_name = dict(((row['schema'], row['name']), row) for row in rows)
    changes = []
    for pair in scope:
        current = by_name[pair]['identity']
        if identity == 'full' and current != 'f':
            changes.append(IdentityChange(pair[0], pair[1], IDENTITY_NAMES[current], 'full'))
        elif identity == 'default' and current == 'f':
            changes.append(IdentityChange(pair[0], pair[1], 'full', 'default'))
    return changes


def plan_resets(rows, scope, exclude, published, trigger_schemas):
    """[IdentityChange] to DEFAULT for the FULL tables that nothing tracks any more.

    A table is kept when it is in ``scope``, in ``exclude``, included by another publication
    (``published``: the published-tables query's row) or in a schema the event trigger covers
    (``trigger_schemas``: None without a trigger, ['*'] for every schema). Tables that
    belong to an extension, temporary ones, and other identities than FULL are never touched.
    """
    if published['all_tables'] or trigger_schemas == [ALL_SCHEMAS]:
        return []
    keep = set(scope) | with_partitions(exclude, _children(rows)) | set(tuple(pair) for pair in published['tables'])
    covered = set(trigger_schemas or [])
    return [IdentityChange(row['schema'], row['name'], 'full', 'default') for row in rows
            if _trackable(row) and row['identity'] == 'f' and (row['schema'], row['name']) not in keep
            and row['schema'] not in covered]


def split_published(changes, published):
    """([IdentityChange], [IdentityChange]): the changes to DEFAULT that may go ahead, and those kept.

    A table another publication includes (``published``: the published-tables query's row; every table
    under another FOR ALL TABLES publication) keeps FULL: its consumers may need the old row, and
    without a primary key its UPDATE and DELETE fail under DEFAULT. The same rule as ``plan_resets``.
    """
    others = set(tuple(pair) for pair in published['tables'])
    kept = [change for change in changes if change.after == 'default'
            and (published['all_tables'] or (change.schema, change.table) in others)]
    return [change for change in changes if change not in kept], kept


def alter_statement(schema, table, identity):
    return sql.SQL('ALTER TABLE {}.{} REPLICA IDENTITY {}').format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL('FULL' if identity == 'full' else 'DEFAULT'))


def identity_diff(changes):
    before = dict((change.label, change.before) for change in changes)
    after = dict((change.label, change.after) for change in changes)
    return before, after


def add_alters(plan, changes, options):
    """One short, skippable transaction per table, under lock_timeout and with retries."""
    settings = {'lock_timeout': options['lock_timeout'], 'synchronous_commit': 'off'}
    for change in changes:
        plan.add_transaction([alter_statement(change.schema, change.table, change.after)], settings=settings,
                             retries=options['retries'], label=change.label, skippable=True)


class Progress:
    """What a run did over its reads of the catalogs: the changes made, the queries run, the tables that
    stayed locked (``failed``) and those that were dropped or renamed meanwhile (``skipped``)."""

    def __init__(self, changes, applied):
        self.done = []
        self.locked = []
        self.queries = []
        self.failed = []
        self.skipped = []
        self.add(changes, applied)

    def add(self, changes, applied):
        self.queries.extend(applied.queries)
        self.failed.extend(applied.failed)
        for change in changes:
            if change.label in applied.skipped:
                if change.label not in self.skipped:
                    self.skipped.append(change.label)
            elif change.label in applied.failed:
                self.locked.append(change)
            else:
                self.done.append(change)
                if change.label in self.skipped:
                    # A table of that name appeared again and was changed.
                    self.skipped.remove(change.label)

    def changed_tables(self, among=None):
        """The tables changed, or only those of the changes ``among``."""
        wanted = None if among is None else set(change.label for change in among)
        return [change.label for change in self.done if wanted is None or change.label in wanted]

    def diff(self):
        """(before, after) identities of the tables changed or locked; a table that stayed locked keeps its own."""
        before, after = identity_diff(self.done + self.locked)
        for change in self.locked:
            after[change.label] = change.before
        return before, after


def finish_moved_tables(conn, options, progress):
    """Read the catalogs again and change what is left in scope, until nothing moved meanwhile.

    Tables that stayed locked are not tried again (they had their retries).
    """
    for dummy in range(FOLLOW_UP_READS):
        rows, existing_schemas = read_tables(conn)
        scope, dummy_warnings = resolve_scope(rows, existing_schemas, options['tables'], options['schemas'],
                                              options['exclude'], strict=False)
        # Tables that stayed locked had their retries; tables kept FULL (split_published) stay so.
        changes = [change for change in plan_identities(rows, scope, options['identity'])
                   if change.label not in progress.failed and change.label not in options.get('kept', ())]
        if not changes:
            return
        plan = Plan()
        add_alters(plan, changes, options)
        applied = plan.apply(conn, check_mode=False)
        progress.add(changes, applied)
        if not applied.skipped:
            return
