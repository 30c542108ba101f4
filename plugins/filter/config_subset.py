# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: config_subset
short_description: The part of a nested configuration that a change touches
version_added: 0.2.0
description:
  - Returns the values of the input at the key paths of O(keys) (a nested dict, such as a JSON merge patch),
    and nothing else, so a before/after view of a large configuration shows only what a change is about.
  - Where the input does not have a path, the first missing key is returned as null.
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: The whole configuration, for example Patroni's dynamic configuration.
    type: dict
    required: true
  keys:
    description: A nested dict whose key paths select the parts to return; its leaf values are ignored.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What Patroni's configuration holds now where a patch would change it
  ansible.builtin.debug:
    msg: "{{ patroni_config | bemi.postgresql.config_subset({'postgresql': {'parameters': {'wal_level': 'logical'}}}) }}"
  # -> {'postgresql': {'parameters': {'wal_level': 'replica'}}}
"""

RETURN = r"""
_value:
  description: The selected part of the input, in the same nesting.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def config_subset(config, keys):
    if not isinstance(keys, dict):
        raise AnsibleFilterError('bemi.postgresql.config_subset: keys must be a dict, not %s' % type(keys).__name__)
    out = {}
    for key, value in keys.items():
        current = config.get(key)
        descend = isinstance(value, dict) and value and isinstance(current, dict)
        out[key] = config_subset(current, value) if descend else current
    return out


class FilterModule:

    def filters(self):
        return {'config_subset': config_subset}
