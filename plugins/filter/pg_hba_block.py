# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: pg_hba_block
short_description: A pg_hba.conf with Bemi's lines as one marked block, placed so the administrator's reject rules still win
version_added: 0.2.0
description:
  - Returns the text of a C(pg_hba.conf) with exactly O(lines) between Bemi's markers.
  - An existing block is replaced where it is (an administrator may move it); an empty O(lines) removes it.
  - A new block goes before the first rule that is not a C(reject) rule, and above the comment lines directly
    over that rule (a comment describes the line under it). C(pg_hba.conf) is read top down and the first line
    that matches a connection decides, so the C(reject) rules an administrator put first (such as
    C(hostnossl all all 0.0.0.0/0 reject)) still win over Bemi's lines, and no later rule shadows them.
  - Lines of O(legacy) (compared with whitespace collapsed) are removed wherever they are (the single lines that
    older versions of the tracking role inserted).
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: The current text of C(pg_hba.conf).
    type: str
    required: true
  lines:
    description: The rules wanted in the block, in order.
    type: list
    elements: str
    required: true
  legacy:
    description: Lines to remove outside the block.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Bemi's block in pg_hba.conf
  ansible.builtin.copy:
    dest: /etc/postgresql/17/main/pg_hba.conf
    content: "{{ current | bemi.postgresql.pg_hba_block(['hostssl shop bemi 203.0.113.7/32 scram-sha-256']) }}"
    backup: true
"""

RETURN = r"""
_value:
  description: The new text of C(pg_hba.conf).
  type: str
"""

BEGIN = '# BEGIN bemi.postgresql: Bemi\'s access, managed by the bemi.postgresql.tracking role (edits are overwritten)'
END = '# END bemi.postgresql'
RULE_TYPES = ('local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc')


def _words(line):
    return line.split('#', 1)[0].split()


def _is_rule(line):
    words = _words(line)
    return bool(words) and (words[0] in RULE_TYPES or words[0].startswith('include'))


def _is_reject(line):
    words = _words(line)
    return words[0] in RULE_TYPES and 'reject' in words[3:]


def _insert_at(lines):
    """Index before the first rule that is not a reject rule, and before the comments directly above it."""
    for index, line in enumerate(lines):
        if _is_rule(line) and not _is_reject(line):
            while index > 0 and lines[index - 1].lstrip().startswith('#'):
                index -= 1
            return index
    return len(lines)


def pg_hba_block(content, lines, legacy=None):
    old = (content or '').splitlines()
    unwanted = set(' '.join(line.split()) for line in legacy or [])
    kept, begin = [], None
    inside = False
    for line in old:
        if line.strip() == BEGIN:
            inside, begin = True, len(kept)
        elif inside:
            inside = line.strip() != END
        elif ' '.join(line.split()) not in unwanted:
            kept.append(line)
    block = [BEGIN] + list(lines) + [END] if lines else []
    if begin is not None and not block and begin < len(kept) and not kept[begin].strip():
        # The blank line that kept the block apart goes with it.
        del kept[begin]
    if begin is None:
        if not block:
            return '\n'.join(kept) + '\n' if kept else ''
        begin = _insert_at(kept)
        # A blank line apart from the rules around it, as a block of its own.
        if begin < len(kept) and kept[begin].strip():
            block.append('')
    return '\n'.join(kept[:begin] + block + kept[begin:]) + '\n'


class FilterModule:

    def filters(self):
        return {'pg_hba_block': pg_hba_block}
