# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.config_subset import config_subset

CONFIG = {'ttl': 30, 'postgresql': {'use_slots': True, 'parameters': {'wal_level': 'replica', 'max_connections': 100},
                                    'pg_hba': ['local all all trust']},
          'slots': {'other': {'type': 'physical'}}}


def test_only_the_touched_paths():
    patch = {'postgresql': {'parameters': {'wal_level': 'logical'}}, 'slots': {'bemi': {'type': 'logical'}}}
    assert config_subset(CONFIG, patch) == {'postgresql': {'parameters': {'wal_level': 'replica'}},
                                            'slots': {'bemi': None}}


def test_a_list_or_scalar_leaf_is_returned_whole():
    assert config_subset(CONFIG, {'postgresql': {'pg_hba': ['x']}, 'ttl': 10}) == {
        'postgresql': {'pg_hba': ['local all all trust']}, 'ttl': 30}


def test_missing_sections_are_null():
    assert config_subset({}, {'postgresql': {'parameters': {'wal_level': 'logical'}}}) == {'postgresql': None}
    assert config_subset({'postgresql': {}}, {'postgresql': {'parameters': {'wal_level': 'logical'}}}) == {
        'postgresql': {'parameters': None}}


def test_keys_must_be_a_dict():
    with pytest.raises(AnsibleFilterError, match='config_subset'):
        config_subset(CONFIG, ['ttl'])
