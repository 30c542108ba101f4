#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_info
short_description: Report whether a PostgreSQL database is ready and healthy for Bemi
version_added: 0.1.0
description:
  - Answers "is this database ready for Bemi's change data capture, and is it healthy?" in one call,
    with a list of RV(problems), each a plain sentence that names the object and gives the fix.
  - Checks C(wal_level) (running and configured) and pending restarts, free replication slots and WAL senders,
    replication slots that are inactive and retain WAL, the publication and which tables it covers,
    replica identity and primary keys of the tracked tables, the DDL event trigger, and the role Bemi connects with.
  - Never changes anything, in check mode or not. It creates no temporary objects and no trial slots;
    RV(queries) is always empty and C(changed) always false.
  - Reads the catalogs with a fixed number of queries, whatever the number of tables.
  - Runs as any role. What that role may not read (for example C(pg_file_settings) without superuser rights)
    is reported as unknown (null), with an entry in RV(notes), and is never turned into a problem or a failure.
  - The output is sorted and stable, so reports of a fleet can be compared with a plain diff.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  publication:
    description: The publication Bemi reads, in O(login_db).
    type: str
    default: bemi
  role:
    description: The role Bemi connects with.
    type: str
    default: bemi
  schemas:
    description:
      - The schemas whose tables should be tracked. Their ordinary and partitioned tables are checked for
        publication coverage, replica identity and primary keys, together with every published table.
      - V(*) means every schema except the system ones.
      - Names are read as PostgreSQL reads them; quote mixed case, for example V('"Sales"').
    type: list
    elements: str
    default: [public]
  slot:
    description:
      - The replication slot Bemi uses. A missing slot is only a note, since Bemi creates it when it connects.
    type: str
    default: bemi
  max_retained_wal:
    description:
      - An inactive logical replication slot (or O(slot)) that retains more WAL than this is a problem.
      - A size with a unit of 1024 as in PostgreSQL (V(B), V(kB), V(MB), V(GB), V(TB)), for example V(512MB);
        a number without unit is bytes.
    type: str
    default: 1GB
  sample_seconds:
    description:
      - Measure the WAL generation rate over this many seconds (two reads of the current WAL position), and return
        RV(wal_rate_bytes_per_second) and RV(outage_budget_seconds). V(0) does not measure.
      - The module waits that long; a few seconds of normal traffic give a usable rate.
    type: int
    default: 0
    version_added: 0.2.0
notes:
  - A member of C(pg_monitor) sees everything it needs except the configuration files, for which it reports
    the running values (the configured ones are null while a restart is pending).
  - The problems it finds are C(wal_level) not logical or a restart pending; no free replication slot or WAL sender;
    the publication missing, not publishing INSERT, UPDATE or DELETE, or not covering a table of O(schemas);
    a published table without C(REPLICA IDENTITY FULL), or with no primary key and no replica identity
    (its UPDATE and DELETE fail); the event trigger missing, disabled, outdated (such as Bemi's manual version)
    or not covering O(schemas); the role missing, without LOGIN, without REPLICATION (or C(rds_replication)),
    or unable to SELECT a published table; O(slot) in another database; a slot whose WAL was lost;
    an inactive logical slot (or O(slot)) retaining more than O(max_retained_wal); any inactive slot while
    C(max_slot_wal_keep_size) is V(-1); O(slot) invalidated (C(wal_status) V(lost), an C(invalidation_reason),
    or C(conflicting)), whose fix is that Bemi must re-sync; O(slot) with C(wal_status) V(unreserved).
  - Notes, not problems, are O(slot) with C(wal_status) V(extended) and, on PostgreSQL 18, an
    C(idle_replication_slot_timeout) shorter than the time the WAL budget allows.
  - "Failover: on a PostgreSQL 17+ primary with streaming standbys, O(slot) with failover off is a problem
    (standbys keep no copy, so Bemi must re-sync after a promotion); on a 17+ standby, a copy of O(slot) that is not
    synchronized from the primary is a problem and a missing one a note; on 13 to 16 with standbys, a note that the slot
    is not failover-safe, with the options (PostgreSQL 17 failover slots, or a cluster manager that keeps logical slots,
    such as Patroni's permanent slots)."
seealso:
  - name: Logical replication restrictions
    description: Why published tables need a replica identity for UPDATE and DELETE.
    link: https://www.postgresql.org/docs/current/logical-replication-publication.html
  - name: pg_replication_slots
    description: The view the slot report comes from.
    link: https://www.postgresql.org/docs/current/view-pg-replication-slots.html
"""

EXAMPLES = r"""
- name: Is this database ready for Bemi?
  bemi.postgresql.bemi_info:
    login_db: shop
  become: true
  become_user: postgres
  register: bemi

- name: Stop here with the reasons when it is not
  ansible.builtin.assert:
    that: bemi.ready
    fail_msg: "{{ bemi.problems | join('\n') }}"
    success_msg: ready for Bemi

- name: Read-only check as a monitoring role, with a tighter WAL budget
  bemi.postgresql.bemi_info:
    login_host: db1.example.com
    login_user: monitor
    login_password: "{{ vault_monitor_password }}"
    login_db: shop
    schemas: [public, billing]
    max_retained_wal: 512MB
  register: bemi

- name: One line per host for a fleet summary
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ 'ready' if bemi.ready else bemi.problems | length ~ ' problem(s)' }}"

- name: Hosts that are not ready
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts | map('extract', hostvars, 'bemi') | rejectattr('ready') | length }} host(s) need work"
  run_once: true
"""

RETURN = r"""
queries:
  description: Always empty; the module changes nothing.
  returned: always
  type: list
  elements: str
  sample: []
ready:
  description: True when RV(problems) is empty.
  returned: always
  type: bool
  sample: true
problems:
  description: Plain sentences, sorted, each naming the object and giving the fix. Empty when ready.
  returned: always
  type: list
  elements: str
  sample:
    - "Role bemi has no REPLICATION attribute (nor membership in rds_replication), so it cannot stream changes.
      Fix: ALTER ROLE bemi REPLICATION (bemi.postgresql.bemi_role with replication: true)."
notes:
  description: Facts worth knowing that are not problems, such as a slot Bemi has yet to create, or what this login could not read.
  returned: always
  type: list
  elements: str
  sample: ["Replication slot bemi does not exist yet. Bemi creates it when it first connects."]
server_version:
  description: The server's version string.
  returned: always
  type: str
  sample: "17.6"
wal_level:
  description: C(wal_level) now running, and configured for the next start (null when the files cannot be read and a restart is pending).
  returned: always
  type: dict
  sample: {running: logical, configured: logical}
restart_required:
  description: Whether some setting waits for a restart of PostgreSQL.
  returned: always
  type: bool
  sample: false
max_replication_slots:
  description: C(max_replication_slots) running and configured, and how many slots exist.
  returned: always
  type: dict
  sample: {running: 10, configured: 10, in_use: 1}
max_wal_senders:
  description: C(max_wal_senders) running and configured, and how many WAL senders run.
  returned: always
  type: dict
  sample: {running: 10, configured: 10, in_use: 1}
max_slot_wal_keep_size:
  description: C(max_slot_wal_keep_size) in MB; -1 means slots may keep WAL without limit.
  returned: always
  type: int
  sample: -1
replication_slots:
  description: Every replication slot of the server, sorted by name; null when it cannot be read.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Slot name.
      type: str
    type:
      description: V(logical) or V(physical).
      type: str
    database:
      description: Database of a logical slot.
      type: str
    plugin:
      description: Output plugin of a logical slot.
      type: str
    active:
      description: Whether a reader is connected.
      type: bool
    retained_wal_bytes:
      description: WAL kept for this slot (current WAL position minus its C(restart_lsn)).
      type: int
    wal_status:
      description: C(reserved), C(extended), C(unreserved) or C(lost).
      type: str
    safe_wal_size:
      description: Bytes that can still be written before the slot risks losing WAL; null when unlimited.
      type: int
    active_pid:
      description: Process id of the walsender streaming from the slot, or null.
      type: int
      version_added: 0.2.0
    inactive_since:
      description: Since when no reader streams from it (UTC, ISO 8601); null before PostgreSQL 17.
      type: str
      version_added: 0.2.0
    invalidation_reason:
      description: Why PostgreSQL invalidated the slot, such as V(wal_removed); null when valid or before PostgreSQL 17.
      type: str
      version_added: 0.2.0
    conflicting:
      description: Whether a logical slot was invalidated by a recovery conflict; null before PostgreSQL 16.
      type: bool
      version_added: 0.2.0
    failover:
      description: Whether standbys synchronize the slot; null before PostgreSQL 17.
      type: bool
      version_added: 0.2.0
    synced:
      description: On a standby, whether the slot is a synchronized copy of the primary's; null before PostgreSQL 17.
      type: bool
      version_added: 0.2.0
  sample:
    - {name: bemi, type: logical, database: shop, plugin: pgoutput, active: true, active_pid: 4242,
       retained_wal_bytes: 5120, wal_status: reserved, safe_wal_size: null, inactive_since: null,
       invalidation_reason: null, conflicting: false, failover: false, synced: false}
wal_rate_bytes_per_second:
  description: WAL written per second during O(sample_seconds); null when O(sample_seconds=0).
  returned: always
  type: int
  sample: 1048576
  version_added: 0.2.0
outage_budget_seconds:
  description:
    - How long Bemi may stay disconnected, at the sampled WAL rate, before its slot would be invalidated.
      It is the slot's C(safe_wal_size) (before Bemi has a slot, the whole C(max_slot_wal_keep_size)) divided
      by RV(wal_rate_bytes_per_second), and at most C(idle_replication_slot_timeout) where that is on.
    - Null when not sampled, or when nothing would invalidate the slot (no budget, C(-1), and no WAL written).
  returned: always
  type: int
  sample: 86400
  version_added: 0.2.0
failover:
  description:
    - Whether O(slot) survives a promotion, as far as this server can tell.
    - C(supported) is true on PostgreSQL 17 and newer (failover slots); C(standby) whether this server is one;
      C(streaming_standbys) how many standbys stream from it.
    - C(slot_failover) is the slot's failover flag, C(slot_synced) on a standby whether it is a synchronized copy,
      and C(slot_lag_bytes) on a standby how far its confirmed position is behind the replayed WAL (null when unknown).
  returned: always
  type: dict
  sample: {supported: true, standby: false, streaming_standbys: 1, slot_failover: true, slot_synced: false,
           slot_lag_bytes: null}
  version_added: 0.2.0
idle_replication_slot_timeout:
  description: C(idle_replication_slot_timeout) in seconds on PostgreSQL 18 and newer (0 means off); null before.
  returned: always
  type: int
  sample: 0
  version_added: 0.2.0
publication:
  description: The publication, in the shape bemi_publication returns; null when it does not exist or cannot be read.
  returned: always
  type: dict
  sample: {name: bemi, all_tables: true, tables: [], schemas: [], operations: [insert, update, delete, truncate],
           publish_via_partition_root: false}
tables_without_full_identity:
  description: Published tables and tables of O(schemas) without C(REPLICA IDENTITY FULL), sorted; null when unknown.
  returned: always
  type: list
  elements: str
  sample: [public.orders]
tables_without_primary_key:
  description: Published tables and tables of O(schemas) without a primary key, sorted; null when unknown.
  returned: always
  type: list
  elements: str
  sample: [public.audit_log]
event_trigger:
  description:
    - The DDL event trigger C(_bemi_set_replica_identity_trigger); null when it cannot be read.
    - C(up_to_date) is true when its function is this collection's current version.
    - C(tracked_schemas) lists the schemas it covers (V(*) for every schema); null when unknown.
  returned: always
  type: dict
  sample: {present: true, enabled: true, up_to_date: true, tags: [CREATE TABLE, CREATE TABLE AS, SELECT INTO],
           tracked_schemas: [public]}
role:
  description:
    - The role Bemi connects with. C(cannot_select) lists the published tables it may not read (null when unknown).
    - Null when the roles cannot be read.
  returned: always
  type: dict
  sample: {name: bemi, exists: true, login: true, replication: true, rds_replication: false, superuser: false,
           cannot_select: []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    connection_argument_spec,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import IdentifierError, parse_name
from ansible_collections.bemi.postgresql.plugins.module_utils.info import OptionError, assess, gather, parse_size


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        publication=dict(type='str', default='bemi'),
        role=dict(type='str', default='bemi'),
        schemas=dict(type='list', elements='str', default=['public']),
        slot=dict(type='str', default='bemi'),
        max_retained_wal=dict(type='str', default='1GB'),
        sample_seconds=dict(type='int', default=0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        options = dict(
            publication=module.params['publication'],
            role=module.params['role'],
            slot=module.params['slot'],
            schemas=sorted(set(parse_name(name) for name in module.params['schemas'])),
            max_retained_wal=parse_size(module.params['max_retained_wal']),
            sample_seconds=module.params['sample_seconds'],
        )
    except (IdentifierError, OptionError) as exc:
        module.fail_json(msg=str(exc), changed=False, queries=[])
    if not 0 <= options['sample_seconds'] <= 3600:
        module.fail_json(msg='sample_seconds must be between 0 (off) and 3600.', changed=False, queries=[])
    if not options['schemas']:
        module.fail_json(msg='schemas must name at least one schema (or * for all).', changed=False, queries=[])

    report = run_with_connection(module, lambda conn: assess(gather(conn, options), options), 'Could not read the report')
    module.exit_json(changed=False, queries=[], **report)


if __name__ == '__main__':
    main()
