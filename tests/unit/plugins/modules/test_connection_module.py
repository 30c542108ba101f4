# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every module is built as a ConnectionModule, which masks the passwords given in connect_params or in a
connection string (-vvv invocation, failure messages); a plain AnsibleModule would show them."""

from __future__ import annotations

import ast
import os

import pytest

MODULES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))), 'plugins', 'modules')


ACTIONS = os.path.join(os.path.dirname(MODULES), 'action')


def module_files():
    """The modules that run on the managed host: not the documentation of an action plugin (bemi_warn)."""
    return sorted(name for name in os.listdir(MODULES) if name.endswith('.py') and not name.startswith('_')
                  and not os.path.exists(os.path.join(ACTIONS, name)))


def constructors(path):
    """The names of the classes called to build the module (``X(argument_spec=...)``)."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(keyword.arg == 'argument_spec' for keyword in node.keywords):
            func = node.func
            found.add(func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None))
    return found


def test_the_modules_are_found():
    assert 'bemi_slot.py' in module_files() and len(module_files()) >= 7


def calls(path):
    """The names of the functions the module calls."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    return set(node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name))


@pytest.mark.parametrize('name', module_files())
def test_module_is_a_connection_module(name):
    path = os.path.join(MODULES, name)
    # A step's module (bemi_role, ...) is built by database_step.run_module; bemi_databases by DatabasesModule.
    built = constructors(path) or ({'run_module'} & calls(path))
    assert built and built <= {'ConnectionModule', 'DatabasesModule', 'run_module'}, (
        '%s must build its module with connection.ConnectionModule, which masks connection secrets' % name)


def test_the_shared_builders_are_connection_modules():
    from ansible_collections.bemi.postgresql.plugins.module_utils.connection import ConnectionModule
    from ansible_collections.bemi.postgresql.plugins.module_utils.database_step import DatabasesModule

    assert issubclass(DatabasesModule, ConnectionModule)
    path = os.path.join(os.path.dirname(MODULES), 'module_utils', 'database_step.py')
    assert constructors(path) == {'ConnectionModule'}
