# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: patroni_patch
short_description: The change Bemi needs in a Patroni cluster's dynamic configuration
version_added: 0.2.0
description:
  - Returns the JSON merge patch for Patroni's C(PATCH /config) that makes its dynamic configuration ready for Bemi,
    with only what differs (an empty dict when nothing does). The rules are those of a server without Patroni.
  - C(wal_level) becomes V(logical); C(max_replication_slots) and C(max_wal_senders) are raised to the minimums
    (Patroni's default is 10 when the configuration does not name them).
  - The WAL budget C(max_slot_wal_keep_size) - V(auto) sets half the free space of the C(pg_wal) filesystem, in
    whole GB and never below C(min_wal_size), only when the configuration holds no budget; a size or V(unlimited)
    is set exactly.
  - Bemi's permanent logical slot; C(use_slots) turned on when it is off (only with C(use_slots) in O(wanted)); with
    C(manage_pg_hba) in O(wanted) the missing C(pg_hba) lines, before the others.
  - The module_utils of the collection hold the size rules, so that the plain path and this one agree.
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: Patroni's dynamic configuration (C(GET /config)).
    type: dict
    required: true
  wanted:
    description:
      - What Bemi needs. Keys C(slot_name), C(slot_database), C(min_replication_slots), C(min_wal_senders),
        C(max_slot_wal_keep_size) (V(auto), a size, or V(unlimited)), C(pg_wal) (C(bemi_info)'s
        C(server.pg_wal), used only by V(auto)), C(min_wal_size_mb), C(share) (servers sharing that filesystem),
        C(use_slots) (may C(use_slots) be turned on),
        C(manage_pg_hba), C(hba_lines).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Work out the change to Patroni's configuration
  ansible.builtin.set_fact:
    patch: "{{ patroni_config | bemi.postgresql.patroni_patch(wanted) }}"
"""

RETURN = r"""
_value:
  description: The merge patch; empty when the configuration is ready.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import WAL_LEVEL_ALIASES
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import (
    AUTO,
    UNLIMITED,
    BudgetError,
    auto_keep_size_mb,
    config_value_mb,
    format_mb,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_level import (
    KEEP_SIZE,
    OptionError,
    WANTED_WAL_LEVEL,
    parse_keep_size,
)

# What Patroni uses when its configuration does not name the setting.
PATRONI_DEFAULTS = {'max_replication_slots': 10, 'max_wal_senders': 10, 'wal_level': 'replica'}
# Settings that take effect only at a restart (the budget is reloaded).
RESTART_SETTINGS = ('wal_level', 'max_replication_slots', 'max_wal_senders')
SLOT_KEYS = ('type', 'database', 'plugin')
LEADER_ROLES = ('leader', 'standby_leader')


def _bool(value):
    """A boolean of ``wanted``, which older ansible-core may hand over as text."""
    if isinstance(value, str):
        return value.strip().lower() in ('true', 'yes', 'on', '1')
    return bool(value)


def _keep_size_value(mb):
    """How the role writes a budget into Patroni's configuration (PostgreSQL reads -1, not unlimited)."""
    return UNLIMITED if mb == UNLIMITED else format_mb(mb)


def _budget(parameters, wanted):
    """The value of max_slot_wal_keep_size to set, or None."""
    try:
        given = parse_keep_size(wanted.get('max_slot_wal_keep_size', AUTO))
        # Read as PostgreSQL reads it: 1.5GB is 1536 MB, a bare number is MB.
        current = config_value_mb(parameters.get(KEEP_SIZE))
    except (OptionError, BudgetError) as exc:
        raise AnsibleFilterError('bemi.postgresql.patroni_patch: %s' % exc)
    if given == AUTO:
        if current is not None:
            return None  # set once; afterwards it belongs to the administrator
        pg_wal = wanted.get('pg_wal')
        if not isinstance(pg_wal, dict) or pg_wal.get('free_bytes') is None:
            raise AnsibleFilterError(
                'bemi_max_slot_wal_keep_size is auto, but the free space of pg_wal could not be read on this member, '
                'so the WAL budget cannot be worked out and nothing was changed. Fix: run the role with become (as '
                'root or the PostgreSQL OS user), or give bemi_max_slot_wal_keep_size a size such as 50GB.')
        return _keep_size_value(auto_keep_size_mb(int(pg_wal['free_bytes']), int(wanted.get('min_wal_size_mb') or 0),
                                                  int(wanted.get('share') or 1)))
    return None if current == given else _keep_size_value(given)


def patroni_patch(config, wanted):
    if not isinstance(config, dict) or not isinstance(wanted, dict):
        raise AnsibleFilterError('bemi.postgresql.patroni_patch: the configuration and wanted must be dicts')
    postgresql = config.get('postgresql') or {}
    parameters = postgresql.get('parameters') or {}
    params = {}

    wal_level = str(parameters.get('wal_level', PATRONI_DEFAULTS['wal_level'])).lower()
    if WAL_LEVEL_ALIASES.get(wal_level, wal_level) != WANTED_WAL_LEVEL:
        params['wal_level'] = WANTED_WAL_LEVEL
    for name in ('max_replication_slots', 'max_wal_senders'):
        minimum = int(wanted.get(name.replace('max_', 'min_', 1)) or 0)
        if minimum > int(parameters.get(name, PATRONI_DEFAULTS[name])):
            params[name] = minimum
    budget = _budget(parameters, wanted)
    if budget is not None:
        params[KEEP_SIZE] = budget

    patch = {}
    section = {}
    if params:
        section['parameters'] = params
    # Patroni keeps no slot at all, permanent ones included, while use_slots is off.
    if postgresql.get('use_slots', True) is False and _bool(wanted.get('use_slots', True)):
        section['use_slots'] = True
    hba_now = postgresql.get('pg_hba') or []
    hba_missing = [line for line in wanted.get('hba_lines') or [] if line not in hba_now]
    if _bool(wanted.get('manage_pg_hba')) and hba_missing:
        section['pg_hba'] = hba_missing + list(hba_now)
    if section:
        patch['postgresql'] = section

    slot_wanted = {'type': 'logical', 'database': wanted['slot_database'], 'plugin': 'pgoutput'}
    slot_now = (config.get('slots') or {}).get(wanted['slot_name']) or {}
    if any(slot_now.get(key) != slot_wanted[key] for key in SLOT_KEYS):
        patch['slots'] = {wanted['slot_name']: slot_wanted}
    return patch


def patroni_unpatch(config, wanted):
    """The merge patch that takes Bemi out of Patroni's dynamic configuration (teardown); empty when nothing is left.

    ``wanted``: ``slot_name``, ``manage_pg_hba`` and ``hba_lines`` (Bemi's pg_hba lines). In a merge patch, null
    deletes a key: Bemi's permanent slot goes; with ``manage_pg_hba``, Bemi's lines leave ``pg_hba``, in order.
    """
    if not isinstance(config, dict) or not isinstance(wanted, dict):
        raise AnsibleFilterError('bemi.postgresql.patroni_unpatch: the configuration and wanted must be dicts')
    patch = {}
    if wanted['slot_name'] in (config.get('slots') or {}):
        patch['slots'] = {wanted['slot_name']: None}
    hba_now = (config.get('postgresql') or {}).get('pg_hba') or []
    hba_bemi = wanted.get('hba_lines') or []
    if _bool(wanted.get('manage_pg_hba')) and any(line in hba_bemi for line in hba_now):
        patch['postgresql'] = {'pg_hba': [line for line in hba_now if line not in hba_bemi]}
    return patch


def patroni_keep_size_mb(config):
    """The WAL budget Patroni's configuration holds, in MB as PostgreSQL reads it; None when it holds none."""
    parameters = ((config or {}).get('postgresql') or {}).get('parameters') or {}
    try:
        return config_value_mb(parameters.get(KEEP_SIZE))
    except BudgetError as exc:
        raise AnsibleFilterError('bemi.postgresql.patroni_keep_size_mb: %s' % exc)


def patroni_needs_restart(patch):
    """Whether a patch changes a setting that takes effect only at a restart."""
    params = ((patch or {}).get('postgresql') or {}).get('parameters') or {}
    return any(name in params for name in RESTART_SETTINGS)


def patroni_coordinator(batch, scope, leader):
    """The one host of ``batch`` that coordinates the cluster ``scope``: the leader's host, else the member first by name.

    ``batch``: the hosts of this batch as dicts ``{host, scope, name}`` (each member's own answer to GET /patroni).
    """
    members = sorted((m for m in batch or [] if m.get('scope') == scope and m.get('name')), key=lambda m: m['name'])
    if not members:
        return None
    return next((m['host'] for m in members if m['name'] == leader), members[0]['host'])


def patroni_restarts(members, run_names, everyone=False):
    """The members to restart now (replicas by name, then the leader) and those left pending.

    ``members``: GET /cluster's members that need a restart. ``run_names``: the members this run was given;
    the others are restarted only with ``everyone``.
    """
    chosen = [m for m in members or [] if _bool(everyone) or m['name'] in (run_names or [])]
    order = (sorted((m for m in chosen if m.get('role') not in LEADER_ROLES), key=lambda m: m['name'])
             + [m for m in chosen if m.get('role') in LEADER_ROLES])
    return {'restart': order, 'left': sorted(m['name'] for m in members or [] if m not in chosen)}


class FilterModule:

    def filters(self):
        return {
            'patroni_patch': patroni_patch,
            'patroni_unpatch': patroni_unpatch,
            'patroni_needs_restart': patroni_needs_restart,
            'patroni_keep_size_mb': patroni_keep_size_mb,
            'patroni_coordinator': patroni_coordinator,
            'patroni_restarts': patroni_restarts,
        }
