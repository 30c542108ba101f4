# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Every module that changes something plans from the catalogs, so check and
    # diff mode are complete for all of them. (Each fragment is one literal: the
    # sanity yamllint reads fragments as plain string assignments.)
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Can run in check mode and return the changed status and RV(queries) it would run, without changing anything.
  diff_mode:
    support: full
    description: Returns what changes, as C(before) and C(after), when run with C(--diff). Passwords and hashes are never shown.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change and runs no query.
  action_group:
    support: full
    membership:
      - bemi.postgresql.all
    description: Use C(group/bemi.postgresql.all) in C(module_defaults) to set the connection options once.
"""

    # Read-only (info) modules: use instead of the default fragment, not with it.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    description: Can run in check mode; it changes nothing in either mode, so both return the same report.
  diff_mode:
    support: N/A
    description: It changes nothing, so it has no diff to return.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change and runs no query.
  action_group:
    support: full
    membership:
      - bemi.postgresql.all
    description: Use C(group/bemi.postgresql.all) in C(module_defaults) to set the connection options once.
"""
