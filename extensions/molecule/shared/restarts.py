# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the restarts from server logs (log_line_prefix starts with %m) and print them as JSON:
{"restarts": {host: [[shutdown request, ready again], ...]}, "overlaps": [[host, host], ...]}.

    python restarts.py HOST=LOGFILE ...
"""

from __future__ import annotations

import json
import re
import sys

STAMP = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)')


def restarts(path):
    found, down = [], None
    with open(path, errors='replace') as handle:
        for line in handle:
            stamp = STAMP.match(line)
            if not stamp:
                continue
            if 'received fast shutdown request' in line:
                down = stamp.group(1)
            elif 'ready to accept' in line and down:
                found.append([down, stamp.group(1)])
                down = None
    return found


def main(argv):
    result = {}
    for arg in argv[1:]:
        host, path = arg.split('=', 1)
        result[host] = restarts(path)
    windows = sorted((window[0], window[1], host) for host, items in result.items() for window in items)
    overlaps = [[a[2], b[2]] for a, b in zip(windows, windows[1:]) if b[0] < a[1]]
    print(json.dumps({'restarts': result, 'overlaps': overlaps}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
