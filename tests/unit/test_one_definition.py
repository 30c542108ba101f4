# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Each shared fact is defined in exactly one file of plugins/ and imported everywhere else."""

from __future__ import annotations

import os
import re

import pytest

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins')

# fact -> (pattern of its definition, the one file that may hold it)
DEFINITIONS = {
    'mask': (r"^MASK\s*=", 'module_utils/plan.py'),
    'system schemas': (r"'information_schema'", 'module_utils/catalog.py'),
    'all schemas': (r"^ALL_SCHEMAS\s*=", 'module_utils/catalog.py'),
    'publication operations': (r"^OPERATIONS\s*=", 'module_utils/publication.py'),
    'trigger name': (r"'_bemi_set_replica_identity_trigger'", 'module_utils/event_trigger.py'),
    'trigger marker': (r"'-- bemi\.postgresql event trigger", 'module_utils/event_trigger.py'),
    'tracked schemas marker': (r"'-- bemi\.postgresql tracked schemas", 'module_utils/event_trigger.py'),
    'version numbers': (r"\b1[0-9]0000\b", 'module_utils/versions.py'),
}


def python_files():
    for base, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(base, name)
                yield os.path.relpath(path, PLUGINS), path


def files_matching(pattern):
    found = set()
    regex = re.compile(pattern, re.MULTILINE)
    for relative, path in python_files():
        with open(path) as handle:
            if regex.search(handle.read()):
                found.add(relative)
    return found


@pytest.mark.parametrize('fact', sorted(DEFINITIONS))
def test_defined_once(fact):
    pattern, home = DEFINITIONS[fact]
    assert files_matching(pattern) == {home}
