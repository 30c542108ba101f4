# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Planning for bemi_failover_slots: the PostgreSQL 17+ settings that keep a logical slot across a promotion.

On the primary, ``synchronized_standby_slots`` names the standbys' physical slots, so a
logical walsender never sends a change that a standby has not received. On a standby,
``sync_replication_slots`` (with ``hot_standby_feedback``, ``primary_slot_name`` and a
``dbname`` in ``primary_conninfo``) keeps a copy of each failover slot. Every one of them
takes effect at a reload.
"""

from __future__ import annotations

import re
import time

from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from ansible_collections.bemi.postgresql.plugins.module_utils.plan import MASK

PRIMARY_SETTINGS = ('synchronized_standby_slots',)
STANDBY_SETTINGS = ('sync_replication_slots', 'hot_standby_feedback', 'primary_conninfo', 'primary_slot_name')
# Reset by state=absent: the ones that exist only for failover slots. hot_standby_feedback,
# primary_slot_name and primary_conninfo serve physical replication too, and may predate the role.
RESET_ON_ABSENT = ('synchronized_standby_slots', 'sync_replication_slots')

# On a primary, in one round trip: the physical slots that exist (the default for
# synchronized_standby_slots, whether a standby streams from them now or not: a standby's slot
# outlives its restarts, and its protection must too; temporary ones, such as pg_basebackup's,
# end with their session), and the streaming standbys that use no slot (they cannot be named there).
STANDBYS_QUERY = (
    "SELECT (SELECT coalesce(array_agg(slot_name::text ORDER BY slot_name), '{}') "
    "        FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND NOT temporary) AS physical_slots, "
    "(SELECT coalesce(array_agg(r.application_name::text ORDER BY r.application_name), '{}') "
    " FROM pg_catalog.pg_stat_replication AS r "
    " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots AS s "
    "                   WHERE s.slot_type = 'physical' AND s.active_pid = r.pid)) AS without_slot")

CONNINFO_SECRETS = ('password', 'sslpassword')
_TRUE = ('on', 'true', 'yes', '1', 't', 'y')


def is_on(value):
    """A boolean setting as PostgreSQL reads it ('on', 'true', 'yes', '1', and their prefixes)."""
    return str(value or '').strip().lower() in _TRUE


def slot_list(value):
    """synchronized_standby_slots as a list ('' and None are none)."""
    return [name.strip().strip('"') for name in str(value or '').split(',') if name.strip()]


def slot_list_setting(names):
    """The value to write for ``names``: sorted, without repeats, comma separated."""
    return ','.join(sorted(set(names)))


# -- primary_conninfo -----------------------------------------------------------
# libpq's two forms: keyword = value pairs (values optionally single-quoted, with
# backslash escapes) and postgresql:// URIs.

_KEYWORD_VALUE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)*)")


class ConninfoError(ValueError):
    pass


def is_uri(conninfo):
    return re.match(r'^\s*postgres(ql)?://', conninfo or '') is not None


def parse_conninfo(conninfo):
    """[(keyword, value)] of a keyword = value conninfo, in order; ConninfoError when it cannot be read."""
    pairs = []
    position = 0
    text = conninfo or ''
    while text[position:].strip():
        match = _KEYWORD_VALUE.match(text, position)
        if not match or match.end() == position:
            raise ConninfoError('primary_conninfo cannot be read near character %d' % position)
        raw = match.group(2)
        if raw.startswith("'"):
            raw = raw[1:-1]
        pairs.append((match.group(1), re.sub(r'\\(.)', r'\1', raw)))
        position = match.end()
    return pairs


def quote_value(value):
    if value and re.match(r"^[^\s'\\]+$", value):
        return value
    return "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")


def format_conninfo(pairs):
    return ' '.join('%s=%s' % (keyword, quote_value(value)) for keyword, value in pairs)


def conninfo_dbname(conninfo):
    """The dbname in a primary_conninfo, or None."""
    if is_uri(conninfo):
        parts = urlsplit(conninfo.strip())
        from_query = [value for key, value in parse_qsl(parts.query) if key == 'dbname']
        if from_query:
            return from_query[-1]
        path = parts.path.lstrip('/')
        return path or None
    names = [value for keyword, value in parse_conninfo(conninfo) if keyword == 'dbname']
    return names[-1] if names and names[-1] else None


def with_dbname(conninfo, dbname):
    """``conninfo`` with ``dbname`` added; everything else as it was."""
    if is_uri(conninfo):
        parts = urlsplit(conninfo.strip())
        return urlunsplit((parts.scheme, parts.netloc, '/' + quote(dbname, safe=''), parts.query, parts.fragment))
    pairs = [(keyword, value) for keyword, value in parse_conninfo(conninfo) if keyword != 'dbname']
    return format_conninfo(pairs + [('dbname', dbname)])


def mask_conninfo(conninfo):
    """``conninfo`` with its secrets replaced by MASK, for queries and messages."""
    if is_uri(conninfo):
        masked = re.sub(r'(://[^:@/]*:)[^@/]*@', r'\1%s@' % MASK, conninfo)
        return re.sub(r'((?:^|[?&])(?:%s)=)[^&]*' % '|'.join(CONNINFO_SECRETS), r'\1' + MASK, masked)
    return format_conninfo([(keyword, MASK if keyword in CONNINFO_SECRETS else value)
                            for keyword, value in parse_conninfo(conninfo)])


def has_secret(conninfo):
    return mask_conninfo(conninfo) != (conninfo if is_uri(conninfo) else format_conninfo(parse_conninfo(conninfo)))


# -- plans ------------------------------------------------------------------------

class FailoverError(ValueError):
    pass


def plan_primary(state, configured, standby_slots):
    """[(name, value)] for a primary: value None means RESET."""
    if state == 'absent':
        return [('synchronized_standby_slots', None)] if configured.in_auto_conf is not False else []
    if sorted(set(slot_list(configured.configured))) == sorted(set(standby_slots)):
        return []
    return [('synchronized_standby_slots', slot_list_setting(standby_slots))]


def plan_standby(state, settings, dbname, primary_slot_name):
    """[(name, value)] for a standby (value None means RESET); FailoverError when it cannot be made safe."""
    if state == 'absent':
        setting = settings['sync_replication_slots']
        return [('sync_replication_slots', None)] if setting.in_auto_conf is not False else []
    changes = []
    for name in ('sync_replication_slots', 'hot_standby_feedback'):
        if not is_on(settings[name].configured):
            changes.append((name, 'on'))
    conninfo = settings['primary_conninfo'].configured or ''
    if not conninfo.strip():
        raise FailoverError('primary_conninfo is empty: this standby does not stream from a primary (it may restore '
                            'from an archive only), and slot synchronization needs a streaming connection. Fix: set '
                            'primary_conninfo to the primary, with a dbname.')
    try:
        if conninfo_dbname(conninfo) is None:
            if has_secret(conninfo):
                # At the reload, PostgreSQL logs 'parameter "primary_conninfo" changed to "<the whole value>"'.
                raise FailoverError(
                    'primary_conninfo names no database, and it holds a password: PostgreSQL would write the whole '
                    'new value, password included, into its log when the reload applies it. Fix: move the password '
                    "to the passfile of the server's OS user (~/.pgpass, or passfile= in primary_conninfo) and take "
                    'it out of primary_conninfo, or add dbname=%s to primary_conninfo yourself.' % dbname)
            changes.append(('primary_conninfo', with_dbname(conninfo, dbname)))
    except ConninfoError as exc:
        raise FailoverError('%s, so no dbname can be added to it. Fix: add dbname=%s to primary_conninfo by hand.'
                            % (exc, dbname))
    current_slot = settings['primary_slot_name'].configured or ''
    if primary_slot_name and primary_slot_name != current_slot:
        changes.append(('primary_slot_name', primary_slot_name))
    elif not primary_slot_name and not current_slot:
        raise FailoverError('primary_slot_name is not set: this standby streams without a physical slot, so the '
                            'primary cannot hold back WAL for it nor wait for it (synchronized_standby_slots), and '
                            'slot synchronization refuses to run. Fix: create a physical slot on the primary '
                            "(SELECT pg_create_physical_replication_slot('<name>')) and pass its name as "
                            'primary_slot_name.')
    return changes


def shown(name, value):
    """A setting's value as queries and diffs show it: a conninfo without its secrets."""
    if name == 'primary_conninfo' and value:
        try:
            return mask_conninfo(value)
        except ConninfoError:
            return MASK
    return value


def report_primary(configured):
    return {'synchronized_standby_slots': slot_list(configured)}


def report_standby(values):
    """What a standby reports: never the conninfo itself, only its dbname."""
    try:
        dbname = conninfo_dbname(values['primary_conninfo'] or '')
    except ConninfoError:
        dbname = None
    return {
        'sync_replication_slots': is_on(values['sync_replication_slots']),
        'hot_standby_feedback': is_on(values['hot_standby_feedback']),
        'primary_slot_name': values['primary_slot_name'] or None,
        'primary_conninfo_dbname': dbname,
    }


# A reload that changes one of these restarts a standby's WAL receiver.
RECEIVER_SETTINGS = frozenset(('primary_conninfo', 'primary_slot_name'))
# How long a standby may take to stream again after that (its startup process retries every
# wal_retrieve_retry_interval, 5 s by default).
RECEIVER_WAIT_SECONDS = 30
RECEIVER_QUERY = 'SELECT pid, status FROM pg_catalog.pg_stat_wal_receiver'


def restarts_receiver(changes):
    return any(name in RECEIVER_SETTINGS for name, dummy in changes)


def wait_for_receiver(read, old_pid, timeout=RECEIVER_WAIT_SECONDS, sleep=time.sleep, clock=time.monotonic):
    """Whether a new WAL receiver (not ``old_pid``) streams within ``timeout`` seconds; ``read()`` gives
    pg_stat_wal_receiver's row ({pid, status}) or None."""
    deadline = clock() + timeout
    while True:
        row = read() or {}
        if row.get('status') == 'streaming' and row.get('pid') != old_pid:
            return True
        if clock() >= deadline:
            return False
        sleep(0.2)
