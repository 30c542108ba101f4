# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.filter.pg_hba_block import BEGIN, END, pg_hba_block

HARDENED = """\
# Administrator's rules
hostnossl all all 0.0.0.0/0 reject
host all baddie 0.0.0.0/0 reject   # never
# local connections
local all all peer
host all all 10.0.0.0/8 scram-sha-256
host all all 0.0.0.0/0 reject
"""
LINES = ['hostssl shop bemi 203.0.113.7/32 scram-sha-256']


def test_a_new_block_goes_after_the_leading_reject_rules_and_above_the_comment_of_the_next_rule():
    assert pg_hba_block(HARDENED, LINES) == """\
# Administrator's rules
hostnossl all all 0.0.0.0/0 reject
host all baddie 0.0.0.0/0 reject   # never
%s
hostssl shop bemi 203.0.113.7/32 scram-sha-256
%s

# local connections
local all all peer
host all all 10.0.0.0/8 scram-sha-256
host all all 0.0.0.0/0 reject
""" % (BEGIN, END)


def test_the_block_is_replaced_in_place_with_exactly_the_wanted_lines():
    first = pg_hba_block(HARDENED, LINES + ['hostssl shop bemi 198.51.100.0/24 scram-sha-256'])
    # An administrator moved it to the end: it stays there.
    lines = first.splitlines()
    start, stop = lines.index(BEGIN), lines.index(END)
    moved = '\n'.join(lines[:start] + lines[stop + 2:] + lines[start:stop + 1]) + '\n'
    second = pg_hba_block(moved, LINES)
    assert second.splitlines()[-3:] == [BEGIN] + LINES + [END]
    assert '198.51.100.0/24' not in second
    assert pg_hba_block(second, LINES) == second


def test_idempotent_and_removed_without_a_trace():
    once = pg_hba_block(HARDENED, LINES)
    assert pg_hba_block(once, LINES) == once
    assert pg_hba_block(once, []) == HARDENED


def test_legacy_lines_are_removed_wherever_they_are():
    old = 'host    shop    bemi    203.0.113.7/32    scram-sha-256\n' + HARDENED
    assert pg_hba_block(old, [], legacy=['host shop bemi 203.0.113.7/32 scram-sha-256']) == HARDENED


def test_only_reject_rules_or_none_append_at_the_end():
    assert pg_hba_block('# nothing yet\n', LINES) == '# nothing yet\n%s\n%s\n%s\n' % (BEGIN, LINES[0], END)
    assert pg_hba_block('', LINES) == '%s\n%s\n%s\n' % (BEGIN, LINES[0], END)
    assert pg_hba_block('', []) == ''


def test_include_directives_count_as_rules():
    text = 'include_dir conf.d\nlocal all all peer\n'
    assert pg_hba_block(text, LINES).splitlines()[0] == BEGIN
