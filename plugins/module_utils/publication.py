# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Planning for bemi_publication: read the publication, resolve the wanted tables, plan the change.

Two catalog reads at most (the publication with its tables and schemas, then every
requested table and schema at once), whatever the number of tables. ``plan_publication``
is pure: it turns the current and the wanted state into a list of actions, which
``build_statements`` composes into SQL with the driver's ``sql`` module only.
"""

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.catalog import USER_SCHEMA_CONDITION, is_system_schema
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import display_table, quote_ident
from ansible_collections.bemi.postgresql.plugins.module_utils.versions import supports

from ansible_collections.bemi.postgresql.plugins.module_utils.driver import sql

OPERATIONS = ('insert', 'update', 'delete', 'truncate')
RELKINDS = {
    'v': 'a view',
    'm': 'a materialized view',
    'f': 'a foreign table',
    'S': 'a sequence',
    'i': 'an index',
    'I': 'a partitioned index',
    'c': 'a composite type',
    't': 'a TOAST table',
}

_SCHEMAS_15 = (
    "(SELECT coalesce(json_agg(json_build_array(n.nspname)), '[]'::json) "
    " FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid)"
)
_SCHEMAS_OLD = "'[]'::json"

# The tables a publication (p) lists, each as [schema, table, row filter, column list]. The row filter
# is PostgreSQL's text of the WHERE expression and the column list the column names in table order; both
# are null when the table has none (always before 15, where neither exists).
_LISTED_TABLES = (
    "(SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname, %s)), '[]'::json) "
    " FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid "
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pr.prpubid = p.oid)"
)
_QUALIFIERS_15 = (
    "pg_catalog.pg_get_expr(pr.prqual, pr.prrelid), "
    "(SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_catalog.pg_attribute a "
    " WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs::int2[]))"
)
_QUALIFIERS_OLD = "NULL, NULL"

_STATE_QUERY = (
    "SELECT r.rolsuper AS superuser, "
    "(SELECT coalesce(array_agg(s.slot_name::text ORDER BY s.slot_name), '{}') FROM pg_replication_slots s "
    " WHERE s.slot_type = 'logical' AND s.plugin = 'pgoutput' AND s.database = current_database()) AS slots, "
    "p.oid IS NOT NULL AS found, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, "
    "%s AS tables, "
    "%s AS schemas "
    "FROM pg_roles r LEFT JOIN pg_publication p ON p.pubname = %%s "
    "WHERE r.rolname = current_user"
)

# One round trip for every requested table and schema; ordinality keeps the user's order for messages.
RESOLVE_QUERY = (
    "SELECT "
    "(SELECT coalesce(json_agg(json_build_array(w.nsp, w.rel, c.relkind, c.relpersistence) ORDER BY w.ord), "
    "  '[]'::json) "
    " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS w(nsp, rel, ord) "
    " LEFT JOIN pg_namespace n ON n.nspname = w.nsp "
    " LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel) AS tables, "
    "(SELECT coalesce(json_agg(n.nspname), '[]'::json) FROM pg_namespace n "
    " WHERE n.nspname = ANY(%s::text[])) AS schemas"
)


# The tables FOR ALL TABLES (or a schema) publishes, by name: ordinary and partitioned tables, not
# their partitions (which come with their root). Read only when a scope of that kind is involved.
PUBLISHABLE_QUERY = (
    "SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND NOT c.relispartition AND " + USER_SCHEMA_CONDITION
)


class Publication:
    """What a publication publishes: all tables, or explicit tables and (15+) schemas.

    ``row_filters`` and ``column_lists`` (15+) map a listed (schema, table) to its WHERE expression or
    its column names. The module never wants either: Bemi must receive every row and every column.
    """

    def __init__(self, name, all_tables=False, tables=(), schemas=(), operations=OPERATIONS, via_root=False,
                 row_filters=None, column_lists=None):
        self.name = name
        self.all_tables = bool(all_tables)
        self.tables = frozenset(tuple(pair) for pair in tables)
        self.schemas = frozenset(schemas)
        self.operations = tuple(op for op in OPERATIONS if op in operations)
        self.via_root = bool(via_root)
        self.row_filters = dict((tuple(pair), text) for pair, text in (row_filters or {}).items())
        self.column_lists = dict((tuple(pair), list(columns)) for pair, columns in (column_lists or {}).items())

    def replace(self, **changes):
        values = dict(name=self.name, all_tables=self.all_tables, tables=self.tables, schemas=self.schemas,
                      operations=self.operations, via_root=self.via_root, row_filters=self.row_filters,
                      column_lists=self.column_lists)
        values.update(changes)
        return Publication(**values)

    def qualified(self):
        """The listed tables that publish only some rows or some columns."""
        return frozenset(self.row_filters) | frozenset(self.column_lists)

    def unqualified(self, tables=None):
        """This publication without the row filters and column lists of ``tables`` (default: all)."""
        drop = self.qualified() if tables is None else frozenset(tables)
        return self.replace(row_filters=dict((k, v) for k, v in self.row_filters.items() if k not in drop),
                            column_lists=dict((k, v) for k, v in self.column_lists.items() if k not in drop))

    def report(self):
        """The ``publication`` return value (and diff side)."""
        return {
            'name': self.name,
            'all_tables': self.all_tables,
            'tables': sorted(display_table(schema, table) for schema, table in self.tables),
            'schemas': sorted(quote_ident(schema) for schema in self.schemas),
            'operations': list(self.operations),
            'publish_via_partition_root': self.via_root,
            'row_filters': dict((display_table(*pair), text) for pair, text in self.row_filters.items()),
            'column_lists': dict((display_table(*pair), columns) for pair, columns in self.column_lists.items()),
        }

    def __eq__(self, other):
        return isinstance(other, Publication) and self.report() == other.report()

    def __ne__(self, other):
        return not self == other

    __hash__ = None


def listed_tables_sql(server_version):
    """The subquery of a publication ``p``'s listed tables with their row filters and column lists (json)."""
    return _LISTED_TABLES % (_QUALIFIERS_15 if supports(server_version, 'publication_row_filters') else _QUALIFIERS_OLD)


def split_listed(entries):
    """(tables, row_filters, column_lists) from the rows of ``listed_tables_sql``."""
    tables, row_filters, column_lists = [], {}, {}
    for schema, table, row_filter, columns in entries:
        tables.append((schema, table))
        if row_filter is not None:
            row_filters[(schema, table)] = row_filter
        if columns is not None:
            column_lists[(schema, table)] = columns
    return tables, row_filters, column_lists


def state_query(server_version):
    """(statement, wants name arg): the publication, its tables and schemas, plus superuser and slots."""
    return _STATE_QUERY % (listed_tables_sql(server_version),
                           _SCHEMAS_15 if supports(server_version, 'publication_schemas') else _SCHEMAS_OLD)


def current_from_row(name, row):
    """A Publication from the state query's row, or None when it does not exist."""
    if not row or not row['found']:
        return None
    operations = [op for op, flag in zip(OPERATIONS, (row['pubinsert'], row['pubupdate'], row['pubdelete'],
                                                      row['pubtruncate'])) if flag]
    tables, row_filters, column_lists = split_listed(row['tables'])
    return Publication(name, row['puballtables'], tables, [entry[0] for entry in row['schemas']], operations,
                       row['pubviaroot'], row_filters, column_lists)


def resolve_args(tables, schemas):
    return ([schema for schema, dummy in tables], [table for dummy, table in tables], list(schemas))


def resolve_problems(tables, schemas, row):
    """Sentences naming each requested table or schema that cannot be published (empty when all can)."""
    problems = []
    for schema, table, relkind, persistence in row['tables'] if row else []:
        shown = display_table(schema, table)
        if relkind is None:
            problems.append('table %s does not exist' % shown)
        elif is_system_schema(schema):
            problems.append('%s is a system table' % shown)
        elif relkind not in ('r', 'p'):
            problems.append('%s is %s, not a table' % (shown, RELKINDS.get(relkind, 'not a table (relkind %s)' % relkind)))
        elif persistence == 't':
            problems.append('%s is a temporary table' % shown)
        elif persistence == 'u':
            problems.append('%s is an unlogged table (its changes are not in the WAL)' % shown)
    found = set(row['schemas'] if row else [])
    for schema in schemas:
        if is_system_schema(schema):
            problems.append('schema %s is a system schema' % quote_ident(schema))
        elif schema not in found:
            problems.append('schema %s does not exist' % quote_ident(schema))
    return problems


def dedupe(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def plan_publication(current, wanted, scope, append):
    """(actions, target) to go from ``current`` to ``wanted``.

    ``current``: Publication or None. ``wanted``: Publication or None (state=absent).
    ``scope``: 'all', 'tables' or 'schemas' (what the user asked for).
    ``append``: only add tables or schemas, never remove any (and never narrow FOR ALL TABLES).

    Actions: ('drop',), ('create', Publication), ('replace', Publication) (DROP and CREATE, which
    must share a transaction), ('add' | 'remove' | 'set', tables, schemas), ('options', Publication).

    A row filter or column list on a table that ``wanted`` lists is a difference: the table is
    listed again without it (in the exact list's SET, or with append a DROP and ADD of that table,
    in the same transaction), so that Bemi receives all of its rows and columns.
    """
    if wanted is None:
        return ([('drop',)] if current is not None else []), None
    if current is None:
        return [('create', wanted)], wanted

    options_differ = (current.operations, current.via_root) != (wanted.operations, wanted.via_root)
    with_options = current.replace(operations=wanted.operations, via_root=wanted.via_root)

    if scope == 'all' or (current.all_tables and not append):
        if not (current.all_tables and wanted.all_tables):
            # A FOR ALL TABLES publication cannot be altered into a list (nor back): recreate it.
            return [('replace', wanted)], wanted
        return ([('options', wanted)] if options_differ else []), with_options

    if current.all_tables:
        # append: FOR ALL TABLES already publishes every table and schema asked for.
        return ([('options', with_options)] if options_differ else []), with_options

    # Listed tables the user wants published in full that publish only some rows or columns.
    requalify = current.qualified() & wanted.tables
    if append:
        tables = wanted.tables - current.tables
        # A table of a published schema is published already.
        tables = frozenset(pair for pair in tables if pair[0] not in current.schemas)
        schemas = wanted.schemas - current.schemas
        target = with_options.unqualified(requalify).replace(tables=current.tables | tables,
                                                             schemas=current.schemas | schemas)
        # Only SET TABLE of the whole list drops a qualifier in place; append must keep the other
        # tables, so those tables are dropped and added again (in the same transaction).
        actions = [('remove', sorted(requalify), [])] if requalify else []
        if tables or schemas or requalify:
            actions.append(('add', sorted(tables | requalify), sorted(schemas)))
    else:
        target = with_options.unqualified().replace(tables=wanted.tables, schemas=wanted.schemas)
        added = (wanted.tables - current.tables, wanted.schemas - current.schemas)
        removed = (current.tables - wanted.tables, current.schemas - wanted.schemas)
        if ((any(added) and any(removed)) or requalify) and (wanted.tables or wanted.schemas):
            # SET replaces the whole list in one statement, and lists each table without qualifiers.
            actions = [('set', sorted(wanted.tables), sorted(wanted.schemas))]
        else:
            actions = []
            if any(removed):
                actions.append(('remove', sorted(removed[0]), sorted(removed[1])))
            if any(added):
                actions.append(('add', sorted(added[0]), sorted(added[1])))
    if options_differ:
        actions.append(('options', target))
    return actions, target


def needs_publishable(*publications):
    """Whether telling the published tables apart needs PUBLISHABLE_QUERY (all tables or schemas involved)."""
    return any(p is not None and (p.all_tables or p.schemas) for p in publications)


def published_tables(publication, publishable):
    """The (schema, table) pairs ``publication`` publishes by name; ``publishable`` from PUBLISHABLE_QUERY."""
    if publication is None:
        return frozenset()
    if publication.all_tables:
        return frozenset(publishable)
    return publication.tables | frozenset(pair for pair in publishable if pair[0] in publication.schemas)


def table_changes(before, after, publishable):
    """(tables_added, tables_removed): display names of the tables published after but not before, and back."""
    old, new = published_tables(before, publishable), published_tables(after, publishable)
    return (sorted(display_table(*pair) for pair in new - old),
            sorted(display_table(*pair) for pair in old - new))


def needs_superuser(actions):
    """What in the plan only a superuser may do (a phrase), or None."""
    for action in actions:
        if action[0] in ('create', 'replace') and action[1].all_tables:
            return 'create a FOR ALL TABLES publication'
        if action[0] in ('create', 'replace') and action[1].schemas:
            return 'publish TABLES IN SCHEMA'
        if action[0] in ('add', 'set') and action[2]:
            return 'publish TABLES IN SCHEMA'
    return None


def _objects(tables, schemas):
    """``TABLE ONLY a, ONLY b, TABLES IN SCHEMA x, y``.

    ONLY keeps the list exact: without it, inheritance children would be added as well
    (partitions of a partitioned table are included by PostgreSQL either way).
    """
    parts = []
    if tables:
        names = [sql.SQL('ONLY {}').format(sql.Identifier(schema, table)) for schema, table in tables]
        parts.append(sql.SQL('TABLE {}').format(sql.SQL(', ').join(names)))
    if schemas:
        parts.append(sql.SQL('TABLES IN SCHEMA {}').format(sql.SQL(', ').join(sql.Identifier(s) for s in schemas)))
    return sql.SQL(', ').join(parts)


def _with(publication):
    return sql.SQL('publish = {}, publish_via_partition_root = {}').format(
        sql.Literal(', '.join(publication.operations)), sql.SQL('true' if publication.via_root else 'false'))


def _create(publication):
    if publication.all_tables:
        scope = sql.SQL(' FOR ALL TABLES')
    elif publication.tables or publication.schemas:
        scope = sql.SQL(' FOR {}').format(_objects(sorted(publication.tables), sorted(publication.schemas)))
    else:
        scope = sql.SQL('')
    return sql.SQL('CREATE PUBLICATION {}{} WITH ({})').format(sql.Identifier(publication.name), scope,
                                                               _with(publication))


def build_statements(name, actions):
    """The SQL for ``actions``, in order; the caller runs them in one transaction."""
    ident = sql.Identifier(name)
    statements = []
    for action in actions:
        kind = action[0]
        if kind == 'drop':
            statements.append(sql.SQL('DROP PUBLICATION {}').format(ident))
        elif kind == 'create':
            statements.append(_create(action[1]))
        elif kind == 'replace':
            statements.append(sql.SQL('DROP PUBLICATION {}').format(ident))
            statements.append(_create(action[1]))
        elif kind in ('add', 'remove', 'set'):
            verb = {'add': 'ADD', 'remove': 'DROP', 'set': 'SET'}[kind]
            statements.append(sql.SQL('ALTER PUBLICATION {} {} {}').format(
                ident, sql.SQL(verb), _objects(action[1], action[2])))
        elif kind == 'options':
            statements.append(sql.SQL('ALTER PUBLICATION {} SET ({})').format(ident, _with(action[1])))
        else:
            raise ValueError('unknown action %r' % (kind,))
    return statements
