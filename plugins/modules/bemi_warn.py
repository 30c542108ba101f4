#!/usr/bin/python
# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bemi_warn
short_description: Give a warning that Ansible shows as one, and that the task's result carries
version_added: 0.2.0
description:
  - Returns O(msg) as the task's C(warnings), so Ansible prints it as a warning (not a debug line that is
    easy to miss across a fleet) and a callback plugin or a C(register) can read it.
  - Runs on the controller only (an action plugin); changes nothing.
  - The C(bemi.postgresql.tracking) role uses it for a restart that is pending but not allowed
    (C(bemi_allow_restart) false).
author:
  - Bemi (@BemiHQ)
options:
  msg:
    description: The warning. Runs of white space become one space.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Gives the same warning in check mode; it changes nothing in either mode.
  diff_mode:
    support: none
    description: It changes nothing, so it has no diff to return.
  idempotent:
    support: full
    description: Never reports a change.
"""

EXAMPLES = r"""
- name: Warn that a restart is pending
  bemi.postgresql.bemi_warn:
    msg: PostgreSQL on {{ inventory_hostname }} must be restarted for wal_level = logical.
  when: result.restart_required
"""

RETURN = r"""
msg:
  description: The warning, as given (white space collapsed).
  returned: always
  type: str
  sample: PostgreSQL on db1 must be restarted for wal_level = logical.
"""
