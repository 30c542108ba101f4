# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The readiness rules of bemi_info, on hand-made facts (no server)."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.info import (
    OptionError,
    assess,
    format_size,
    hba_admits_remotely,
    listens_locally_only,
    parse_size,
    parse_tracked_schemas,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.event_trigger import MARKER as TRIGGER_MARKER
from ansible_collections.bemi.postgresql.plugins.module_utils.findings import CODES, finding

OPTIONS = {'publication': 'bemi', 'role': 'bemi', 'schemas': ['public'], 'slot': 'bemi',
           'max_retained_wal': 1024 ** 3}

GOOD_SOURCE = 'BEGIN\n  %s\n  -- bemi.postgresql tracked schemas: ["public"]\nEND' % TRIGGER_MARKER


def table(name, schema='public', kind='r', identity='f', pk=True, published=True, in_schemas=True,
          can_select=True, identity_index=False, unlogged=False, owner='app'):
    return {'schema': schema, 'name': name, 'kind': kind, 'identity': identity, 'has_primary_key': pk,
            'has_identity_index': identity_index, 'published': published, 'in_schemas': in_schemas,
            'role_can_select': can_select if published else None, 'unlogged': unlogged, 'owner': owner,
            'trigger_owner_can_alter': True}


def setting(running, configured=None):
    return {'running': running, 'configured': running if configured is None else configured}


def healthy():
    return {
        'server_version': '17.6',
        'server_version_num': 170006,
        'database': 'shop',
        'login_user': 'postgres',
        'in_recovery': False,
        'settings': {
            'wal_level': setting('logical'),
            'max_replication_slots': setting(10),
            'max_wal_senders': setting(10),
            'max_slot_wal_keep_size': setting(10240),
        },
        'settings_readable': True,
        'pending_restart': [],
        'restart_pending': False,
        'slots_in_use': 1,
        'wal_senders_in_use': 1,
        'notes': [],
        'files': {'data_directory': '/srv/pg/data', 'config_file': '/srv/pg/data/postgresql.conf',
                  'hba_file': '/srv/pg/data/pg_hba.conf'},
        'cluster_name': '',
        'user_schemas': ['"Sales"', 'public'],
        'slot_health': {'idle_replication_slot_timeout': None, 'wal_rate_bytes_per_second': None},
        'replication_slots': [
            {'name': 'bemi', 'type': 'logical', 'database': 'shop', 'plugin': 'pgoutput', 'active': True,
             'retained_wal_bytes': 4096, 'wal_status': 'reserved', 'safe_wal_size': 10 ** 9},
        ],
        'publication': {'name': 'bemi', 'all_tables': True, 'tables': [], 'schemas': [],
                        'operations': ['insert', 'update', 'delete', 'truncate'],
                        'publish_via_partition_root': False, 'row_filters': {}, 'column_lists': {}},
        'tables': [table('orders'), table('Mixed Case')],
        'missing_schemas': [],
        'event_trigger': {'name': '_bemi_set_replica_identity_trigger', 'enabled': 'O', 'event': 'ddl_command_end',
                          'tags': ['SELECT INTO', 'CREATE TABLE', 'CREATE TABLE AS'], 'function_schema': 'public',
                          'function_name': '_bemi_set_replica_identity_func', 'source': GOOD_SOURCE,
                          'owner': 'postgres', 'owner_super': True},
        'role': {'name': 'bemi', 'login': True, 'replication': True, 'superuser': False, 'rds_replication': False,
                 'inherit': True, 'bypassrls': False, 'valid_until': None, 'expired': False, 'can_connect': True},
    }


def run(facts, **options):
    merged = dict(OPTIONS)
    merged.update(options)
    return assess(facts, merged)


def codes(report, severity=None):
    return [item['code'] for item in report['findings'] if severity in (None, item['severity'])]


def only_problem(report, *words):
    assert len(report['problems']) == 1, report['problems']
    for word in words:
        assert word in report['problems'][0], (word, report['problems'][0])
    assert 'Fix' in report['problems'][0] or 'installs it' in report['problems'][0] \
        or 'replaces it' in report['problems'][0]
    assert report['ready'] is False


def test_healthy_is_ready():
    report = run(healthy())
    assert report['problems'] == []
    assert report['notes'] == []
    assert report['ready'] is True
    assert report['event_trigger'] == {'present': True, 'enabled': True, 'up_to_date': True,
                                       'tags': ['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO'],
                                       'tracked_schemas': ['public'], 'tracked_partition_trees': None,
                                       'owner': 'postgres'}
    assert report['role']['cannot_select'] == []
    assert report['findings'] == []
    assert report['server'] == {'in_recovery': False, 'version_num': 170006, 'cluster_name': '', 'min_wal_size_mb': None,
                                'streaming_standbys': None, 'role_exists': True,
                                'user_schemas': ['"Sales"', 'public'], 'ssl': None, 'conf_load_time': None,
                                'data_directory': '/srv/pg/data',
                                'config_file': '/srv/pg/data/postgresql.conf', 'hba_file': '/srv/pg/data/pg_hba.conf',
                                'pg_wal': None}
    assert report['tables_without_full_identity'] == []
    assert report['max_replication_slots'] == {'running': 10, 'configured': 10, 'in_use': 1}


def test_assess_does_not_modify_facts():
    facts = healthy()
    before = copy.deepcopy(facts)
    run(facts)
    assert facts == before


def test_wal_level_not_logical():
    facts = healthy()
    facts['settings']['wal_level'] = setting('replica')
    only_problem(run(facts), 'wal_level is replica', 'ALTER SYSTEM SET wal_level = logical')


def test_wal_level_waiting_for_restart():
    facts = healthy()
    facts['settings']['wal_level'] = setting('replica', 'logical')
    facts['restart_pending'] = True
    report = run(facts)
    assert report['restart_required'] is True
    only_problem(report, 'configured as logical but the server still runs with replica', 'Fix: restart PostgreSQL')
    assert codes(report) == ['wal_level_restart_pending']


def test_wal_level_configured_lower_says_set_it_back_not_restart():
    facts = healthy()
    facts['settings']['wal_level'] = setting('logical', 'replica')
    facts['pending_restart'] = ['wal_level']
    facts['restart_pending'] = True
    report = run(facts)
    only_problem(report, 'configured as replica for the next start', 'FATAL: logical replication slot "bemi" exists')
    (item,) = report['findings']
    assert item['code'] == 'wal_level_configured_not_logical' and item['object'] == 'wal_level'
    assert item['fix'].startswith('ALTER SYSTEM SET wal_level = logical')
    assert 'Do not restart' in item['fix']
    facts['replication_slots'] = []
    facts['slots_in_use'] = 0
    assert 'can no longer decode changes' in run(facts)['problems'][0]


def test_restart_pending_other_setting():
    facts = healthy()
    facts['settings']['max_wal_senders'] = setting(10, 12)
    facts['restart_pending'] = True
    only_problem(run(facts), 'restart of PostgreSQL is pending', 'max_wal_senders (running 10, configured 12)')


def test_restart_pending_reported_by_postgres_only():
    facts = healthy()
    facts['pending_restart'] = ['max_replication_slots']
    # The files agree with the running value: PostgreSQL's flag outlives a reverted change.
    assert run(facts)['problems'] == []
    facts['settings']['max_replication_slots'] = {'running': 10, 'configured': None}
    facts['settings_readable'] = False
    report = run(facts)
    assert codes(report, 'problem') == ['restart_pending']
    assert 'pending for max_replication_slots' in report['problems'][0]


def test_unrelated_pending_restart_is_a_note():
    facts = healthy()
    facts['pending_restart'] = ['max_locks_per_transaction', 'shared_buffers']
    report = run(facts)
    assert report['ready'] is True
    assert report['restart_required'] is True
    assert codes(report) == ['restart_pending_unrelated']
    assert report['findings'][0]['object'] == 'max_locks_per_transaction, shared_buffers'
    assert 'which Bemi does not depend on' in report['notes'][0]


def test_unreadable_files_is_a_note():
    facts = healthy()
    facts['settings_readable'] = False
    facts['login_user'] = 'monitor'
    report = run(facts)
    assert report['ready'] is True
    assert len(report['notes']) == 1 and 'monitor cannot read pg_file_settings' in report['notes'][0]


def test_missing_bemi_slot_is_a_note():
    facts = healthy()
    facts['replication_slots'] = []
    facts['slots_in_use'] = 0
    facts['wal_senders_in_use'] = 0
    report = run(facts)
    assert report['ready'] is True
    assert report['notes'] == ['Replication slot bemi does not exist yet. Bemi creates it when it first connects.']


def test_no_free_slot_or_sender():
    facts = healthy()
    facts['replication_slots'] = []
    facts['slots_in_use'] = 10
    facts['wal_senders_in_use'] = 10
    report = run(facts)
    assert len(report['problems']) == 2
    assert 'No WAL sender is free for Bemi: 10 of max_wal_senders = 10' in report['problems'][0]
    assert 'No replication slot is free for Bemi: 10 of max_replication_slots = 10' in report['problems'][1]


def test_full_slots_do_not_matter_once_bemi_has_its_slot():
    facts = healthy()
    facts['slots_in_use'] = 10
    facts['wal_senders_in_use'] = 10
    assert run(facts)['problems'] == []


def inactive(name, retained, slot_type='logical', database='shop'):
    return {'name': name, 'type': slot_type, 'database': database if slot_type == 'logical' else None,
            'plugin': 'pgoutput' if slot_type == 'logical' else None, 'active': False,
            'retained_wal_bytes': retained, 'wal_status': 'reserved', 'safe_wal_size': None}


def test_inactive_bemi_slot_retaining_too_much():
    facts = healthy()
    facts['replication_slots'] = [inactive('bemi', 3 * 1024 ** 3)]
    only_problem(run(facts), 'Replication slot bemi is inactive and retains 3 GB of WAL',
                 'max_retained_wal 1 GB', "pg_drop_replication_slot('bemi')")


def test_inactive_slot_under_threshold_is_fine():
    facts = healthy()
    facts['replication_slots'].append(inactive('other', 1024))
    assert run(facts)['problems'] == []


def test_other_inactive_logical_slot_and_not_physical():
    facts = healthy()
    facts['replication_slots'] += [inactive('zombie', 2 * 1024 ** 3), inactive('standby', 2 * 1024 ** 3, 'physical')]
    only_problem(run(facts), 'Replication slot zombie is inactive and retains 2 GB')
    assert [slot['name'] for slot in run(facts)['replication_slots']] == ['bemi', 'standby', 'zombie']


def test_unlimited_keep_size_with_a_foreign_inactive_logical_slot():
    facts = healthy()
    facts['settings']['max_slot_wal_keep_size'] = setting(-1)
    facts['replication_slots'].append(inactive('stale', 10))
    stale = [f for f in run(facts)['findings'] if f['object'] == 'stale']
    assert [f['code'] for f in stale] == ['inactive_slot_unbounded_wal']
    assert "pg_drop_replication_slot('stale')" in stale[0]['fix']
    # Bemi's own slot without a budget is a problem of its own.
    assert sorted(codes(run(facts))) == ['inactive_slot_unbounded_wal', 'wal_budget_unlimited']


def test_unlimited_keep_size_with_a_standby_slot_is_a_note():
    facts = healthy()
    facts['settings']['max_slot_wal_keep_size'] = setting(-1)
    facts['replication_slots'] = [inactive('standby', 10, 'physical')]
    report = run(facts)
    assert report['ready'] is True
    assert [(f['code'], f['object'], f['severity']) for f in report['findings'] if f['code'] != 'slot_missing'] == [
        ('slot_wal_unbounded', 'standby', 'note')]


def test_unlimited_keep_size_with_bemi_slot_is_a_problem_active_or_not():
    facts = healthy()
    facts['settings']['max_slot_wal_keep_size'] = setting(-1)
    report = run(facts)
    assert codes(report) == ['wal_budget_unlimited']
    assert 'bemi_max_slot_wal_keep_size' in report['findings'][0]['fix']
    facts['replication_slots'] = [inactive('bemi', 4096), inactive('standby', 10, 'physical')]
    assert codes(run(facts)) == ['wal_budget_unlimited', 'slot_wal_unbounded']
    # Over max_retained_wal, Bemi's inactive slot is also a problem of its own.
    facts['replication_slots'][0]['retained_wal_bytes'] = 2 * 1024 ** 3
    assert codes(run(facts)) == ['slot_inactive_retaining_wal', 'wal_budget_unlimited', 'slot_wal_unbounded']
    # Under Patroni the fix names its configuration.
    facts['patroni'] = True
    fixes = [f['fix'] for f in run(facts)['findings'] if f['code'] == 'wal_budget_unlimited']
    assert 'patronictl edit-config' in fixes[0]


def test_budget_larger_than_the_free_space_is_a_note():
    facts = healthy()
    facts['pg_wal'] = {'path': '/srv/pg/data/pg_wal', 'free_bytes': 5 * 1024 ** 3, 'size_bytes': 100 * 1024 ** 3,
                       'device': 2049}
    report = run(facts)
    assert report['ready'] is True
    assert codes(report) == ['wal_budget_exceeds_free_space']
    assert '10 GB' in report['notes'][0] and '5 GB free at /srv/pg/data/pg_wal' in report['notes'][0]
    assert report['server']['pg_wal']['free_bytes'] == 5 * 1024 ** 3
    facts['pg_wal']['free_bytes'] = 11 * 1024 ** 3
    assert codes(run(facts)) == []


def test_bemi_slot_with_another_plugin():
    facts = healthy()
    facts['replication_slots'][0]['plugin'] = 'test_decoding'
    only_problem(run(facts), 'Replication slot bemi is a logical slot of plugin test_decoding', 'pgoutput',
                 "pg_drop_replication_slot('bemi')")
    facts['replication_slots'][0].update(plugin=None, type='physical', database=None)
    assert codes(run(facts)) == ['slot_plugin_not_pgoutput']


def test_bemi_slot_in_other_database_and_lost():
    facts = healthy()
    slot = dict(facts['replication_slots'][0], database='crm', wal_status='lost')
    facts['replication_slots'] = [slot]
    report = run(facts)
    assert len(report['problems']) == 2
    assert 'belongs to database crm, not shop' in report['problems'][0]
    assert report['problems'][1].startswith('Replication slot bemi is invalidated (wal_status lost)')
    assert 'Fix: Bemi must re-sync' in report['problems'][1]


def test_other_lost_slot_keeps_its_drop_fix():
    facts = healthy()
    facts['replication_slots'].append(dict(inactive('old', 0), wal_status='lost', retained_wal_bytes=None))
    only_problem(run(facts), 'Replication slot old has lost WAL', "pg_drop_replication_slot('old')")


def test_slot_health_fields_are_reported():
    facts = healthy()
    facts['slot_health'] = {'idle_replication_slot_timeout': None, 'wal_rate_bytes_per_second': 10 ** 6}
    report = run(facts)
    assert report['wal_rate_bytes_per_second'] == 10 ** 6
    assert report['outage_budget_seconds'] == 1000
    assert report['replication_slots'][0]['invalidation_reason'] is None


def test_missing_publication():
    facts = healthy()
    facts['publication'] = False
    for row in facts['tables']:
        row.update(published=False, role_can_select=None)
    report = run(facts)
    only_problem(report, 'Publication bemi does not exist in database shop', 'CREATE PUBLICATION bemi')
    assert report['publication'] is None


def test_publication_not_covering_a_tracked_table():
    facts = healthy()
    facts['publication'].update(all_tables=False, tables=['public.orders'])
    facts['tables'].append(table('new_one', published=False))
    facts['tables'].append(table('parted', kind='p', published=False))
    only_problem(run(facts), 'Publication bemi does not publish table public.new_one of the tracked schemas')


def test_publication_without_update():
    facts = healthy()
    facts['publication']['operations'] = ['insert', 'delete']
    only_problem(run(facts), 'does not publish UPDATE')


def test_row_filters_and_column_lists_are_problems_naming_the_tables():
    facts = healthy()
    facts['publication'].update(all_tables=False, tables=['public.items', 'public.orders'],
                                row_filters={'public.orders': '(amount > 100)'}, column_lists={'public.items': ['id']})
    report = run(facts)
    assert report['ready'] is False
    assert codes(report, 'problem') == ['publication_column_list', 'publication_row_filter']
    by_code = dict((item['code'], item) for item in report['findings'])
    assert by_code['publication_row_filter']['object'] == 'bemi'
    assert 'table public.orders with a row filter' in by_code['publication_row_filter']['message']
    assert ('ALTER PUBLICATION bemi DROP TABLE public.orders; ALTER PUBLICATION bemi ADD TABLE ONLY public.orders'
            in by_code['publication_row_filter']['fix'])
    assert 'table public.items with a column list' in by_code['publication_column_list']['message']
    assert 'UPDATE and DELETE' in by_code['publication_column_list']['message']


def test_tables_without_full_identity_and_primary_key():
    facts = healthy()
    facts['tables'] += [table('no_pk', identity='d', pk=False), table('with_pk', identity='d'),
                        table('unpublished', identity='d', pk=False, published=False, in_schemas=True)]
    facts['publication'].update(all_tables=False)
    report = run(facts)
    assert report['tables_without_full_identity'] == ['public.no_pk', 'public.unpublished', 'public.with_pk']
    assert report['tables_without_primary_key'] == ['public.no_pk', 'public.unpublished']
    problems = report['problems']
    assert any('Published table public.no_pk of publication bemi has no primary key and no replica identity: '
               'UPDATE and DELETE on it fail' in p for p in problems)
    assert any('Published tables public.no_pk, public.with_pk of publication bemi have no REPLICA IDENTITY FULL'
               in p for p in problems)
    assert any('does not publish table public.unpublished' in p for p in problems)
    assert len(problems) == 3


def test_many_tables_are_named_up_to_a_limit():
    facts = healthy()
    facts['tables'] = [table('t%02d' % i, identity='d') for i in range(25)]
    report = run(facts)
    assert len(report['tables_without_full_identity']) == 25
    only_problem(report, 'public.t09 and 15 more')


def test_quoted_names():
    facts = healthy()
    facts['tables'] = [table('Mixed Case', schema='we ird', identity='d', pk=False)]
    report = run(facts)
    assert report['tables_without_primary_key'] == ['"we ird"."Mixed Case"']


def test_event_trigger_missing():
    facts = healthy()
    facts['event_trigger'] = False
    report = run(facts)
    only_problem(report, 'Event trigger _bemi_set_replica_identity_trigger does not exist', 'track_new_tables: true')
    assert report['event_trigger']['present'] is False


def test_event_trigger_disabled():
    facts = healthy()
    facts['event_trigger']['enabled'] = 'D'
    only_problem(run(facts), 'is disabled', 'ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger ENABLE')


def test_event_trigger_enabled_for_replication_sessions_only():
    facts = healthy()
    facts['event_trigger']['enabled'] = 'R'
    report = run(facts)
    only_problem(report, 'enabled only for replication sessions', 'ENABLE REPLICA',
                 'ALTER EVENT TRIGGER _bemi_set_replica_identity_trigger ENABLE')
    assert codes(report) == ['event_trigger_replica_only']
    assert report['event_trigger']['enabled'] is False
    # ENABLE ALWAYS fires in every session: fine.
    facts['event_trigger']['enabled'] = 'A'
    report = run(facts)
    assert report['ready'] is True and report['event_trigger']['enabled'] is True


def test_event_trigger_outdated():
    facts = healthy()
    facts['event_trigger']['source'] = 'BEGIN CALL _bemi_set_replica_identity(); END'
    report = run(facts)
    only_problem(report, 'is outdated', "Bemi's manual version")
    assert report['event_trigger']['up_to_date'] is False
    assert report['event_trigger']['tracked_schemas'] is None


def test_event_trigger_not_covering_schema():
    facts = healthy()
    only_problem(run(facts, schemas=['app', 'public']), 'covers only schemas public, not app')
    only_problem(run(facts, schemas=['*']), 'not every schema')
    facts['event_trigger']['source'] = GOOD_SOURCE.replace('["public"]', '["*"]')
    assert run(facts, schemas=['*', 'app'])['problems'] == []


def test_role_missing():
    facts = healthy()
    facts['role'] = False
    report = run(facts)
    only_problem(report, 'Role bemi does not exist', 'bemi.postgresql.bemi_role')
    assert report['role']['exists'] is False


def test_role_attributes():
    facts = healthy()
    facts['role'].update(login=False, replication=False)
    report = run(facts)
    assert len(report['problems']) == 2
    assert 'cannot log in (NOLOGIN)' in report['problems'][0]
    assert 'has no REPLICATION attribute' in report['problems'][1]
    facts['role'].update(login=True, rds_replication=True)
    assert run(facts)['problems'] == []


def test_role_cannot_select():
    facts = healthy()
    facts['tables'].append(table('secret', can_select=False))
    report = run(facts)
    only_problem(report, 'Role bemi cannot SELECT published table public.secret', 'GRANT SELECT')
    assert report['role']['cannot_select'] == ['public.secret']


def test_unknown_facts_are_null_not_problems():
    facts = healthy()
    unreadable = finding('fact_unreadable', 'Tables', 'Tables: unknown, because monitor may not read it.', 'grant it.')
    facts.update(replication_slots=None, publication=None, tables=None, event_trigger=None, role=None,
                 notes=[unreadable])
    facts['files'] = dict.fromkeys(facts['files'])
    report = run(facts)
    assert report['ready'] is True
    for key in ('replication_slots', 'publication', 'tables_without_full_identity', 'tables_without_primary_key',
                'event_trigger', 'role'):
        assert report[key] is None
    assert report['server']['role_exists'] is None
    assert report['server']['data_directory'] is None
    assert codes(report) == ['fact_unreadable', 'server_files_unreadable']
    assert report['notes'][1] == 'config_file, data_directory, hba_file: unknown, because postgres may not read them. ' \
        'Fix: run bemi_info as a superuser or a member of pg_read_all_settings.'


def test_problems_are_sorted_and_stable():
    facts = healthy()
    facts['settings']['wal_level'] = setting('replica')
    facts['role'] = False
    facts['event_trigger'] = False
    report = run(facts)
    assert report['problems'] == sorted(report['problems'])
    assert run(facts) == report


@pytest.mark.parametrize('text, size', [
    ('1GB', 1024 ** 3), ('512MB', 512 * 1024 ** 2), ('64kB', 64 * 1024), ('1 tb', 1024 ** 4), ('100', 100),
    ('7B', 7),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize('text', ['', 'GB', '1.5GB', '1PB', '-1MB', '1 G B'])
def test_parse_size_rejects(text):
    with pytest.raises(OptionError):
        parse_size(text)


def test_format_size():
    assert format_size(3 * 1024 ** 3) == '3 GB'
    assert format_size(1536 * 1024) == '1.5 MB'
    assert format_size(10) == '10 bytes'


def test_parse_tracked_schemas():
    assert parse_tracked_schemas(GOOD_SOURCE) == ['public']
    assert parse_tracked_schemas('-- bemi.postgresql tracked schemas: ["b", "a"]') == ['a', 'b']
    assert parse_tracked_schemas('-- bemi.postgresql tracked schemas: not json') is None
    assert parse_tracked_schemas(None) is None


def test_expired_role():
    facts = healthy()
    facts['role'].update(expired=True, valid_until='2000-01-01 00:00:00+00')
    report = run(facts)
    only_problem(report, 'password of role bemi expired (VALID UNTIL 2000-01-01', "VALID UNTIL 'infinity'")
    assert report['findings'][0]['object'] == 'bemi'
    assert report['role']['expired'] is True


def test_role_without_connect():
    facts = healthy()
    facts['role']['can_connect'] = False
    only_problem(run(facts), 'no CONNECT privilege on database shop', 'GRANT CONNECT ON DATABASE shop TO bemi')
    assert codes(run(facts)) == ['role_no_connect']


def test_noinherit_and_bypassrls_are_notes():
    facts = healthy()
    facts['role'].update(inherit=False, bypassrls=True)
    report = run(facts)
    assert report['ready'] is True
    assert codes(report) == ['role_bypassrls', 'role_noinherit']
    assert 'ALTER ROLE bemi NOBYPASSRLS' in report['notes'][0]
    assert 'ALTER ROLE bemi INHERIT' in report['notes'][1]


def test_trigger_owner_that_cannot_alter_the_tables():
    facts = healthy()
    facts['event_trigger'].update(owner='admin', owner_super=False)
    facts['tables'][0].update(trigger_owner_can_alter=False, owner='app')
    report = run(facts)
    only_problem(report, 'runs as admin, which is neither a superuser nor a member of app', 'GRANT app TO admin')
    assert report['findings'][0]['object'] == 'public._bemi_set_replica_identity_func()'
    assert report['event_trigger']['owner'] == 'admin'
    # Once admin may alter every tracked table, only a note remains (tables of other roles may come later).
    facts['tables'][0]['trigger_owner_can_alter'] = True
    report = run(facts)
    assert report['ready'] is True and codes(report) == ['event_trigger_owner_not_superuser']


def test_unlogged_tables_are_a_note_not_a_problem():
    facts = healthy()
    facts['publication'].update(all_tables=False, tables=['public.orders'])
    facts['tables'] = [table('orders'), table('cache', identity='d', pk=False, published=False, unlogged=True)]
    report = run(facts)
    assert report['ready'] is True, report['problems']
    assert codes(report) == ['table_unlogged']
    assert 'Unlogged table public.cache of the tracked schemas is never published' in report['notes'][0]
    assert report['tables_without_full_identity'] == []


def test_findings_carry_code_severity_object_message_and_fix():
    facts = healthy()
    facts['settings']['wal_level'] = setting('replica')
    facts['role'] = False
    facts['replication_slots'] = []
    report = run(facts)
    assert [(f['code'], f['severity'], f['object']) for f in report['findings']] == [
        ('role_missing', 'problem', 'bemi'), ('wal_level_not_logical', 'problem', 'wal_level'),
        ('slot_missing', 'note', 'bemi')]
    for item in report['findings']:
        assert sorted(item) == ['code', 'fix', 'message', 'object', 'severity']
        assert item['code'] in CODES
    assert report['problems'] == sorted('%s Fix: %s' % (f['message'], f['fix']) for f in report['findings']
                                        if f['severity'] == 'problem')
    assert report['notes'] == ['Replication slot bemi does not exist yet. Bemi creates it when it first connects.']


def test_an_unregistered_code_is_a_bug():
    with pytest.raises(KeyError):
        finding('no_such_code', 'x', 'message')


def test_patroni_is_a_note_and_its_fix_for_wal_level():
    facts = healthy()
    facts['patroni'] = True
    report = run(facts)
    assert codes(report) == ['cluster_manager_patroni'] and report['ready'] is True
    assert report['cluster_manager'] == 'patroni'
    facts['settings']['wal_level'] = setting('replica')
    report = run(facts)
    only_problem(report, 'wal_level is replica', "Patroni's dynamic configuration")
    assert 'ALTER SYSTEM SET' not in report['problems'][0]


def test_patroni_replica_without_bemi_slot():
    facts = healthy()
    facts.update(patroni=True, in_recovery=True, replication_slots=[])
    report = run(facts)
    assert codes(report, 'problem') == ['patroni_slot_missing_on_replica']
    assert 'slot_missing' not in codes(report)
    assert 'permanent logical slot' in report['problems'][0]
    facts['replication_slots'] = healthy()['replication_slots']
    assert codes(run(facts), 'problem') == []


def test_no_cluster_manager():
    report = run(healthy())
    assert report['cluster_manager'] is None


@pytest.mark.parametrize('listen, local', [
    ('localhost', True), ('', True), ('127.0.0.1, ::1', True), ('localhost,127.0.0.2', True),
    ('*', False), ('0.0.0.0', False), ('localhost, 10.0.0.5', False), ('db1.example.com', False)])
def test_listens_locally_only(listen, local):
    assert listens_locally_only(listen) is local


def hba(type_='host', database=('all',), user=('all',), address='0.0.0.0', netmask='0.0.0.0', method='scram-sha-256'):
    return {'type': type_, 'database': list(database), 'user_name': list(user), 'address': address,
            'netmask': netmask, 'auth_method': method}


@pytest.mark.parametrize('rules, admits', [
    ([], False),
    ([hba('local', address=None, netmask=None)], False),
    ([hba(address='127.0.0.1', netmask='255.255.255.255'), hba(address='::1', netmask='ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')], False),
    ([hba(address='samehost', netmask=None)], False),
    ([hba(method='reject')], False),
    ([hba(database=('other',))], False),
    ([hba(user=('app',))], False),
    ([hba(database=('replication',))], False),
    ([hba()], True),
    ([hba('hostssl', database=('shop',), user=('bemi',), address='10.0.0.0', netmask='255.0.0.0')], True),
    ([hba(user=('+readers',), address='samenet', netmask=None)], True),
    ([hba(address='.example.com', netmask=None)], True),
])
def test_hba_admits_remotely(rules, admits):
    assert hba_admits_remotely(rules, 'shop', 'bemi') is admits


def test_network_findings_are_notes_with_the_fix():
    facts = healthy()
    facts['listen_addresses'] = 'localhost'
    facts['hba_rules'] = [hba('local', address=None, netmask=None)]
    report = run(facts)
    assert report['ready'] is True
    found = dict((f['code'], f) for f in report['findings'])
    assert sorted(found) == ['pg_hba_no_remote_rule', 'server_listens_locally']
    assert "listen_addresses = 'localhost'" in found['server_listens_locally']['message']
    assert 'bemi_pg_hba_addresses' in found['pg_hba_no_remote_rule']['fix']
    # Unknown (not readable): no finding.
    facts['listen_addresses'], facts['hba_rules'] = '*', None
    assert codes(run(facts)) == []


def listed_row(name, kind='p', schema='public', ancestors=None, root_schema=None):
    return {'schema': schema, 'name': name, 'kind': kind, 'ancestors': ancestors or [[schema, name]],
            'root_schema': root_schema or schema}


def test_list_mode_needs_the_trigger_only_for_listed_partitioned_tables():
    facts = healthy()
    facts['event_trigger'] = False
    facts['listed'] = [listed_row('orders', kind='r')]
    assert codes(run(facts, tables=[('public', 'orders')])) == []
    facts['listed'].append(listed_row('events'))
    report = run(facts, tables=[('public', 'orders'), ('public', 'events')])
    assert codes(report) == ['event_trigger_partitions_not_covered']
    assert 'public.events' in report['problems'][0] and 'does not exist' in report['problems'][0]


def test_list_mode_trigger_covers_a_tree_by_itself_an_ancestor_or_the_root_schema():
    # events_2024 is a listed sub-partitioned partition of public.events (root) and lives in parts.
    row = listed_row('events_2024', schema='parts', ancestors=[['parts', 'events_2024'], ['public', 'events']],
                     root_schema='public')
    facts = healthy()
    facts['listed'] = [row]
    tables = [('parts', 'events_2024')]
    for schemas, trees, covered in ((['public'], [], True), (['*'], [], True), (['parts'], [], False),
                                    ([], [['parts', 'events_2024']], True), ([], [['public', 'events']], True),
                                    ([], [['public', 'other']], False)):
        facts['event_trigger']['source'] = '%s\n%s\n%s' % (
            TRIGGER_MARKER, '-- bemi.postgresql tracked schemas: %s' % json.dumps(schemas),
            '-- bemi.postgresql tracked partition trees: %s' % json.dumps(trees))
        found = codes(run(facts, tables=tables))
        assert found == ([] if covered else ['event_trigger_partitions_not_covered']), (schemas, trees)
    # Disabled or outdated, it covers nothing.
    facts['event_trigger']['enabled'] = 'D'
    assert codes(run(facts, tables=tables)) == ['event_trigger_partitions_not_covered']


def test_list_mode_missing_select_is_a_note_and_missing_tables_a_problem():
    facts = healthy()
    facts['tables'] = [table('orders', can_select=False)]
    facts['listed'] = [listed_row('orders', kind='r'), listed_row('gone', kind=None)]
    report = run(facts, tables=[('public', 'orders'), ('public', 'gone')])
    assert codes(report, 'note') == ['role_cannot_select_listed']
    assert codes(report, 'problem') == ['listed_table_missing']
    assert 'public.gone' in report['problems'][0]
    # Without tables (gather reads no listed rows then), missing SELECT is a problem again.
    facts['listed'] = None
    assert codes(run(facts), 'problem') == ['role_cannot_select']
