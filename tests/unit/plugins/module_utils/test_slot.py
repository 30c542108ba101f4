from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.slot import (
    GB,
    MB,
    SlotError,
    health,
    outage_budget,
    plan_drop,
    seconds_setting,
    slot_findings,
    slots_query,
    timeout_findings,
    walsender,
)


def slot(**fields):
    base = {'name': 'bemi', 'type': 'logical', 'database': 'shop', 'plugin': 'pgoutput', 'active': False,
            'active_pid': None, 'retained_wal_bytes': 100, 'wal_status': 'reserved', 'safe_wal_size': GB,
            'inactive_since': None, 'invalidation_reason': None, 'conflicting': None}
    base.update(fields)
    return base


def active_row(**fields):
    row = slot(active=True, active_pid=4242, client_addr='10.0.0.5', client_port=53422, application_name='bemi',
               client_user='bemi', backend_type='walsender')
    row.update(fields)
    return row


def test_version_gates_in_the_query():
    assert 'NULL AS invalidation_reason' in slots_query(160000)
    assert 'conflicting AS conflicting' in slots_query(160000)
    assert 'NULL AS conflicting' in slots_query(150000)
    assert 'invalidation_reason::text AS invalidation_reason' in slots_query(170000)
    assert 'WHERE s.slot_name = %s' in slots_query(130000, one=True)


def test_walsender_names_pid_and_address():
    assert walsender(active_row()) == 'pid 4242 (client 10.0.0.5:53422, application bemi, user bemi)'
    assert walsender(active_row(client_addr=None, client_port=-1, application_name='', client_user=None)) == \
        'pid 4242 (client on the local unix socket)'
    assert 'not visible' in walsender(active_row(client_addr=None, client_port=None))


def test_plan_drop():
    assert plan_drop(None, False) == []
    assert len(plan_drop(slot(), False)) == 1
    assert len(plan_drop(active_row(), True)) == 2
    with pytest.raises(SlotError) as refused:
        plan_drop(active_row(), False)
    assert 'pid 4242 (client 10.0.0.5:53422' in str(refused.value)
    assert 'terminate: true' in str(refused.value)


@pytest.mark.parametrize('row, message', [
    (slot(type='physical', database=None, plugin=None), 'is a physical slot'),
    (active_row(type='physical', database=None, plugin=None), 'is a physical slot'),
    (slot(synced=True, failover=True), 'synchronized from the primary'),
    # A standby's slot synchronization worker holds a synced slot while it updates it.
    (active_row(synced=True, backend_type='slotsync worker'), 'synchronized from the primary'),
    (active_row(backend_type='client backend'), 'in use by a client backend (pid 4242), not by a walsender'),
])
@pytest.mark.parametrize('terminate', [False, True])
def test_plan_drop_refuses(row, message, terminate):
    with pytest.raises(SlotError) as refused:
        plan_drop(row, terminate)
    assert message in str(refused.value)
    assert refused.value.executed == []


@pytest.mark.parametrize('fields, code', [
    ({'wal_status': 'lost'}, 'slot_invalidated'),
    ({'wal_status': 'lost', 'invalidation_reason': 'wal_removed'}, 'slot_invalidated'),
    ({'wal_status': 'reserved', 'invalidation_reason': 'idle_timeout'}, 'slot_invalidated'),
    ({'conflicting': True}, 'slot_invalidated'),
    ({'wal_status': 'unreserved'}, 'slot_unreserved'),
    ({'wal_status': 'extended'}, 'slot_extended'),
])
def test_slot_findings(fields, code):
    found = slot_findings(slot(**fields), 'bemi')
    assert [item['code'] for item in found] == [code]
    assert set(found[0]) == {'code', 'severity', 'object', 'message', 'fix'}
    assert found[0]['object'] == 'replication slot bemi'
    if code == 'slot_invalidated':
        assert found[0]['severity'] == 'problem' and found[0]['fix'].startswith('Bemi must re-sync')


def test_healthy_and_other_slots_have_no_findings():
    assert slot_findings(slot(), 'bemi') == []
    assert slot_findings(slot(name='other', wal_status='lost'), 'bemi') == []
    assert slot_findings(None, 'bemi') == []


def test_findings_carry_their_registered_severity():
    from ansible_collections.bemi.postgresql.plugins.module_utils.findings import CODES
    found = slot_findings(slot(wal_status='lost'), 'bemi') + slot_findings(slot(wal_status='extended'), 'bemi')
    expected = [('slot_invalidated', CODES['slot_invalidated']), ('slot_extended', 'note')]
    assert [(f['code'], f['severity']) for f in found] == expected
    assert found[0]['fix'].startswith('Bemi must re-sync')


def test_outage_budget():
    assert outage_budget(slot(), 1024, None, None) is None
    assert outage_budget(slot(safe_wal_size=100 * MB), 1024, MB, None) == 100
    assert outage_budget(None, 64, MB, None) == 64          # no slot yet: the whole budget
    assert outage_budget(None, -1, MB, None) is None         # unlimited
    assert outage_budget(slot(safe_wal_size=None), -1, MB, 600) == 600
    assert outage_budget(slot(safe_wal_size=100 * MB), 1024, MB, 30) == 30
    assert outage_budget(slot(), 1024, 0, None) is None      # no WAL written: nothing runs out
    assert outage_budget(slot(safe_wal_size=-5), 1024, MB, None) == 0


def test_idle_timeout_shorter_than_the_budget_is_a_note():
    assert timeout_findings(0, 100, 'bemi') == []
    assert timeout_findings(None, 100, 'bemi') == []
    assert timeout_findings(600, 300, 'bemi') == []
    found = timeout_findings(60, 300, 'bemi')
    assert found[0]['code'] == 'idle_slot_timeout_short' and found[0]['severity'] == 'note'
    assert 'the 300 s the WAL budget would allow' in found[0]['message']
    assert timeout_findings(60, None, 'bemi')[0]['code'] == 'idle_slot_timeout_short'


def test_health_fields():
    fields, findings = health([slot(safe_wal_size=100 * MB)], 'bemi', 1024,
                              {'idle_replication_slot_timeout': 30, 'wal_rate_bytes_per_second': MB})
    assert fields == {'wal_rate_bytes_per_second': MB, 'outage_budget_seconds': 30,
                      'idle_replication_slot_timeout': 30}
    assert [item['code'] for item in findings] == ['idle_slot_timeout_short']


def test_seconds_setting():
    assert seconds_setting({'setting': '0', 'unit': 's'}) == 0
    assert seconds_setting({'setting': '5', 'unit': 'min'}) == 300
    assert seconds_setting(None) is None


def topology(version=170000, standby=False, standbys=1):
    return {'server_version': version, 'in_recovery': standby, 'standbys': standbys,
            'idle_replication_slot_timeout': None, 'wal_rate_bytes_per_second': None}


def codes(slots, facts):
    return [item['code'] for item in health(slots, 'bemi', 1024, facts)[1]]


def test_failover_before_17_is_a_note_only_with_standbys():
    assert codes([slot()], topology(160000)) == ['slot_not_failover_safe']
    assert codes([slot()], topology(160000, standbys=0)) == []
    assert codes([slot()], topology(160000, standby=True)) == []
    found = health([slot()], 'bemi', 1024, topology(150000))[1][0]
    assert found['severity'] == 'note' and 'Patroni' in found['fix'] and 'PostgreSQL 17' in found['fix']


def test_failover_on_a_primary_17():
    assert codes([slot(failover=False)], topology()) == ['slot_failover_off']
    assert codes([slot(failover=True)], topology()) == []
    assert codes([slot(failover=False)], topology(standbys=0)) == []
    assert codes([], topology()) == []
    fields = health([slot(failover=True)], 'bemi', 1024, topology())[0]
    assert fields['failover'] == {'supported': True, 'standby': False, 'streaming_standbys': 1,
                                  'slot_failover': True, 'slot_synced': None, 'slot_lag_bytes': None}


def test_failover_on_a_standby_17():
    assert codes([], topology(standby=True)) == ['standby_slot_missing']
    assert codes([slot(synced=False, failover=False)], topology(standby=True)) == ['standby_slot_not_synced']
    synced = slot(synced=True, failover=True, lag_bytes=512)
    assert codes([synced], topology(standby=True)) == []
    assert health([synced], 'bemi', 1024, topology(standby=True))[0]['failover']['slot_lag_bytes'] == 512


def physical(name, active):
    return slot(name=name, type='physical', database=None, plugin=None, active=active)


def test_listed_standby_slot_without_its_standby_is_a_note():
    facts = dict(topology(), synchronized_standby_slots=['standby_a', 'standby_b', 'gone'])
    slots = [slot(failover=True), physical('standby_a', True), physical('standby_b', False)]
    found = health(slots, 'bemi', 1024, facts)[1]
    assert [(item['code'], item['object'], item['severity']) for item in found] == [
        ('synchronized_standby_slot_inactive', 'replication slot standby_b', 'note'),
        ('synchronized_standby_slot_inactive', 'replication slot gone', 'note')]
    assert 'inactive' in found[0]['message'] and 'does not exist' in found[1]['message']
    # Only failover slots wait; a standby reads nothing of it; a cluster manager has its own way.
    assert codes([slot(failover=False), physical('standby_b', False)],
                 dict(facts, synchronized_standby_slots=['standby_b'])) == ['slot_failover_off']
    assert codes([physical('standby_b', False)], dict(facts, in_recovery=True)) == ['standby_slot_missing']
    assert health(slots, 'bemi', 1024, facts, cluster_manager='patroni')[1] == []
