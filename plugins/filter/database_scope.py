# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: database_scope
short_description: What the tracking role does in one database of bemi_databases, decided once
version_added: 0.2.0
description:
  - Turns one entry of C(bemi_databases) and the role's defaults into the scope that setup, teardown,
    verify and the fleet report all use, so that they cannot disagree.
  - The replica identity scope follows the publication's, so no published table lacks its "before" state.
    A database with neither C(tables) nor C(schemas) is published C(FOR ALL TABLES) (mode V(all)) and gets
    FULL identity and the trigger in every non-system schema; C(schemas) (mode V(schemas)) publishes and
    tracks those schemas; C(tables) (mode V(tables)) publishes and tracks those tables only, with no
    schema-wide grant and no trigger for new tables unless O(track_new_tables) is true (the modules still
    give new partitions of a listed partitioned table FULL).
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: One entry of C(bemi_databases), C({name, tables, schemas, exclude}).
    type: dict
    required: true
  track_new_tables:
    description: C(bemi_track_new_tables). Null means true, except for a table list.
    type: bool
  grant_select:
    description: C(bemi_grant_select).
    type: str
    choices: [auto, listed, none]
    default: auto
"""

EXAMPLES = r"""
- name: The scope of one database
  ansible.builtin.set_fact:
    __bemi_scope: "{{ bemi_db | bemi.postgresql.database_scope(bemi_track_new_tables, bemi_grant_select) }}"

- name: Publication as the scope says
  bemi.postgresql.bemi_publication:
    login_db: "{{ __bemi_scope.name }}"
    all_tables: "{{ __bemi_scope.publication.all_tables | default(omit) }}"
    tables: "{{ __bemi_scope.publication.tables | default(omit) }}"
    schemas: "{{ __bemi_scope.publication.schemas | default(omit) }}"
"""

RETURN = r"""
_value:
  description: The scope.
  type: dict
  contains:
    name:
      description: The database.
      type: str
    mode:
      description: V(all), V(schemas) or V(tables).
      type: str
    publication:
      description: The scope options of M(bemi.postgresql.bemi_publication), exactly one of C(all_tables),
        C(tables) and C(schemas) (the others are left out, so that C(default(omit)) omits them).
      type: dict
    tables:
      description: The listed tables (mode V(tables)), else empty (the modules then take RV(_value.schemas)).
      type: list
      elements: str
    schemas:
      description: Where replica identity, the trigger and the readiness checks apply; V(['*']) is every
        non-system schema. In mode V(tables), the schemas of the listed tables.
      type: list
      elements: str
    exclude:
      description: The tables left out of tracking.
      type: list
      elements: str
    track_new_tables:
      description: Whether the event trigger is installed.
      type: bool
    grant:
      description: What the role may C(SELECT). C(schemas) and C(tables) as M(bemi.postgresql.bemi_role) takes
        them; C(all_schemas) true means every non-system schema, and C(schemas) is then V(['*']), which
        M(bemi.postgresql.bemi_role) resolves in the database.
      type: dict
    expected:
      description: Finding codes of C(bemi_info) that are choices of this scope, not problems (no trigger,
        no C(SELECT), the unlisted tables of a table list).
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import (
    IdentifierError,
    parse_table,
    quote_ident,
)

GRANT_SELECT = ('auto', 'listed', 'none')


def _names(db, key):
    value = db.get(key) or []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('bemi.postgresql.database_scope: %s of bemi_databases entry %s must be a list'
                                 % (key, db.get('name')))
    return [to_text(item) for item in value]


def _table_schemas(tables):
    """The schema of each listed table, in SQL form, each once, in order (a bare name is in public)."""
    schemas = []
    for table in tables:
        try:
            schema = quote_ident(parse_table(table, default_schema='public')[0])
        except IdentifierError as exc:
            raise AnsibleFilterError('bemi.postgresql.database_scope: %s' % exc)
        if schema not in schemas:
            schemas.append(schema)
    return schemas


def database_scope(db, track_new_tables=None, grant_select='auto'):
    if not isinstance(db, dict) or not db.get('name'):
        raise AnsibleFilterError('bemi.postgresql.database_scope: a bemi_databases entry needs a name, got %r' % (db,))
    if grant_select not in GRANT_SELECT:
        raise AnsibleFilterError('bemi.postgresql.database_scope: bemi_grant_select is %r, one of %s'
                                 % (grant_select, ', '.join(GRANT_SELECT)))
    tables = _names(db, 'tables')
    schemas = _names(db, 'schemas')
    if tables and schemas:
        raise AnsibleFilterError('bemi.postgresql.database_scope: bemi_databases entry %s has tables and schemas;'
                                 ' an entry publishes either' % db['name'])

    if tables:
        mode, publication, tracked = 'tables', {'tables': tables}, _table_schemas(tables)
    elif schemas:
        mode, publication, tracked = 'schemas', {'schemas': schemas}, schemas
    else:
        mode, publication, tracked = 'all', {'all_tables': True}, ['*']

    # A table list has no trigger unless asked for: tables created later are not published there.
    track = (mode != 'tables') if track_new_tables is None else bool(track_new_tables)
    # Grants: whole schemas outside list mode; in list mode nothing (least privilege) or, with listed, the tables.
    grant = {'schemas': [], 'tables': [], 'all_schemas': False}
    if grant_select != 'none':
        if mode == 'all':
            grant['all_schemas'] = True
            grant['schemas'] = ['*']
        elif mode == 'schemas':
            grant['schemas'] = schemas
        elif grant_select == 'listed':
            grant['tables'] = tables
    selects = grant['all_schemas'] or bool(grant['schemas']) or bool(grant['tables'])

    expected = []
    if mode == 'tables':
        expected.append('table_not_published')
    if not track:
        expected.append('event_trigger_missing')
    if not selects:
        expected.append('role_cannot_select')

    return {
        'name': to_text(db['name']),
        'mode': mode,
        'publication': publication,
        'tables': tables,
        'schemas': tracked,
        'exclude': _names(db, 'exclude'),
        'track_new_tables': track,
        'grant': grant,
        'expected': expected,
    }


def database_steps(databases, track_new_tables=None, grant_select='auto', user='bemi', password='',
                   update_password='always', default_privileges_for=(), publication='bemi', lock_timeout='2s',
                   lock_retries=5, reset_unpublished=False):
    """The options of bemi.postgresql.bemi_databases that set up every database of bemi_databases, each by its
    database_scope: the shared ones (the role, the publication's name, the locks) and each database's own."""
    entries = []
    for db in databases or []:
        scope = database_scope(db, track_new_tables, grant_select)
        entries.append({
            'name': scope['name'],
            'role': {'schemas': scope['grant']['schemas'], 'tables': scope['grant']['tables']},
            'publication': dict(scope['publication']),
            # A table list, else the schemas ('*' for every one); null options keep bemi_databases' defaults.
            'replica_identity': {'tables': scope['tables'] or None, 'schemas': scope['schemas'],
                                 'exclude': scope['exclude'], 'track_new_tables': scope['track_new_tables']},
        })
    return {
        'role': {'name': user, 'password': password or None, 'update_password': update_password,
                 'default_privileges_for': list(default_privileges_for) or None, 'state': 'present'},
        'publication': {'name': publication, 'state': 'present'},
        'replica_identity': {'identity': 'full', 'publication': publication, 'lock_timeout': lock_timeout,
                             'retries': int(lock_retries), 'reset_unpublished': boolean(reset_unpublished, strict=False)},
        'databases': entries,
    }


def readiness_problems(findings, ignored=()):
    """The problems of a bemi_info run that are not ignored, each as one sentence with its fix."""
    sentences = []
    for finding in findings or []:
        if finding.get('severity') != 'problem' or finding.get('code') in ignored:
            continue
        fix = finding.get('fix') or ''
        sentences.append(finding['message'] + (' Fix: ' + fix if fix else ''))
    return sentences


def preflight_refusals(entries, databases, host, version_num, login_user):
    """One message naming every bemi_databases entry whose read-only check (bemi_databases in check mode, whose
    ``databases`` result has one entry per database, in order) refused, in the role's variables; '' if none."""
    from ansible_collections.bemi.postgresql.plugins.filter.role_words import role_words

    parts = []
    for index, entry in enumerate(entries or []):
        if not entry.get('failed'):
            continue
        db = databases[index] if index < len(databases or []) else {'name': entry.get('name')}
        # The failed step's own result (under its name) carries its reason.
        result = entry.get(entry.get('failed_step')) or {}
        at = 'bemi_databases[%s]' % index
        reason = result.get('reason') or ''
        publication = entry.get('failed_step') == 'publication'
        if result.get('connect_error') == 'unknown_database':
            parts.append('%s.name: database %s does not exist (fix the name in bemi_databases, or create the'
                         ' database first)' % (at, db.get('name')))
        elif publication and reason == 'version':
            parts.append('%s.schemas: publishing schemas (FOR TABLES IN SCHEMA) needs PostgreSQL 15 or newer and this'
                         ' server runs %d (list the tables in %s.tables instead, or leave out both to publish all'
                         ' tables)' % (at, int(version_num) // 10000, at))
        elif publication and reason == 'missing':
            parts.append('%s (%s): %s (fix %s.%s, or create them first)'
                         % (at, db.get('name'), ', '.join(result.get('problems') or []), at,
                            'tables' if db.get('tables') else 'schemas'))
        elif publication and reason == 'superuser':
            parts.append('%s (%s): bemi_login_user %s is not a superuser, and publishing %s needs one (set'
                         ' bemi_login_user to a superuser, or list the tables in %s.tables)'
                         % (at, db.get('name'), login_user, 'schemas' if db.get('schemas') else 'all tables', at))
        else:
            parts.append('%s (%s): %s' % (at, db.get('name'), role_words(entry.get('msg') or 'the check failed')))
    if not parts:
        return ''
    return 'Nothing was changed on %s, because %s; no setting, role or database was touched.' % (host, '; '.join(parts))


class FilterModule:

    def filters(self):
        return {'database_scope': database_scope, 'readiness_problems': readiness_problems,
                'preflight_refusals': preflight_refusals, 'database_steps': database_steps}
