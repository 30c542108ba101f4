# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The WAL budget of replication slots (max_slot_wal_keep_size): values as PostgreSQL reads them, and ``auto``.

``auto`` is decided once: when no budget is configured, half the free space of
the filesystem that holds pg_wal, in whole GB, never below min_wal_size; once a
budget exists it is left alone. A value that depends on the moment (free space)
is therefore computed only on the run that sets it, so a re-run, and its dry run,
never differ.
"""

from __future__ import annotations

import os
import re

AUTO = 'auto'
UNLIMITED = -1
MB = 1024 ** 2
GB = 1024 ** 3

# PostgreSQL's memory units (case-sensitive, as in postgresql.conf), in bytes.
MEMORY_UNITS = {'B': 1, 'kB': 1024, 'MB': MB, 'GB': GB, 'TB': 1024 ** 4}
# A configuration value: a number (PostgreSQL 12+ accepts fractions with a unit) and an optional unit.
CONFIG_VALUE = re.compile(r'^\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*([A-Za-z]*)\s*$')


class BudgetError(ValueError):
    pass


def config_value_mb(text):
    """A max_slot_wal_keep_size value read from a configuration file, in MB, as PostgreSQL reads it.

    A bare number is in MB (the setting's unit); ``1.5GB`` is 1536; a fraction of
    a MB rounds to the nearest MB (half to even, like PostgreSQL's rint).
    Integers from pg_settings pass through. Returns None for None.
    """
    if text is None:
        return None
    if isinstance(text, int):
        return text
    match = CONFIG_VALUE.match(str(text))
    if not match or (match.group(2) and match.group(2) not in MEMORY_UNITS):
        raise BudgetError('max_slot_wal_keep_size = %r is not a value PostgreSQL reads as a size' % (text,))
    number = float(match.group(1))
    if not match.group(2):
        return int(round(number))
    return int(round(number * MEMORY_UNITS[match.group(2)] / MB))


def format_mb(mb):
    """MB as a reader writes it: ``unlimited``, ``32GB``, ``1536MB``; None stays None."""
    if mb is None:
        return None
    if mb == UNLIMITED:
        return 'unlimited'
    if mb and mb % 1024 == 0:
        return '%dGB' % (mb // 1024)
    return '%dMB' % mb


def budget_missing(configured_mb, source):
    """Whether no budget exists: unlimited (-1) because nothing configures it (``source`` 'default').

    An unlimited value that an administrator wrote in a file is a choice, not a missing budget.
    """
    return configured_mb == UNLIMITED and source == 'default'


def auto_keep_size_mb(free_bytes, min_wal_size_mb, share=1):
    """The auto budget in MB: half of ``free_bytes`` (divided among ``share`` clusters), whole GB, >= min_wal_size."""
    half_gb = int(free_bytes // max(1, int(share)) // 2 // GB)
    return max(half_gb * 1024, int(min_wal_size_mb or 0))


def pg_wal_filesystem(data_directory):
    """{path, free_bytes, size_bytes, device} of the filesystem that holds ``data_directory``/pg_wal, or None.

    pg_wal may be a link to another filesystem: the link is followed. None when the
    directory cannot be read from here (another host, or no permission).
    """
    if not data_directory:
        return None
    path = os.path.realpath(os.path.join(data_directory, 'pg_wal'))
    try:
        stat = os.statvfs(path)
        device = os.stat(path).st_dev
    except OSError:
        return None
    return {'path': path, 'free_bytes': stat.f_bavail * stat.f_frsize, 'size_bytes': stat.f_blocks * stat.f_frsize,
            'device': device}
