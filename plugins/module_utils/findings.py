# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The findings of bemi_info: each with a stable code, so playbooks filter on codes, never on sentences.

Every code is registered here once, with its severity. docs/readiness.md lists
the same codes (a unit test compares the two sets), so a new check cannot ship
undocumented.
"""

from __future__ import annotations

PROBLEM = 'problem'
NOTE = 'note'

# code -> severity. A problem makes ``ready`` false; a note never does.
CODES = {
    # wal_level and restarts
    'wal_level_not_logical': PROBLEM,
    'wal_level_restart_pending': PROBLEM,
    'wal_level_configured_not_logical': PROBLEM,
    'restart_pending': PROBLEM,
    'restart_pending_unrelated': NOTE,
    'file_settings_unreadable': NOTE,
    # capacity
    'replication_slots_exhausted': PROBLEM,
    'wal_senders_exhausted': PROBLEM,
    # replication slots
    'slot_missing': NOTE,
    'slot_wrong_database': PROBLEM,
    'slot_plugin_not_pgoutput': PROBLEM,
    'slot_wal_lost': PROBLEM,
    'slot_inactive_retaining_wal': PROBLEM,
    'inactive_slot_unbounded_wal': PROBLEM,
    'slot_wal_unbounded': NOTE,
    'wal_budget_unlimited': PROBLEM,
    'wal_budget_exceeds_free_space': NOTE,
    # Bemi's slot: WAL budget, invalidation, failover (module_utils/slot.py)
    'slot_invalidated': PROBLEM,
    'slot_unreserved': PROBLEM,
    'slot_extended': NOTE,
    'idle_slot_timeout_short': NOTE,
    'slot_not_failover_safe': NOTE,
    'standby_slot_missing': NOTE,
    'standby_slot_not_synced': PROBLEM,
    'slot_failover_off': PROBLEM,
    'synchronized_standby_slot_inactive': NOTE,
    # publication and tables
    'publication_missing': PROBLEM,
    'publication_operations_missing': PROBLEM,
    'publication_row_filter': PROBLEM,
    'publication_column_list': PROBLEM,
    'table_not_published': PROBLEM,
    'table_identity_not_full': PROBLEM,
    'table_without_replica_identity': PROBLEM,
    'table_unlogged': NOTE,
    'schema_missing': NOTE,
    'listed_table_missing': PROBLEM,
    # event trigger
    'event_trigger_missing': PROBLEM,
    'event_trigger_disabled': PROBLEM,
    'event_trigger_replica_only': PROBLEM,
    'event_trigger_outdated': PROBLEM,
    'event_trigger_schemas_not_covered': PROBLEM,
    'event_trigger_partitions_not_covered': PROBLEM,
    'event_trigger_owner_cannot_alter': PROBLEM,
    'event_trigger_owner_not_superuser': NOTE,
    # role
    'role_missing': PROBLEM,
    'role_nologin': PROBLEM,
    'role_expired': PROBLEM,
    'role_no_connect': PROBLEM,
    'role_no_replication': PROBLEM,
    'role_cannot_select': PROBLEM,
    'role_cannot_select_listed': NOTE,
    'role_noinherit': NOTE,
    'role_bypassrls': NOTE,
    # the network between Bemi and the server
    'server_listens_locally': NOTE,
    'pg_hba_no_remote_rule': NOTE,
    # cluster managers
    'cluster_manager_patroni': NOTE,
    'patroni_slot_missing_on_replica': PROBLEM,
    # the end-to-end probe (its own code for the cause is in probe.code)
    'probe_failed': PROBLEM,
    'probe_no_spare_slot': NOTE,
    'probe_no_spare_wal_sender': NOTE,
    'probe_skipped': NOTE,
    # what this login may not read
    'fact_unreadable': NOTE,
    'server_files_unreadable': NOTE,
}

_SEVERITY_ORDER = {PROBLEM: 0, NOTE: 1}


def finding(code, obj, message, fix=None):
    """One finding; its severity comes from CODES (an unregistered code is a bug, so KeyError)."""
    return {'code': code, 'severity': CODES[code], 'object': obj, 'message': message, 'fix': fix}


def sentence(item):
    """The plain sentence of ``problems`` and ``notes``: the message, then its fix."""
    return item['message'] if not item['fix'] else '%s Fix: %s' % (item['message'], item['fix'])


def summarize(items):
    """``findings`` sorted (problems first), and the sorted ``problems`` and ``notes`` sentences."""
    items = sorted(items, key=lambda f: (_SEVERITY_ORDER[f['severity']], f['code'], f['object'] or '', f['message']))
    return {
        'findings': items,
        'problems': sorted(sentence(f) for f in items if f['severity'] == PROBLEM),
        'notes': sorted(sentence(f) for f in items if f['severity'] == NOTE),
    }
