#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_wal_level
short_description: Set C(wal_level = logical) for change data capture
version_added: 0.1.0
description:
  - Ensures that the next start of a PostgreSQL server runs with C(wal_level = logical),
    which logical replication and so Bemi's change data capture need.
  - Compares against the B(configured) value (what the next start will use, read from
    C(pg_file_settings)), not only the running one. A second run before the restart is
    therefore C(changed=false) and still reports RV(restart_required=true).
  - Changes are made with C(ALTER SYSTEM), which writes C(postgresql.auto.conf). A value given in C(postgresql.conf)
    is reported in a warning, never edited.
  - C(pg_reload_conf) is called only when a changed setting takes effect at a reload. C(wal_level),
    C(max_replication_slots) and C(max_wal_senders) take effect only at a restart, so no reload is needed for them.
    A needless reload would also apply any unfinished edit of C(postgresql.conf) or C(pg_hba.conf).
    RV(queries) lists the reload when one is run.
  - The module never restarts PostgreSQL. It reports RV(restart_required); the
    C(bemi.postgresql.tracking) role restarts when that is true.
author:
  - Bemi (@BemiHQ)
extends_documentation_fragment:
  - bemi.postgresql.connection
  - bemi.postgresql.attributes
options:
  state:
    description:
      - V(present) ensures C(wal_level = logical) (and the minimums below).
      - V(absent) runs C(ALTER SYSTEM RESET wal_level), so the value from C(postgresql.conf)
        or the built-in default (V(replica)) applies after the next restart. It changes nothing
        when C(postgresql.auto.conf) does not set C(wal_level).
    type: str
    choices: [present, absent]
    default: present
  min_replication_slots:
    description:
      - Raise C(max_replication_slots) to this value when it is configured lower. Never lowers it.
      - Only with O(state=present).
    type: int
  min_wal_senders:
    description:
      - Raise C(max_wal_senders) to this value when it is configured lower. Never lowers it.
      - Only with O(state=present).
    type: int
  max_slot_wal_keep_size:
    description:
      - The most WAL a replication slot may keep, so that a slot nobody reads (Bemi stopped, removed, or idle)
        can never fill the disk. Past it, PostgreSQL invalidates the slot and keeps running.
      - A size with a unit (V(kB), V(MB), V(GB), V(TB), units of 1024), for example V(50GB), or a number of MB;
        V(unlimited) (or V(-1)) removes the limit.
      - V(auto) sets a budget only when none is configured (the built-in default, unlimited), to half the free space of
        the filesystem that holds C(pg_wal), in whole GB, never below C(min_wal_size). Once a budget exists, V(auto)
        leaves it as it is, so the free space is measured only on the run that sets it, and a dry run and the real
        run that follows it agree. The free space is measured on the host where the module runs, so V(auto) needs
        the module to run on the database server (as the C(bemi.postgresql.tracking) role does).
      - Set with C(ALTER SYSTEM) and applied by a reload; no restart is needed.
      - Only with O(state=present).
    type: str
    version_added: 0.2.0
  lower_max_slot_wal_keep_size:
    description:
      - When false, a configured O(max_slot_wal_keep_size) that is already larger is kept, and so is V(-1) written in
        a configuration file by an administrator; only the built-in default V(-1) and smaller values are replaced.
      - When true, the configured value is made exactly O(max_slot_wal_keep_size).
      - Ignored with O(max_slot_wal_keep_size=auto), which never changes an existing budget.
    type: bool
    default: true
    version_added: 0.2.0
  data_directory:
    description:
      - The server's data directory, where O(max_slot_wal_keep_size=auto) measures the free space of C(pg_wal).
      - Defaults to the server's C(data_directory) setting, which needs a superuser or C(pg_read_all_settings).
    type: path
    version_added: 0.2.0
  share:
    description:
      - With O(max_slot_wal_keep_size=auto), how many PostgreSQL servers keep their C(pg_wal) on the same filesystem.
        Each gets half of the free space divided by this number, so that together they keep at most half of it.
      - The C(bemi.postgresql.tracking) role counts the servers of the play on each filesystem.
    type: int
    default: 1
    version_added: 0.2.0
  slots_dropped_before:
    description:
      - In check mode only, the logical slots that an earlier task of the same run drops (and so, in check mode,
        still exist), such as Bemi's slot dropped by M(bemi.postgresql.bemi_slot) in a teardown. They do not block
        O(state=absent) in the prediction.
      - A real run always reads the slots as they are.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
notes:
  - Needs a superuser, or on PostgreSQL 15 and newer a role granted
    C(ALTER SYSTEM ON PARAMETER wal_level) (and on the other parameters it changes).
  - Fails with the setting to use instead on managed services (Amazon RDS and Aurora, Cloud SQL, Azure),
    where C(ALTER SYSTEM) is not allowed.
  - With C(allow_alter_system = off) (PostgreSQL 17 and newer) it fails with the fix.
  - C(wal_level), C(max_replication_slots) and C(max_wal_senders) only change at a restart.
  - O(state=absent) refuses, changing nothing, while logical replication slots exist, because PostgreSQL would not
    start again with a lower C(wal_level). Drop the slots first.
seealso:
  - name: wal_level
    description: The PostgreSQL documentation of the setting.
    link: https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-WAL-LEVEL
  - name: ALTER SYSTEM
    description: How ALTER SYSTEM and postgresql.auto.conf work.
    link: https://www.postgresql.org/docs/current/sql-altersystem.html
"""

EXAMPLES = r"""
- name: Ensure wal_level = logical (restart later if needed)
  bemi.postgresql.bemi_wal_level:
    login_unix_socket: /var/run/postgresql
  become: true
  become_user: postgres
  register: wal

- name: Tell that a restart is pending
  ansible.builtin.debug:
    msg: "PostgreSQL must be restarted for wal_level={{ wal.wal_level.configured }} to apply"
  when: wal.restart_required

- name: Leave room for Bemi's slot and WAL sender
  bemi.postgresql.bemi_wal_level:
    login_host: db1.example.com
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    min_replication_slots: 10
    min_wal_senders: 10

- name: Stop forcing wal_level (takes effect at the next restart)
  bemi.postgresql.bemi_wal_level:
    state: absent
"""

RETURN = r"""
queries:
  description: The statements that were run, or in check mode would be run.
  returned: always
  type: list
  elements: str
  sample: ["ALTER SYSTEM SET wal_level = 'logical'"]
restart_required:
  description:
    - Whether the server must be restarted for the configured C(wal_level) (and any minimum
      given) to take effect. True on every run until that restart, whether or not this run changed anything.
  returned: always
  type: bool
  sample: true
wal_level:
  description: The C(wal_level) now running, and the one configured for the next start.
  returned: always
  type: dict
  contains:
    running:
      description: The value in force now.
      type: str
      sample: replica
    configured:
      description: The value the next start will use; null when the configuration files cannot be read by O(login_user).
      type: str
      sample: logical
  sample: {running: replica, configured: logical}
max_replication_slots:
  description: C(max_replication_slots), running and configured.
  returned: always
  type: dict
  sample: {running: 10, configured: 10}
max_wal_senders:
  description: C(max_wal_senders), running and configured.
  returned: always
  type: dict
  sample: {running: 10, configured: 10}
max_slot_wal_keep_size:
  description:
    - C(max_slot_wal_keep_size) in MB, running and configured; V(-1) means unlimited.
    - The module waits (up to a few seconds) for the server to apply its reload, so the running value is the new one;
      a warning says when the reload was still not applied.
  returned: always
  type: dict
  sample: {running: -1, configured: 51200}
  version_added: 0.2.0
idle_replication_slot_timeout:
  description:
    - C(idle_replication_slot_timeout) in seconds (0 means off) on PostgreSQL 18 and newer; null before.
    - When on, it invalidates a slot without a reader for that long, whatever the WAL budget.
  returned: always
  type: int
  sample: 0
  version_added: 0.2.0
"""

from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import run_module
from ansible_collections.bemi.postgresql.plugins.module_utils.wal_level_run import STEP


def main():
    run_module(STEP)


if __name__ == '__main__':
    main()
