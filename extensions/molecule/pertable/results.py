# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the pertable scenario's verify.yml.

    python results.py compare CHECK.jsonl REAL.jsonl
        The statements of every task of the check run and of the real run (the JSON lines
        written by the bemi_test_result callback), in order; exit 1 when they differ.
    python results.py locks SERVER_LOG OFFSET
        Every ALTER TABLE ... REPLICA IDENTITY in the server log after OFFSET ran in its own
        transaction with SET LOCAL lock_timeout; prints how many, exit 1 otherwise.
"""

from __future__ import annotations

import json
import re
import sys


def statements(path):
    out = []
    with open(path) as handle:
        for line in handle:
            record = json.loads(line)
            result = record['result']
            queries = result.get('queries')
            # bemi_databases runs with no_log (it carries the password); the next task shows its queries.
            if queries is None and isinstance(result.get('msg'), dict):
                queries = result['msg'].get('queries')
                # By database, in the order they ran.
                if isinstance(queries, dict):
                    queries = [query for database in queries.values() for query in database]
            if queries:
                out.append({'task': record['task'], 'queries': queries})
    return out


def compare(check_path, real_path):
    check, real = statements(check_path), statements(real_path)
    print(json.dumps({'check': check, 'real': real}, indent=1))
    return 0 if check == real else 1


def locks(log_path, offset):
    with open(log_path, errors='replace') as handle:
        handle.seek(int(offset))
        lines = handle.read().splitlines()
    by_pid = {}
    for line in lines:
        match = re.search(r'\[(\d+)\] \S+ LOG:  statement: (.*)$', line)
        if match:
            by_pid.setdefault(match.group(1), []).append(match.group(2))
    alters = 0
    for texts in by_pid.values():
        for at, text in enumerate(texts):
            if re.match(r'ALTER TABLE .* REPLICA IDENTITY', text):
                alters += 1
                # BEGIN; SELECT set_config('lock_timeout', ...), ...; ALTER TABLE ...; COMMIT
                around = texts[max(at - 2, 0):at + 2]
                if around[:1] != ['BEGIN'] or around[-1:] != ['COMMIT'] or "'lock_timeout'" not in texts[at - 1]:
                    print('not in its own transaction under lock_timeout: %s' % around)
                    return 1
    print(json.dumps({'alter_statements': alters}))
    return 0


if __name__ == '__main__':
    if sys.argv[1] == 'compare':
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    sys.exit(locks(sys.argv[2], sys.argv[3]))
