# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.patroni_patch import (
    FilterModule,
    patroni_coordinator,
    patroni_keep_size_mb,
    patroni_needs_restart,
    patroni_patch,
    patroni_restarts,
    patroni_unpatch,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import auto_keep_size_mb

GB = 1024 ** 3
HBA = 'host shop bemi 192.0.2.10/32 scram-sha-256'
SLOT = {'type': 'logical', 'database': 'shop', 'plugin': 'pgoutput'}

# What a fresh Patroni cluster's GET /config returns (bootstrap.dcs defaults, no budget).
FRESH = {'ttl': 30, 'loop_wait': 10, 'retry_timeout': 10, 'maximum_lag_on_failover': 1048576,
         'postgresql': {'use_pg_rewind': True, 'use_slots': True,
                        'parameters': {'wal_level': 'replica', 'hot_standby': 'on', 'max_connections': 100},
                        'pg_hba': ['local all all trust', 'host replication replicator 0.0.0.0/0 scram-sha-256']}}


def wanted(**changes):
    base = {'slot_name': 'bemi', 'slot_database': 'shop', 'min_replication_slots': 0, 'min_wal_senders': 0,
            'max_slot_wal_keep_size': 'auto', 'pg_wal': {'path': '/pg/pg_wal', 'free_bytes': 40 * GB,
                                                         'size_bytes': 100 * GB},
            'min_wal_size_mb': 80, 'use_slots': True, 'manage_pg_hba': False, 'hba_lines': [HBA]}
    base.update(changes)
    return base


def ready(config, want):
    """The configuration after Patroni applied the patch (JSON merge patch, as Patroni does)."""
    def merge(target, patch):
        for key, value in patch.items():
            if value is None:
                target.pop(key, None)
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = copy.deepcopy(value)
        return target
    return merge(copy.deepcopy(config), patroni_patch(config, want))


def test_fresh_cluster_gets_everything_and_an_auto_budget():
    patch = patroni_patch(FRESH, wanted(manage_pg_hba=True, min_wal_senders=12))
    assert patch == {
        'postgresql': {'parameters': {'wal_level': 'logical', 'max_wal_senders': 12,
                                      'max_slot_wal_keep_size': '20GB'},
                       'pg_hba': [HBA] + FRESH['postgresql']['pg_hba']},
        'slots': {'bemi': SLOT}}
    assert auto_keep_size_mb(40 * GB, 80) == 20 * 1024


def test_second_run_is_empty():
    want = wanted(manage_pg_hba=True, min_wal_senders=12, min_replication_slots=12)
    assert patroni_patch(ready(FRESH, want), want) == {}


def test_auto_budget_set_once_then_left_alone():
    config = copy.deepcopy(FRESH)
    config['postgresql']['parameters'].update(wal_level='logical', max_slot_wal_keep_size='1GB')
    config['slots'] = {'bemi': dict(SLOT)}
    # A budget exists, smaller than auto would pick, or unlimited: both left alone.
    assert patroni_patch(config, wanted()) == {}
    config['postgresql']['parameters']['max_slot_wal_keep_size'] = -1
    assert patroni_patch(config, wanted()) == {}
    # And the free space is not needed then.
    assert patroni_patch(config, wanted(pg_wal=None)) == {}


def test_auto_budget_never_below_min_wal_size_and_whole_gb():
    patch = patroni_patch(FRESH, wanted(pg_wal={'path': '/x', 'free_bytes': 3 * GB + 5, 'size_bytes': 10 * GB},
                                        min_wal_size_mb=80))
    assert patch['postgresql']['parameters']['max_slot_wal_keep_size'] == '1GB'
    patch = patroni_patch(FRESH, wanted(pg_wal={'path': '/x', 'free_bytes': GB, 'size_bytes': 10 * GB},
                                        min_wal_size_mb=2048))
    assert patch['postgresql']['parameters']['max_slot_wal_keep_size'] == '2GB'


def test_auto_budget_shared_filesystem():
    patch = patroni_patch(FRESH, wanted(share=2))
    assert patch['postgresql']['parameters']['max_slot_wal_keep_size'] == '10GB'


def test_auto_budget_without_free_space_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match='bemi_max_slot_wal_keep_size a size'):
        patroni_patch(FRESH, wanted(pg_wal=None))
    with pytest.raises(AnsibleFilterError, match='become'):
        patroni_patch(FRESH, wanted(pg_wal='None'))  # how older ansible-core hands over a null


@pytest.mark.parametrize('given, current, expected', [
    ('50GB', None, '50GB'),
    ('50GB', '1GB', '50GB'),
    ('50GB', 51200, None),          # the same size, in MB as a number
    ('50GB', '50GB', None),
    ('512MB', '1GB', '512MB'),       # a given size may lower the budget
    ('unlimited', '1GB', -1),
    ('unlimited', -1, None),
    ('unlimited', '-1', None),
    ('-1', None, -1),
    ('1536MB', '1.5GB', None),      # read as PostgreSQL reads it
    ('2GB', 2048, None),
])
def test_a_given_budget_is_set_exactly(given, current, expected):
    config = copy.deepcopy(FRESH)
    if current is not None:
        config['postgresql']['parameters']['max_slot_wal_keep_size'] = current
    params = patroni_patch(config, wanted(max_slot_wal_keep_size=given))['postgresql']['parameters']
    assert params.get('max_slot_wal_keep_size') == expected


def test_a_bad_budget_is_refused():
    with pytest.raises(AnsibleFilterError, match='whole number of MB'):
        patroni_patch(FRESH, wanted(max_slot_wal_keep_size='lots'))
    config = copy.deepcopy(FRESH)
    config['postgresql']['parameters']['max_slot_wal_keep_size'] = 'lots'
    with pytest.raises(AnsibleFilterError, match='max_slot_wal_keep_size'):
        patroni_patch(config, wanted(max_slot_wal_keep_size='1GB'))


def test_minimums_against_patronis_defaults():
    # Patroni uses 10 for both when its configuration does not name them.
    patch = patroni_patch(FRESH, wanted(min_replication_slots=10, min_wal_senders=11))
    assert patch['postgresql']['parameters'].get('max_replication_slots') is None
    assert patch['postgresql']['parameters']['max_wal_senders'] == 11
    config = copy.deepcopy(FRESH)
    config['postgresql']['parameters'].update(max_wal_senders='20')
    assert 'max_wal_senders' not in patroni_patch(config, wanted(min_wal_senders='12'))['postgresql']['parameters']


def test_wal_level_aliases_and_logical():
    config = copy.deepcopy(FRESH)
    config['postgresql']['parameters']['wal_level'] = 'LOGICAL'
    assert 'wal_level' not in patroni_patch(config, wanted())['postgresql']['parameters']
    config['postgresql']['parameters']['wal_level'] = 'hot_standby'
    assert patroni_patch(config, wanted())['postgresql']['parameters']['wal_level'] == 'logical'
    del config['postgresql']['parameters']['wal_level']
    assert patroni_patch(config, wanted())['postgresql']['parameters']['wal_level'] == 'logical'


def test_use_slots_turned_on_only_when_allowed():
    config = copy.deepcopy(FRESH)
    config['postgresql']['use_slots'] = False
    assert patroni_patch(config, wanted())['postgresql']['use_slots'] is True
    assert 'use_slots' not in patroni_patch(config, wanted(use_slots=False))['postgresql']
    assert 'use_slots' not in patroni_patch(config, wanted(use_slots='False'))['postgresql']
    assert 'use_slots' not in patroni_patch(FRESH, wanted())['postgresql']


def test_slot_kept_when_it_matches_and_replaced_when_it_differs():
    config = ready(FRESH, wanted())
    config['slots']['bemi']['failover'] = True  # an extra key of the administrator's stays
    assert 'slots' not in patroni_patch(config, wanted())
    config['slots']['bemi']['database'] = 'other'
    assert patroni_patch(config, wanted())['slots'] == {'bemi': SLOT}
    config['slots'] = None  # Patroni reports slots: null after the last one was removed
    assert patroni_patch(config, wanted())['slots'] == {'bemi': SLOT}


def test_pg_hba_only_when_managed_and_missing():
    assert 'pg_hba' not in patroni_patch(FRESH, wanted())['postgresql']
    config = copy.deepcopy(FRESH)
    config['postgresql']['pg_hba'] = ['local all all trust', HBA]
    assert 'pg_hba' not in patroni_patch(config, wanted(manage_pg_hba=True))['postgresql']


def test_needs_restart():
    assert patroni_needs_restart({'postgresql': {'parameters': {'wal_level': 'logical'}}})
    assert patroni_needs_restart({'postgresql': {'parameters': {'max_wal_senders': 12}}})
    assert not patroni_needs_restart({'postgresql': {'parameters': {'max_slot_wal_keep_size': '20GB'}}})
    assert not patroni_needs_restart({'slots': {'bemi': SLOT}})
    assert not patroni_needs_restart({})


BATCH = [{'host': 'db-c', 'scope': 'main', 'name': 'pg3'}, {'host': 'db-a', 'scope': 'main', 'name': 'pg1'},
         {'host': 'db-b', 'scope': 'main', 'name': 'pg2'}, {'host': 'other', 'scope': 'second', 'name': 'pg0'}]


def test_the_leaders_host_coordinates_whatever_the_inventory_order():
    assert patroni_coordinator(BATCH, 'main', 'pg3') == 'db-c'
    assert patroni_coordinator(list(reversed(BATCH)), 'main', 'pg2') == 'db-b'
    assert patroni_coordinator(BATCH, 'second', 'pg0') == 'other'


def test_without_the_leader_in_the_batch_the_first_member_by_name():
    assert patroni_coordinator(BATCH, 'main', 'pg9') == 'db-a'
    assert patroni_coordinator(BATCH[:1], 'main', 'pg1') == 'db-c'
    assert patroni_coordinator(BATCH, 'third', 'pg1') is None


MEMBERS = [{'name': 'pg1', 'role': 'leader'}, {'name': 'pg3', 'role': 'replica'},
           {'name': 'pg2', 'role': 'sync_standby'}]


def test_restarts_replicas_by_name_then_the_leader_only_of_the_run():
    assert patroni_restarts(MEMBERS, ['pg1', 'pg2', 'pg3']) == {'restart': [MEMBERS[2], MEMBERS[1], MEMBERS[0]],
                                                                'left': []}
    assert patroni_restarts(MEMBERS, ['pg3']) == {'restart': [MEMBERS[1]], 'left': ['pg1', 'pg2']}
    assert patroni_restarts(MEMBERS, [], everyone=True)['restart'] == [MEMBERS[2], MEMBERS[1], MEMBERS[0]]
    assert patroni_restarts(MEMBERS, [], everyone='False') == {'restart': [], 'left': ['pg1', 'pg2', 'pg3']}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'patroni_patch', 'patroni_needs_restart', 'patroni_coordinator',
                                             'patroni_restarts', 'patroni_keep_size_mb', 'patroni_unpatch'}


def test_keep_size_of_a_configuration():
    assert patroni_keep_size_mb(FRESH) is None
    assert patroni_keep_size_mb({'postgresql': {'parameters': {'max_slot_wal_keep_size': '1.5GB'}}}) == 1536
    assert patroni_keep_size_mb({'postgresql': {'parameters': {'max_slot_wal_keep_size': -1}}}) == -1
    assert patroni_keep_size_mb({}) is None


# -- teardown: patroni_unpatch ------------------------------------------------
def unwanted(**changes):
    base = {'slot_name': 'bemi', 'manage_pg_hba': True, 'hba_lines': [HBA]}
    base.update(changes)
    return base


def test_unpatch_takes_out_bemis_slot_and_hba_lines_only():
    config = copy.deepcopy(FRESH)
    config['slots'] = {'bemi': SLOT, 'other': {'type': 'physical'}}
    config['postgresql']['pg_hba'] = [HBA, 'local all all trust', 'host all app 10.0.0.0/8 md5']
    assert patroni_unpatch(config, unwanted()) == {
        'slots': {'bemi': None},  # null deletes the key in a merge patch
        'postgresql': {'pg_hba': ['local all all trust', 'host all app 10.0.0.0/8 md5']}}


def test_unpatch_is_empty_when_nothing_of_bemi_is_left():
    assert patroni_unpatch(copy.deepcopy(FRESH), unwanted()) == {}
    assert patroni_unpatch(dict(FRESH, slots=None, postgresql={'pg_hba': None}), unwanted()) == {}


def test_unpatch_leaves_pg_hba_alone_unless_managed():
    config = dict(copy.deepcopy(FRESH), slots={'bemi': SLOT})
    config['postgresql']['pg_hba'].append(HBA)
    assert patroni_unpatch(config, unwanted(manage_pg_hba='false')) == {'slots': {'bemi': None}}
    assert patroni_unpatch(config, unwanted(slot_name='cdc'))['postgresql']['pg_hba'] == FRESH['postgresql']['pg_hba']


def test_unpatch_refuses_what_is_not_a_dict():
    with pytest.raises(AnsibleFilterError, match='patroni_unpatch'):
        patroni_unpatch(None, unwanted())
