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
    with a list of RV(findings), each with a stable code, the object it names, and the fix;
    RV(problems) and RV(notes) are the same findings as plain sentences.
  - Checks C(wal_level) (running and configured) and pending restarts, free replication slots and WAL senders,
    replication slots that are inactive and retain WAL, the publication and which tables it covers,
    replica identity and primary keys of the tracked tables, the DDL event trigger and the owner of its function,
    and the role Bemi connects with (login, password expiry, CONNECT on the database, REPLICATION, SELECT).
  - Also returns RV(server), the facts about the server that the C(bemi.postgresql.tracking) role needs
    (standby or primary, its files, its schemas), so no C(psql) is needed on the managed host.
  - Never changes anything, in check mode or not. Without O(probe), it creates no temporary objects and no trial slots;
    RV(queries) is always empty and C(changed) always false. In check mode O(probe) is skipped.
  - Reads the catalogs with a fixed number of queries, whatever the number of tables.
  - Runs as any role. What that role may not read (for example C(pg_file_settings) without superuser rights)
    is reported as unknown (null), with an entry in RV(notes), and is never turned into a problem or a failure.
  - The output is sorted and stable, so reports of a fleet can be compared with a plain diff.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes.info_module
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
      - Not used with O(tables).
    type: list
    elements: str
    default: [public]
  tables:
    description:
      - List mode, for a publication C(FOR TABLE) a list (as O(bemi.postgresql.bemi_publication#module:tables) makes
        it). The tables as C(table) (in C(public)) or C(schema.table), quoted as in SQL for mixed case.
      - Only these tables and their partitions (at every level) are judged, with every published table, instead of
        the tables of O(schemas). The other tables are not published on purpose, so they are no
        C(table_not_published).
      - The choices of that least-privilege mode are not problems. No event trigger is needed for tables created
        later (they are not published), except for the partitions created later of a listed partitioned table,
        which are published at once (C(event_trigger_partitions_not_covered) when the trigger does not give them
        FULL). A role without C(SELECT) on them is a note (C(role_cannot_select_listed)), since Bemi streams their
        changes without it.
      - A listed table that does not exist is a problem (C(listed_table_missing)).
    type: list
    elements: str
    version_added: 0.2.0
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
  probe:
    description:
      - Also prove end to end that Bemi can log in and stream, instead of inferring it from the catalogs only.
      - Logs in as O(probe_user) over TCP with a C(replication=database) connection (as Bemi does), runs
        C(IDENTIFY_SYSTEM), checks that O(publication) exists as that role sees it, creates a B(temporary)
        C(pgoutput) logical slot and starts streaming on O(publication). On PostgreSQL 14 and newer, the admin
        connection then emits a transactional C(pg_logical_emit_message) that must arrive through the stream
        (pgoutput's C(messages) option); on 13, a started stream is the proof.
      - Leaves nothing behind, also on failure or timeout (its slot is temporary). Still, creating the slot and the
        test message write WAL, so in check mode the probe is skipped (RV(probe.skipped) true, and a note says so).
      - A failed probe makes RV(ready) false and adds one problem naming the failed step and the fix. Two failures
        that block only the probe, not Bemi, are notes instead (codes V(probe_no_spare_slot) and
        V(probe_no_spare_wal_sender)). They are no free replication slot while one of them is O(slot), which Bemi
        reuses, and no free WAL sender while Bemi streams from O(slot).
      - Creating a logical slot waits until the transactions open at that moment have ended (Bemi's own slot
        creation waits the same way). When that takes longer than O(probe_timeout), the problem names the
        blocking backends with their pid, transaction age and query start.
      - With V(false) the module reads the catalogs only, and never writes anything.
    type: bool
    default: false
  probe_user:
    description: The role the probe logs in as, the one Bemi uses. Defaults to O(role).
    type: str
  probe_password:
    description:
      - The password Bemi logs in with. Never shown in the results or the logs.
      - Without it, libpq looks in its password file as usual.
    type: str
  probe_host:
    description:
      - The address Bemi connects to. Defaults to O(login_host) when that is a host name or address,
        else V(127.0.0.1) (the probe always uses TCP, never the unix socket).
    type: str
  probe_port:
    description: The port Bemi connects to. Defaults to O(login_port).
    type: int
  probe_ssl_mode:
    description: The C(sslmode) of Bemi's connection. Defaults to O(ssl_mode). O(ca_cert) applies too.
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  probe_timeout:
    description:
      - Seconds the whole probe may take. A step still waiting then is cancelled and reported; making sure the
        temporary slot is gone may take up to 3 s more. The connection attempt itself waits at least 2 s (libpq).
    type: int
    default: 10
  sample_seconds:
    description:
      - Measure the WAL generation rate over this many seconds (two reads of the current WAL position), and return
        RV(wal_rate_bytes_per_second) and RV(outage_budget_seconds). V(0) does not measure.
      - The module waits that long; a few seconds of normal traffic give a usable rate.
    type: int
    default: 0
    version_added: 0.2.0
  wal_level:
    description:
      - The options of M(bemi.postgresql.bemi_wal_level) (without the connection options). When given, this module also
        answers what that module would do with them, in check mode and with its code, and returns it as
        RV(wal_level_plan). So one read of the server tells both its state and whether C(wal_level), the slot and
        sender minimums or the WAL budget need a change or a restart. Nothing is changed, also outside check mode.
    type: dict
    version_added: 0.2.0
notes:
  - A member of C(pg_monitor) sees everything it needs except the configuration files, for which it reports
    the running values (the configured ones are null while a restart is pending).
  - Every finding code, with its meaning and fix, is listed in the collection's C(docs/readiness.md).
  - The problems it finds are C(wal_level) not logical, waiting for a restart, or configured lower than the running
    V(logical) (then the fix is to set it back, not to restart); a restart pending for C(max_replication_slots)
    or C(max_wal_senders); no free replication slot or WAL sender;
    the publication missing, not publishing INSERT, UPDATE or DELETE, or not covering a logged table of O(schemas);
    a published table with a row filter or a column list (PostgreSQL 15 and newer);
    a published table without C(REPLICA IDENTITY FULL), or with no primary key and no replica identity
    (its UPDATE and DELETE fail); the event trigger missing, disabled or enabled only for replication sessions, outdated (such as Bemi's manual version),
    not covering O(schemas), or its function owned by a role that cannot alter the tracked tables; with O(tables),
    a listed table missing, or the trigger not giving FULL to the partitions created later of a listed partitioned
    table;
    the role missing, without LOGIN, with an expired password, without CONNECT on the database,
    without REPLICATION (or C(rds_replication)), or unable to SELECT a published table;
    O(slot) in another database or not a C(pgoutput) slot; a slot whose WAL was lost;
    an inactive logical slot (or O(slot)) retaining more than O(max_retained_wal); another tool's inactive
    logical slot while C(max_slot_wal_keep_size) is V(-1); O(slot) invalidated (C(wal_status) V(lost), an
    C(invalidation_reason), or C(conflicting)), whose fix is that Bemi must re-sync; O(slot) with C(wal_status)
    V(unreserved).
  - Never problems, only notes, are unlogged tables (PostgreSQL never publishes them), a restart pending for a setting
    Bemi does not depend on, O(slot) or a physical slot inactive while C(max_slot_wal_keep_size) is V(-1),
    a role with C(NOINHERIT) or C(BYPASSRLS), O(slot) with C(wal_status) V(extended) and, on PostgreSQL 18, an
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

- name: Fail on problems, except tables of a table-list publication left out on purpose (filter on codes only)
  ansible.builtin.assert:
    that: blocking | length == 0
    fail_msg: "{{ blocking | map(attribute='message') | join(' ') }}"
  vars:
    blocking: >-
      {{ bemi.findings | selectattr('severity', 'eq', 'problem')
         | rejectattr('code', 'eq', 'table_not_published') | list }}

- name: Readiness of a table list (FOR TABLE orders, events), as bemi_publication's tables make it
  bemi.postgresql.bemi_info:
    login_db: shop
    tables: [orders, billing.events]
  register: bemi

- name: Read-only check as a monitoring role, with a tighter WAL budget
  bemi.postgresql.bemi_info:
    login_host: db1.example.com
    login_user: monitor
    login_password: "{{ vault_monitor_password }}"
    login_db: shop
    schemas: [public, billing]
    max_retained_wal: 512MB
  register: bemi

- name: Prove that Bemi can log in and stream, from where Bemi connects
  bemi.postgresql.bemi_info:
    login_db: shop
    probe: true
    probe_password: "{{ vault_bemi_password }}"
    probe_host: db1.example.com
    probe_timeout: 15
  register: bemi

- name: Show the step that failed
  ansible.builtin.debug:
    msg: "{{ bemi.probe.steps | rejectattr('ok') | map(attribute='name') | list }}: {{ bemi.probe.problem }}"
  when: not bemi.probe.ok

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
wal_level_plan:
  description:
    - With O(wal_level), what M(bemi.postgresql.bemi_wal_level) returns in check mode with those options (C(changed),
      C(queries), C(restart_required), C(wal_level) and the other settings, C(diff) with C(--diff)), and its
      C(warnings). When it would refuse, C(failed) is true and C(msg) says why; this module does not fail for it.
  returned: when O(wal_level) is given
  type: dict
  sample: {changed: false, queries: [], restart_required: false, wal_level: {running: logical, configured: logical},
           warnings: []}
  version_added: 0.2.0
ready:
  description: True when no finding is a problem (RV(problems) is empty).
  returned: always
  type: bool
  sample: true
findings:
  description:
    - What the checks found, problems first, then by code and object.
    - Filter on C(code), never on the wording of C(message).
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: Stable snake_case identifier of the kind of finding, such as V(wal_level_not_logical),
        V(table_not_published) or V(role_expired).
      type: str
    severity:
      description: V(problem) makes RV(ready) false; V(note) never does.
      type: str
      choices: [problem, note]
    object:
      description: What the finding is about; a setting, slot, publication, trigger function or role name.
        Findings about tables name the publication, and the tables are in C(message).
      type: str
    message:
      description: What is wrong and why it matters, in one or two sentences.
      type: str
    fix:
      description: What to do about it; null for some notes.
      type: str
  sample:
    - code: role_expired
      severity: problem
      object: bemi
      message: "The password of role bemi expired (VALID UNTIL 2025-01-01 00:00:00+00), so Bemi's login fails."
      fix: "ALTER ROLE bemi VALID UNTIL 'infinity' (bemi.postgresql.bemi_role)."
problems:
  description: The problems of RV(findings) as plain sentences (message, then the fix), sorted. Empty when ready.
  returned: always
  type: list
  elements: str
  sample:
    - "Role bemi has no REPLICATION attribute (nor membership in rds_replication), so it cannot stream changes.
      Fix: ALTER ROLE bemi REPLICATION (bemi.postgresql.bemi_role with replication: true)."
notes:
  description: The notes of RV(findings) as plain sentences, sorted. Facts worth knowing that are not problems,
    such as a slot Bemi has yet to create, or what this login could not read.
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
  description:
    - The publication, in the shape bemi_publication returns; null when it does not exist or cannot be read.
    - C(row_filters) and C(column_lists) map each listed table that has one to its C(WHERE) expression or its
      column names (PostgreSQL 15 and newer); each is a problem, as Bemi then misses rows or columns.
  returned: always
  type: dict
  sample: {name: bemi, all_tables: true, tables: [], schemas: [], operations: [insert, update, delete, truncate],
           publish_via_partition_root: false, row_filters: {}, column_lists: {}}
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
    - C(enabled) is true when it fires for ordinary sessions (C(ENABLE) or C(ENABLE ALWAYS)); false when it is
      disabled or enabled only for replication sessions (C(ENABLE REPLICA)), which is a problem either way.
    - C(up_to_date) is true when its function is this collection's current version.
    - C(tracked_schemas) lists the schemas it covers (V(*) for every schema); null when unknown.
    - C(tracked_partition_trees) lists the partitioned tables whose partitions created later it covers, as
      C(schema.table) (see O(bemi.postgresql.bemi_replica_identity#module:track_partitions)); null when unknown.
    - C(owner) is the role its function runs as (the function is SECURITY DEFINER).
  returned: always
  type: dict
  sample: {present: true, enabled: true, up_to_date: true, tags: [CREATE TABLE, CREATE TABLE AS, SELECT INTO],
           tracked_schemas: [public], tracked_partition_trees: [], owner: postgres}
role:
  description:
    - The role Bemi connects with. C(cannot_select) lists the published tables it may not read (null when unknown).
    - C(valid_until) is its password expiry as text (null when none), C(expired) whether that is past,
      C(can_connect) whether it has CONNECT on O(login_db).
    - Null when the roles cannot be read.
  returned: always
  type: dict
  sample: {name: bemi, exists: true, login: true, replication: true, rds_replication: false, superuser: false,
           inherit: true, bypassrls: false, valid_until: null, expired: false, can_connect: true, cannot_select: []}
cluster_manager:
  description:
    - V(patroni) when Patroni manages this server (its sessions are connected), else null.
    - Patroni owns C(wal_level), the slot and sender limits, C(pg_hba) and restarts, and drops slots its
      configuration does not name; a Patroni replica without Bemi's slot is a problem, since a failover to it
      loses Bemi's position.
  returned: always
  type: str
  sample: patroni
server:
  description:
    - Facts about the server, for playbooks and the C(bemi.postgresql.tracking) role.
  returned: always
  type: dict
  contains:
    in_recovery:
      description: Whether the server is a standby (C(pg_is_in_recovery())).
      type: bool
    version_num:
      description: C(server_version_num), for example V(170006).
      type: int
    data_directory:
      description: The data directory; null unless the login is a superuser or a member of C(pg_read_all_settings)
        (then a note says so).
      type: str
    config_file:
      description: The main configuration file; null under the same condition as C(data_directory).
      type: str
    hba_file:
      description: The C(pg_hba.conf) in use; null under the same condition as C(data_directory).
      type: str
    cluster_name:
      description: The C(cluster_name) setting (Debian sets it to C(<major>/<name>)); empty when not set.
      type: str
    min_wal_size_mb:
      description: C(min_wal_size) in MB (the floor of the tracking role's automatic WAL budget).
      type: int
    streaming_standbys:
      description: How many standbys (or other physical replication clients) stream from this server now.
      type: int
      version_added: 0.2.0
    role_exists:
      description: Whether the role O(role) exists; null when the roles cannot be read.
      type: bool
    user_schemas:
      description: Every schema of O(login_db) except the system ones, sorted, quoted as SQL names where needed
        (for example V('"Sales"')), as the O(bemi.postgresql.bemi_role#module:schemas) option takes them.
      type: list
      elements: str
    ssl:
      description: Whether the server accepts SSL connections (C(ssl = on)).
      type: bool
      version_added: 0.2.0
    conf_load_time:
      description:
        - When the server last read its configuration files (C(pg_conf_load_time()), seconds since the epoch).
          A C(pg_hba.conf) modified after it waits for a reload.
      type: float
      version_added: 0.2.0
  sample: {in_recovery: false, version_num: 170006, data_directory: /var/lib/postgresql/17/main,
           config_file: /etc/postgresql/17/main/postgresql.conf, hba_file: /etc/postgresql/17/main/pg_hba.conf,
           cluster_name: 17/main, role_exists: true, user_schemas: ['"Sales"', public]}
probe:
  description: The end-to-end probe's result (see O(probe)).
  returned: when O(probe) is true
  type: dict
  contains:
    ok:
      description: Whether every step succeeded and the temporary slot is gone; null when the probe was skipped.
      type: bool
    skipped:
      description: Whether the probe was skipped, as in check mode (then RV(probe.steps) is empty).
      type: bool
      version_added: 0.2.0
    seconds:
      description: How long the probe took.
      type: float
    steps:
      description:
        - The steps run, in order, each with C(name), C(ok), C(seconds) and C(error) (null when it succeeded).
        - C(connect), C(identify_system), C(publication), C(create_slot), C(start_replication),
          C(receive_message) (PostgreSQL 14+), and always C(cleanup). Steps after a failed one are not run.
      type: list
      elements: dict
    code:
      description:
        - Null when the probe succeeded, else a stable code for the failure, for example C(probe_pg_hba),
          C(probe_password), C(probe_replication), C(probe_wal_senders), C(probe_publication),
          C(probe_blocked) or C(probe_timeout).
      type: str
    problem:
      description: Null when the probe succeeded, else the sentence added to RV(problems), with the failed step and the fix.
        Null too when the failure is only a note (see RV(probe.note)).
      type: str
    note:
      description: The sentence added to RV(notes) when the probe was skipped, or failed only for want of a slot or
        WAL sender that Bemi, holding its own, does not need; else null.
      type: str
      version_added: 0.2.0
  sample:
    ok: true
    skipped: false
    seconds: 0.041
    code: null
    problem: null
    note: null
    steps:
      - {name: connect, ok: true, seconds: 0.012, error: null}
      - {name: identify_system, ok: true, seconds: 0.001, error: null}
      - {name: publication, ok: true, seconds: 0.001, error: null}
      - {name: create_slot, ok: true, seconds: 0.009, error: null}
      - {name: start_replication, ok: true, seconds: 0.002, error: null}
      - {name: receive_message, ok: true, seconds: 0.011, error: null}
      - {name: cleanup, ok: true, seconds: 0.003, error: null}
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    ConnectionModule,
    connection_argument_spec,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import IdentifierError, parse_name, parse_table
from ansible_collections.bemi.postgresql.plugins.module_utils.info import OptionError, assess, gather, parse_size
from ansible_collections.bemi.postgresql.plugins.module_utils import probe, wal_level_run
from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import dry_run


def listed_tables(values):
    """(schema, table) pairs, each once, in the order given; raises IdentifierError naming the option."""
    pairs = []
    for value in values:
        try:
            pair = parse_table(value)
        except IdentifierError as exc:
            raise IdentifierError('tables: %s' % exc)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        publication=dict(type='str', default='bemi'),
        role=dict(type='str', default='bemi'),
        schemas=dict(type='list', elements='str', default=['public']),
        tables=dict(type='list', elements='str'),
        slot=dict(type='str', default='bemi'),
        max_retained_wal=dict(type='str', default='1GB'),
        probe=dict(type='bool', default=False),
        probe_user=dict(type='str'),
        probe_password=dict(type='str', no_log=True),
        probe_host=dict(type='str'),
        probe_port=dict(type='int'),
        probe_ssl_mode=dict(type='str', choices=['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
        probe_timeout=dict(type='int', default=10),
        sample_seconds=dict(type='int', default=0),
        wal_level=dict(type='dict'),
    )
    module = ConnectionModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        options = dict(
            publication=module.params['publication'],
            role=module.params['role'],
            slot=module.params['slot'],
            schemas=sorted(set(parse_name(name) for name in module.params['schemas'])),
            tables=None if module.params['tables'] is None else listed_tables(module.params['tables']),
            max_retained_wal=parse_size(module.params['max_retained_wal']),
            sample_seconds=module.params['sample_seconds'],
        )
    except (IdentifierError, OptionError) as exc:
        module.fail_json(msg=str(exc), changed=False, queries=[])
    if not 0 <= options['sample_seconds'] <= 3600:
        module.fail_json(msg='sample_seconds must be between 0 (off) and 3600.', changed=False, queries=[])
    if options['tables'] == []:
        module.fail_json(msg='tables is an empty list; leave it out to judge the tables of schemas.', changed=False,
                         queries=[])
    if not options['schemas']:
        module.fail_json(msg='schemas must name at least one schema (or * for all).', changed=False, queries=[])
    if module.params['probe_timeout'] < 1:
        module.fail_json(msg='probe_timeout must be at least 1 (seconds).', changed=False, queries=[])

    def work(conn):
        report = assess(gather(conn, options), options)
        if module.params['probe']:
            result = (probe.skipped_in_check_mode() if module.check_mode
                      else probe.run(conn, module.params, options['publication']))
            probe.add_to_report(report, result, options['slot'])
        if module.params['wal_level'] is not None:
            report['wal_level_plan'] = dry_run(wal_level_run.STEP, module, conn, module.params['wal_level'])
        return report

    report = run_with_connection(module, work, 'Could not read the report')
    module.exit_json(changed=False, queries=[], **report)


if __name__ == '__main__':
    main()
