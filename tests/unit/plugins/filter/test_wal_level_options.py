# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.filter.wal_level_options import FilterModule, wal_level_options


def test_present_leaves_out_what_does_not_apply():
    assert wal_level_options('present') == {'state': 'present', 'max_slot_wal_keep_size': 'auto', 'share': 1}
    assert wal_level_options('present', '12', 0, '50GB', '2', '/srv/pg', 'bemi') == {
        'state': 'present', 'min_replication_slots': 12, 'max_slot_wal_keep_size': '50GB', 'share': 2,
        'data_directory': '/srv/pg'}


def test_absent_counts_bemis_slot_as_dropped_first():
    assert wal_level_options('absent', 12, 10, '50GB', 2, '/srv/pg', 'cdc') == {
        'state': 'absent', 'slots_dropped_before': ['cdc']}


def test_registered():
    assert FilterModule().filters() == {'wal_level_options': wal_level_options}
