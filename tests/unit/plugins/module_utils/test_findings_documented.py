# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The finding codes of bemi_info, the code that emits them and docs/readiness.md cannot drift apart."""

from __future__ import annotations

import os
import re

from ansible_collections.bemi.postgresql.plugins.module_utils.findings import CODES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def documented():
    """Code -> severity, from the rows of the codes table in docs/readiness.md: | `code` | problem or note | ..."""
    rows = re.findall(r'^\| `([a-z_]+)` \| (problem|note) \|', read('docs', 'readiness.md'), re.MULTILINE)
    return dict(rows)


def emitted():
    """Every code passed to finding() in module_utils (a literal first argument)."""
    codes = set()
    folder = os.path.join(ROOT, 'plugins', 'module_utils')
    for name in os.listdir(folder):
        if name.endswith('.py') and name != 'findings.py':
            codes.update(re.findall(r"\bfinding\(\s*'([a-z_]+)'", read('plugins', 'module_utils', name)))
    return codes


def test_every_code_is_documented_with_its_severity():
    assert documented() == CODES


def test_every_registered_code_is_emitted_and_every_emitted_code_registered():
    assert emitted() == set(CODES)


def test_codes_are_snake_case():
    assert all(re.match(r'^[a-z]+(_[a-z]+)*$', code) for code in CODES)
