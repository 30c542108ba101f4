#!/usr/bin/env python
"""Check that the relative links of the Markdown docs resolve: files, and #anchors
as GitHub renders them (headings, and explicit <a id="..."> anchors).

Usage: check-doc-links.py [FILE.md ...]   (default: README.md and docs/**/*.md)
"""

from __future__ import annotations

import functools
import glob
import os
import re
import sys

LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
HREF = re.compile(r'<a href="([^"]+)"')
ID = re.compile(r'<a id="([^"]+)"')
FENCE = re.compile(r'^(```|~~~)')


def strip_code(text):
    """Text outside fenced code blocks and inline code."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r'`[^`]*`', '', line))
    return '\n'.join(out)


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r'<[^>]+>', '', heading).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


@functools.lru_cache(maxsize=None)
def anchors(path):
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    found, seen = set(ID.findall(text)), {}
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced and line.startswith('#'):
            base = slug(line.lstrip('#'))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else '%s-%d' % (base, count))
    return frozenset(found)


def main(files):
    errors = 0
    for path in files:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        targets = LINK.findall(strip_code(text)) + HREF.findall(text)
        for target in targets:
            # Markdown's backslash escapes apply in link destinations too (the generated pages use them).
            target = re.sub(r'\\(.)', r'\1', target)
            if re.match(r'^[a-z][a-z0-9+.-]*:', target):
                continue  # http:, https:, mailto:
            file_part, dummy, anchor = target.partition('#')
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                print('%s: broken link %s (no %s)' % (path, target, dest))
                errors += 1
            elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
                print('%s: broken anchor %s' % (path, target))
                errors += 1
    print('%d file(s), %d broken link(s)' % (len(files), errors))
    return 1 if errors else 0


if __name__ == '__main__':
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    os.chdir(root)
    sys.exit(main(sys.argv[1:] or ['README.md'] + sorted(glob.glob('docs/**/*.md', recursive=True))))
