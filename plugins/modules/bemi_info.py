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
  - Never changes anything, in check mode or not. Without O(probe), it creates no temporary objects and no trial slots;
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
  probe:
    description:
      - Also prove end to end that Bemi can log in and stream, instead of inferring it from the catalogs only.
      - Logs in as O(probe_user) over TCP with a C(replication=database) connection (as Bemi does), runs
        C(IDENTIFY_SYSTEM), checks that O(publication) exists as that role sees it, creates a B(temporary)
        C(pgoutput) logical slot and starts streaming on O(publication). On PostgreSQL 14 and newer, the admin
        connection then emits a transactional C(pg_logical_emit_message) that must arrive through the stream
        (pgoutput's C(messages) option); on 13, a started stream is the proof.
      - Leaves nothing behind, also on failure or timeout (its slot is temporary), so it runs in check mode too.
        A failed probe makes RV(ready) false and adds one problem naming the failed step and the fix.
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
    C(max_slot_wal_keep_size) is V(-1).
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
  sample:
    - {name: bemi, type: logical, database: shop, plugin: pgoutput, active: true, retained_wal_bytes: 5120,
       wal_status: reserved, safe_wal_size: null}
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
probe:
  description: The end-to-end probe's result (see O(probe)).
  returned: when O(probe) is true
  type: dict
  contains:
    ok:
      description: Whether every step succeeded and the temporary slot is gone.
      type: bool
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
      type: str
  sample:
    ok: true
    seconds: 0.041
    code: null
    problem: null
    steps:
      - {name: connect, ok: true, seconds: 0.012, error: null}
      - {name: identify_system, ok: true, seconds: 0.001, error: null}
      - {name: publication, ok: true, seconds: 0.001, error: null}
      - {name: create_slot, ok: true, seconds: 0.009, error: null}
      - {name: start_replication, ok: true, seconds: 0.002, error: null}
      - {name: receive_message, ok: true, seconds: 0.011, error: null}
      - {name: cleanup, ok: true, seconds: 0.003, error: null}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bemi.postgresql.plugins.module_utils.connection import (
    connection_argument_spec,
    run_with_connection,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.identifiers import IdentifierError, parse_name
from ansible_collections.bemi.postgresql.plugins.module_utils.info import OptionError, assess, gather, parse_size
from ansible_collections.bemi.postgresql.plugins.module_utils import probe


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        publication=dict(type='str', default='bemi'),
        role=dict(type='str', default='bemi'),
        schemas=dict(type='list', elements='str', default=['public']),
        slot=dict(type='str', default='bemi'),
        max_retained_wal=dict(type='str', default='1GB'),
        probe=dict(type='bool', default=False),
        probe_user=dict(type='str'),
        probe_password=dict(type='str', no_log=True),
        probe_host=dict(type='str'),
        probe_port=dict(type='int'),
        probe_ssl_mode=dict(type='str', choices=['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
        probe_timeout=dict(type='int', default=10),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        options = dict(
            publication=module.params['publication'],
            role=module.params['role'],
            slot=module.params['slot'],
            schemas=sorted(set(parse_name(name) for name in module.params['schemas'])),
            max_retained_wal=parse_size(module.params['max_retained_wal']),
        )
    except (IdentifierError, OptionError) as exc:
        module.fail_json(msg=str(exc), changed=False, queries=[])
    if not options['schemas']:
        module.fail_json(msg='schemas must name at least one schema (or * for all).', changed=False, queries=[])
    if module.params['probe_timeout'] < 1:
        module.fail_json(msg='probe_timeout must be at least 1 (seconds).', changed=False, queries=[])

    def work(conn):
        report = assess(gather(conn, options), options)
        if module.params['probe']:
            probe.add_to_report(report, probe.run(conn, module.params, options['publication']))
        return report

    report = run_with_connection(module, work, 'Could not read the report')
    module.exit_json(changed=False, queries=[], **report)


if __name__ == '__main__':
    main()
