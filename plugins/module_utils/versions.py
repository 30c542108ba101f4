# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which PostgreSQL version each feature needs: one table, checked in one place."""

from __future__ import annotations

# Feature -> (minimum server_version_num, what a user reads in an error).
MINIMUM_VERSIONS = {
    'publication_schemas': (150000, 'FOR TABLES IN SCHEMA publications'),
    'publication_row_filters': (150000, 'row filters and column lists of publications'),
    'parameter_privileges': (150000, 'GRANT SET / ALTER SYSTEM ON PARAMETER'),
    'pgoutput_messages': (140000, "pgoutput's messages option"),
    'failover_slots': (170000, 'failover replication slots'),
    'slot_conflicting': (160000, 'pg_replication_slots.conflicting'),
    'slot_inactive_since': (170000, 'pg_replication_slots.inactive_since'),
    'slot_invalidation_reason': (170000, 'pg_replication_slots.invalidation_reason'),
    'idle_replication_slot_timeout': (180000, 'idle_replication_slot_timeout'),
}


class VersionError(ValueError):
    pass


def supports(server_version_num, feature):
    return server_version_num >= MINIMUM_VERSIONS[feature][0]


def require(server_version_num, feature):
    """Raise VersionError naming the feature and the versions when the server is too old."""
    minimum, what = MINIMUM_VERSIONS[feature]
    if server_version_num < minimum:
        raise VersionError('%s need PostgreSQL %d or newer; this server runs %s.'
                           % (what, minimum // 10000, format_version(server_version_num)))


def format_version(server_version_num):
    return '%d.%d' % (server_version_num // 10000, server_version_num % 10000)
