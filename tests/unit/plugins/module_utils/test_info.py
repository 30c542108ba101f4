# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The readiness rules of bemi_info, on hand-made facts (no server)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.info import (
    OptionError,
    assess,
    format_size,
    parse_size,
    parse_tracked_schemas,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.event_trigger import MARKER as TRIGGER_MARKER

OPTIONS = {'publication': 'bemi', 'role': 'bemi', 'schemas': ['public'], 'slot': 'bemi',
           'max_retained_wal': 1024 ** 3}

GOOD_SOURCE = 'BEGIN\n  %s\n  -- bemi.postgresql tracked schemas: ["public"]\nEND' % TRIGGER_MARKER


def table(name, schema='public', kind='r', identity='f', pk=True, published=True, in_schemas=True,
          can_select=True, identity_index=False):
    return {'schema': schema, 'name': name, 'kind': kind, 'identity': identity, 'has_primary_key': pk,
            'has_identity_index': identity_index, 'published': published, 'in_schemas': in_schemas,
            'role_can_select': can_select if published else None}


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
        'slot_health': {'idle_replication_slot_timeout': None, 'wal_rate_bytes_per_second': None},
        'replication_slots': [
            {'name': 'bemi', 'type': 'logical', 'database': 'shop', 'plugin': 'pgoutput', 'active': True,
             'retained_wal_bytes': 4096, 'wal_status': 'reserved', 'safe_wal_size': 10 ** 9},
        ],
        'publication': {'name': 'bemi', 'all_tables': True, 'tables': [], 'schemas': [],
                        'operations': ['insert', 'update', 'delete', 'truncate'],
                        'publish_via_partition_root': False},
        'tables': [table('orders'), table('Mixed Case')],
        'missing_schemas': [],
        'event_trigger': {'name': '_bemi_set_replica_identity_trigger', 'enabled': 'O', 'event': 'ddl_command_end',
                          'tags': ['SELECT INTO', 'CREATE TABLE', 'CREATE TABLE AS'], 'function_schema': 'public',
                          'function_name': '_bemi_set_replica_identity_func', 'source': GOOD_SOURCE},
        'role': {'name': 'bemi', 'login': True, 'replication': True, 'superuser': False, 'rds_replication': False},
    }


def run(facts, **options):
    merged = dict(OPTIONS)
    merged.update(options)
    return assess(facts, merged)


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
                                       'tracked_schemas': ['public']}
    assert report['role']['cannot_select'] == []
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
    assert len(report['problems']) == 2
    assert any('configured as logical but the server still runs with replica' in p for p in report['problems'])
    assert any('wal_level (running replica, configured logical)' in p for p in report['problems'])


def test_restart_pending_other_setting():
    facts = healthy()
    facts['settings']['max_wal_senders'] = setting(10, 12)
    facts['restart_pending'] = True
    only_problem(run(facts), 'restart of PostgreSQL is pending', 'max_wal_senders (running 10, configured 12)')


def test_restart_pending_reported_by_postgres_only():
    facts = healthy()
    facts['pending_restart'] = ['shared_buffers']
    only_problem(run(facts), 'pending for shared_buffers')


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
            'retained_wal_bytes': retained, 'wal_status': 'extended', 'safe_wal_size': None}


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


def test_unlimited_keep_size_with_inactive_slot():
    facts = healthy()
    facts['settings']['max_slot_wal_keep_size'] = setting(-1)
    facts['replication_slots'].append(inactive('standby', 10, 'physical'))
    only_problem(run(facts), 'standby is inactive and max_slot_wal_keep_size = -1')


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
    facts.update(replication_slots=None, publication=None, tables=None, event_trigger=None, role=None,
                 notes=['Tables: unknown, because monitor may not read it.'])
    report = run(facts)
    assert report['ready'] is True
    for key in ('replication_slots', 'publication', 'tables_without_full_identity', 'tables_without_primary_key',
                'event_trigger', 'role'):
        assert report[key] is None
    assert report['notes'] == ['Tables: unknown, because monitor may not read it.']


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
