# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: wal_level_options
short_description: The options of bemi_wal_level that the tracking role gives it, decided once
version_added: 0.2.0
description:
  - Turns the tracking role's variables into the options of M(bemi.postgresql.bemi_wal_level), leaving out those
    that do not apply, so that the role's one read of the server (M(bemi.postgresql.bemi_info) with its C(wal_level)
    option) asks exactly what the real run of M(bemi.postgresql.bemi_wal_level) then does.
  - With C(state=present), the slot and sender minimums (when above 0), the WAL budget and its share, and
    C(bemi_data_directory) when set (else the module reads the server's C(data_directory)).
  - With C(state=absent), Bemi's slot counts as dropped before the reset, as teardown drops it first.
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: C(bemi_state), V(present) or V(absent).
    type: str
    required: true
  min_replication_slots:
    description: C(bemi_min_replication_slots); V(0) leaves it out.
    type: int
    default: 0
  min_wal_senders:
    description: C(bemi_min_wal_senders); V(0) leaves it out.
    type: int
    default: 0
  max_slot_wal_keep_size:
    description: C(bemi_max_slot_wal_keep_size).
    type: str
    default: auto
  share:
    description: C(bemi_wal_budget_share).
    type: int
    default: 1
  data_directory:
    description: C(bemi_data_directory); empty leaves it out.
    type: str
    default: ''
  slot_name:
    description: C(bemi_slot_name).
    type: str
    default: bemi
"""

EXAMPLES = r"""
- name: Ask the server, and what bemi_wal_level would change, in one read
  bemi.postgresql.bemi_info:
    wal_level: "{{ bemi_state | bemi.postgresql.wal_level_options(bemi_min_replication_slots, bemi_min_wal_senders) }}"
  register: facts
"""

RETURN = r"""
_value:
  description: The options, as M(bemi.postgresql.bemi_wal_level) takes them (without the connection options).
  type: dict
"""


def wal_level_options(state, min_replication_slots=0, min_wal_senders=0, max_slot_wal_keep_size='auto', share=1,
                      data_directory='', slot_name='bemi'):
    if state == 'absent':
        # Teardown drops Bemi's slot before it resets wal_level: only other logical slots can refuse.
        return {'state': 'absent', 'slots_dropped_before': [slot_name]}
    options = {'state': 'present', 'max_slot_wal_keep_size': str(max_slot_wal_keep_size), 'share': int(share)}
    for name, value in (('min_replication_slots', min_replication_slots), ('min_wal_senders', min_wal_senders)):
        if int(value or 0) > 0:
            options[name] = int(value)
    if data_directory:
        options['data_directory'] = data_directory
    return options


class FilterModule:

    def filters(self):
        return {'wal_level_options': wal_level_options}
