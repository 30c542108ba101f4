# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_words
short_description: A module's message in the words of the tracking role (its variables, not module options)
version_added: 0.2.0
description:
  - The modules' messages name their own options (C(login_db), C(lock_timeout), C(probe_password)). Shown by
    the role C(bemi.postgresql.tracking), each is replaced by the role variable that sets it
    (C(bemi_login_db), C(bemi_lock_timeout), C(bemi_probe_password)), so the fix names what the user can change.
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: A message of one of this collection's modules.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: A module's failure, in the role's words
  ansible.builtin.fail:
    msg: "{{ result.msg | bemi.postgresql.role_words }}"
"""

RETURN = r"""
_value:
  description: The message, with each module option replaced by the role variable that sets it.
  type: str
"""

import re

# Module option -> the role variable that sets it. Longer names first, whole words only.
ROLE_VARIABLES = (
    ('login_unix_socket', 'bemi_login_unix_socket'),
    ('login_password', 'bemi_login_password'),
    ('login_user', 'bemi_login_user'),
    ('login_host', 'bemi_login_host'),
    ('login_port', 'bemi_login_port'),
    ('login_db', 'bemi_login_db (or the name in bemi_databases)'),
    ('connect_timeout', 'bemi_connect_timeout'),
    ('lock_timeout', 'bemi_lock_timeout'),
    ('retries', 'bemi_lock_retries'),
    ('probe_password', 'bemi_probe_password'),
    ('probe_timeout', 'bemi_probe_timeout'),
    ('probe_host', 'bemi_probe_host'),
    ('probe_port', 'bemi_probe_port'),
    ('probe_ssl_mode', 'bemi_probe_ssl_mode'),
    ('probe_user', 'bemi_user'),
    ('update_password', 'bemi_update_password'),
    ('min_wal_senders', 'bemi_min_wal_senders'),
    ('min_replication_slots', 'bemi_min_replication_slots'),
)
# Not after a number: "after 5 retries" is a count, not the option.
_PATTERN = re.compile(r'(?<![\w.])(?<!\d )(%s)(?![\w])' % '|'.join(re.escape(name) for name, dummy in ROLE_VARIABLES))
_BY_NAME = dict(ROLE_VARIABLES)


def role_words(message):
    return _PATTERN.sub(lambda match: _BY_NAME[match.group(1)], message or '')


class FilterModule:

    def filters(self):
        return {'role_words': role_words}
