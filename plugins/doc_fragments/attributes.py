# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Every module of the collection plans from the catalogs, so check and diff
    # mode are complete for all of them.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Can run in check mode and return the changed status and RV(queries) it would run, without changing anything.
  diff_mode:
    support: full
    description: Returns what changes, as C(before) and C(after), when run with C(--diff). Passwords and hashes are never shown.
  action_group:
    support: full
    membership:
      - bemi.postgresql.all
    description: Use C(group/bemi.postgresql.all) in C(module_defaults) to set the connection options once.
"""
