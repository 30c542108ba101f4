# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of this file (fleet_report, report_host, fleet_report_html, fleet_report_markdown,
# fleet_report_json, report_metrics) are documented in the YAML files of the same names beside it.

import html
import json
import re

from ansible.errors import AnsibleFilterError

# Worst first: a host we know nothing about, then one that is not ready, then one that is.
STATUS_ORDER = {'unreachable': 0, 'error': 1, 'not_ready': 2, 'ready': 3}
STATUS_TEXT = {'unreachable': 'unreachable', 'error': 'not read', 'not_ready': 'not ready', 'ready': 'ready'}
WAL_STATUSES = ('reserved', 'extended', 'unreserved', 'lost')
PROTECTION_TEXT = {
    'failover_slots': 'failover slots',
    'patroni': "Patroni's permanent slot",
    'none': 'none: a promotion loses the slot',
    'no_standbys': 'no standbys',
    'standby': 'standby',
    'unknown': 'unknown',
}
TITLE = 'Bemi readiness report'
MB = 1024 * 1024
SLOT_KEYS = ('name', 'type', 'database', 'active', 'retained_wal_bytes', 'wal_status', 'safe_wal_size',
             'failover', 'synced')
FINDING_KEYS = ('code', 'severity', 'object', 'message', 'fix')


def _error_text(result):
    text = result.get('msg') or result.get('module_stderr') or 'no result'
    return ' '.join(str(text).split())


def report_host(results, name, slot='bemi', primary_slot_name=''):
    """One host's entry of the report, from the ``results`` of a ``bemi_info`` loop over its databases.

    Each result carries its database as ``bemi_db.name`` (the loop variable of the role and the playbook).
    A result without ``ready`` is a database that could not be read (the host was unreachable, or the
    module failed, for example because the server is down).
    """
    if isinstance(results, dict):
        results = results.get('results', [])
    databases = []
    facts = None
    unreachable = None
    for result in results or []:
        if result.get('skipped'):
            continue
        database = (result.get('bemi_db') or {}).get('name') or result.get('item', {}).get('name')
        if result.get('unreachable'):
            unreachable = _error_text(result)
            databases.append({'name': database, 'ready': None, 'error': unreachable, 'findings': []})
            continue
        if 'ready' not in result:
            databases.append({'name': database, 'ready': None, 'error': _error_text(result), 'findings': []})
            continue
        if facts is None:
            facts = result
        databases.append({
            'name': database,
            'ready': bool(result['ready']),
            'error': None,
            'findings': [dict((key, item.get(key)) for key in FINDING_KEYS) for item in result.get('findings', [])],
        })
    entry = {'name': name, 'slot_name': slot, 'primary_slot_name': primary_slot_name or '', 'databases': databases}
    if facts is None:
        entry.update(status='unreachable' if unreachable else 'error',
                     error=unreachable or next((db['error'] for db in databases), 'no database was read'))
        entry.update(server_version=None, standby=None, wal_budget_bytes=None, slots=[], failover=None,
                     cluster_manager=None, protection='unknown')
        return entry
    keep = facts.get('max_slot_wal_keep_size')
    budget = keep * MB if isinstance(keep, int) and keep >= 0 else None
    slots = []
    for row in facts.get('replication_slots') or []:
        item = dict((key, row.get(key)) for key in SLOT_KEYS)
        retained = item['retained_wal_bytes']
        item['budget_fraction'] = (round(float(retained) / budget, 4)
                                   if budget and retained is not None else None)
        slots.append(item)
    standby = bool((facts.get('server') or {}).get('in_recovery'))
    ready = all(db['ready'] for db in databases)
    entry.update(
        status='ready' if ready else ('not_ready' if all(db['error'] is None for db in databases) else 'error'),
        error=next((db['error'] for db in databases if db['error']), None),
        server_version=facts.get('server_version'),
        standby=standby,
        wal_budget_bytes=budget,
        max_slot_wal_keep_size_mb=keep,
        slots=slots,
        failover=facts.get('failover'),
        cluster_manager=facts.get('cluster_manager'),
    )
    entry['protection'] = protection(entry)
    return entry


def protection(entry):
    """How Bemi's slot on this server survives a promotion (``PROTECTION_TEXT``)."""
    if entry.get('standby') is None:
        return 'unknown'
    if entry['standby']:
        return 'standby'
    if entry.get('cluster_manager') == 'patroni':
        return 'patroni'
    failover = entry.get('failover') or {}
    if failover.get('slot_failover'):
        return 'failover_slots'
    if not failover.get('streaming_standbys'):
        return 'no_standbys'
    return 'none'


def standby_covered(entry):
    """Whether a standby keeps a copy of Bemi's slot (synchronized failover slot, or Patroni's permanent slot)."""
    failover = entry.get('failover') or {}
    if failover.get('slot_synced'):
        return True
    if entry.get('cluster_manager') == 'patroni':
        return any(slot['name'] == entry['slot_name'] for slot in entry.get('slots', []))
    return False


def _inactive(entry, slot):
    # A standby's synchronized copy is never active there; only the primary's slots count.
    return not entry['standby'] and not slot['active'] and not slot.get('synced')


def _over_half(slot):
    return slot['budget_fraction'] is not None and slot['budget_fraction'] > 0.5


def fleet_report(entries, hosts, generated_at=''):
    if not isinstance(entries, list) or not isinstance(hosts, list) or len(entries) != len(hosts):
        raise AnsibleFilterError('bemi.postgresql.fleet_report: expects one entry (or null) per host, '
                                 'and the list of host names in the same order')
    rows = []
    for name, entry in zip(hosts, entries):
        if not entry:
            entry = {'name': name, 'status': 'error', 'databases': [], 'slots': [], 'server_version': None,
                     'standby': None, 'wal_budget_bytes': None, 'failover': None, 'cluster_manager': None,
                     'protection': 'unknown', 'slot_name': 'bemi', 'primary_slot_name': '',
                     'error': 'No result: the host failed before bemi_info ran (see the play output).'}
        rows.append(dict(entry, name=name))
    rows.sort(key=lambda row: (STATUS_ORDER[row['status']],
                               -sum(1 for db in row['databases'] for f in db['findings']
                                    if f['severity'] == 'problem'),
                               row['name']))
    clusters = clusters_of(rows)
    servers = len(rows)
    ready = sum(1 for row in rows if row['status'] == 'ready')
    unreachable = sum(1 for row in rows if row['status'] in ('unreachable', 'error'))
    inactive = sum(1 for row in rows if row['standby'] is not None for slot in row['slots'] if _inactive(row, slot))
    over_half = sum(1 for row in rows if row['standby'] is not None for slot in row['slots'] if _over_half(slot))
    unprotected = sum(1 for cluster in clusters if cluster['protection'] == 'none')
    parts = ['%d of %d servers ready' % (ready, servers)]
    if unreachable:
        parts.append('%d not reached' % unreachable)
    parts.append('%d slot%s inactive' % (inactive, '' if inactive == 1 else 's'))
    parts.append('%d over half %s budget' % (over_half, 'its' if over_half == 1 else 'their'))
    if unprotected:
        parts.append('%d cluster%s without failover protection' % (unprotected, '' if unprotected == 1 else 's'))
    summary = {
        'servers': servers,
        'servers_ready': ready,
        'servers_not_reached': unreachable,
        'databases': sum(len(row['databases']) for row in rows),
        'databases_ready': sum(1 for row in rows for db in row['databases'] if db['ready']),
        'slots_inactive': inactive,
        'slots_over_half_budget': over_half,
        'clusters_without_failover_protection': unprotected,
        'line': '; '.join(parts),
    }
    return {'generated_at': generated_at, 'summary': summary, 'hosts': rows, 'clusters': clusters}


def clusters_of(rows):
    """Each primary with the inventory standbys that stream from one of its physical slots."""
    primaries = [row for row in rows if row['standby'] is False]
    standbys = [row for row in rows if row['standby']]
    clusters = []
    claimed = set()
    for primary in primaries:
        physical = set(slot['name'] for slot in primary['slots'] if slot['type'] == 'physical')
        members = [row for row in standbys if row['primary_slot_name'] and row['primary_slot_name'] in physical]
        claimed.update(row['name'] for row in members)
        clusters.append({
            'primary': primary['name'],
            'protection': primary['protection'],
            'streaming_standbys': (primary['failover'] or {}).get('streaming_standbys'),
            'standbys': [{'name': row['name'], 'covered': standby_covered(row)} for row in members],
        })
    for row in standbys:
        if row['name'] not in claimed:
            clusters.append({'primary': None, 'protection': 'unknown', 'streaming_standbys': None,
                             'standbys': [{'name': row['name'], 'covered': standby_covered(row)}]})
    return clusters


# -- rendering ----------------------------------------------------------------

def _size(value):
    if value is None:
        return '-'
    value = float(value)
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if abs(value) < 1024 or unit == 'TB':
            return ('%d %s' % (value, unit)) if unit == 'B' else ('%.1f %s' % (value, unit))
        value /= 1024
    return '-'


def _slot_state(slot):
    state = 'active' if slot['active'] else 'inactive'
    if slot.get('synced'):
        state = 'synchronized copy'
    return '%s, %s' % (state, slot['wal_status'] or 'no WAL reserved')


def _budget_text(row, slot):
    if row['wal_budget_bytes'] is None:
        return '%s retained (no WAL budget: max_slot_wal_keep_size = -1)' % _size(slot['retained_wal_bytes'])
    percent = round(100 * (slot['budget_fraction'] or 0))
    return '%s of %s WAL budget (%d%%)' % (_size(slot['retained_wal_bytes']), _size(row['wal_budget_bytes']), percent)


def _database_slots(row, database):
    return [slot for slot in row['slots'] if slot['database'] == database]


def _other_slots(row):
    names = set(db['name'] for db in row['databases'])
    return [slot for slot in row['slots'] if slot['database'] not in names]


def _failover_text(row, clusters):
    text = PROTECTION_TEXT[row['protection']]
    cluster = next((c for c in clusters if c['primary'] == row['name']), None)
    if cluster and cluster['standbys']:
        text += '; standbys: ' + ', '.join('%s (%s)' % (s['name'], 'covered' if s['covered'] else 'NOT covered')
                                           for s in cluster['standbys'])
    elif row['protection'] == 'standby':
        text += ': ' + ('keeps a copy of %s' % row['slot_name'] if standby_covered(row)
                        else 'no copy of %s' % row['slot_name'])
    return text


def _e(value):
    return html.escape('' if value is None else str(value), quote=True)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.summary{font-size:16px;font-weight:600;margin:8px 0 4px}
.generated{color:#667;margin:0 0 16px;font-size:12px}
table.fleet{border-collapse:collapse;width:100%}
table.fleet th,table.fleet td{border-bottom:1px solid #dde;padding:8px;text-align:left;vertical-align:top}
table.fleet th{background:#f4f5f8;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;white-space:nowrap}
.ready{background:#dff3e4;color:#17652f}.not_ready{background:#fde3e1;color:#a1261b}
.unreachable,.error{background:#e9e9ef;color:#444}
.db{margin:0 0 10px}.db h3{font-size:14px;margin:0 0 4px}
.findings{margin:2px 0 6px;padding-left:18px}.findings li{margin:2px 0}
.problem code{color:#a1261b}.note code{color:#555}
.fix{color:#2b4d7e}
.slot{margin:4px 0 8px}
.bar{position:relative;height:10px;width:260px;background:#eef0f4;border-radius:5px;overflow:hidden;margin-top:2px}
.bar span{position:absolute;left:0;top:0;bottom:0;background:#4c8f5a}
.bar.warn span{background:#d99a1e}.bar.full span{background:#c0392b}
.muted{color:#667}
tr.row-unreachable td,tr.row-error td{background:#fafafc}
tr.row-not_ready td:first-child{border-left:4px solid #c0392b}
tr.row-ready td:first-child{border-left:4px solid #4c8f5a}
tr.row-unreachable td:first-child,tr.row-error td:first-child{border-left:4px solid #999}
"""


def _html_findings(findings):
    if not findings:
        return ''
    items = []
    for item in findings:
        fix = ' <span class="fix">Fix: %s</span>' % _e(item['fix']) if item['fix'] else ''
        items.append('<li class="%s"><code>%s</code> %s%s</li>' % (_e(item['severity']), _e(item['code']),
                                                                   _e(item['message']), fix))
    return '<ul class="findings">%s</ul>' % ''.join(items)


def _html_slot(row, slot):
    fraction = slot['budget_fraction']
    if fraction is None:
        gauge = ''
    else:
        level = 'full' if fraction > 0.9 else ('warn' if fraction > 0.5 else 'ok')
        gauge = '<div class="bar %s" title="%s"><span style="width:%.1f%%"></span></div>' % (
            level, _e(_budget_text(row, slot)), min(100.0, 100 * fraction))
    return '<div class="slot">slot <b>%s</b> (%s): %s; %s%s</div>' % (
        _e(slot['name']), _e(slot['type']), _e(_slot_state(slot)), _e(_budget_text(row, slot)), gauge)


def fleet_report_html(report, title=TITLE):
    """The report as one self-contained HTML page (inline CSS, no scripts, no external assets)."""
    rows = []
    for row in report['hosts']:
        cells = []
        for db in row['databases']:
            if db['error']:
                head = '<h3>%s: <span class="badge error">not read</span></h3><p class="muted">%s</p>' % (
                    _e(db['name']), _e(db['error']))
            else:
                state = 'ready' if db['ready'] else 'not_ready'
                head = '<h3>%s: <span class="badge %s">%s</span></h3>' % (_e(db['name']), state, STATUS_TEXT[state])
            slots = ''.join(_html_slot(row, slot) for slot in _database_slots(row, db['name']))
            cells.append('<div class="db">%s%s%s</div>' % (head, _html_findings(db['findings']), slots))
        others = ''.join(_html_slot(row, slot) for slot in _other_slots(row))
        if others:
            cells.append('<div class="db"><h3 class="muted">other slots</h3>%s</div>' % others)
        if not row['databases'] and row.get('error'):
            cells.append('<p class="muted">%s</p>' % _e(row['error']))
        version = ('PostgreSQL %s%s' % (row['server_version'], ', standby' if row['standby'] else '')
                   if row['server_version'] else '')
        rows.append(
            '<tr class="host row-%s" id="host-%s"><td><b>%s</b><br><span class="muted">%s</span></td>'
            '<td><span class="badge %s">%s</span></td><td>%s</td><td>%s</td></tr>' % (
                row['status'], _e(re.sub(r'[^A-Za-z0-9_.-]', '-', row['name'])), _e(row['name']), _e(version),
                row['status'], STATUS_TEXT[row['status']], ''.join(cells), _e(_failover_text(row, report['clusters']))))
    generated = ('Generated %s by bemi.postgresql.report.' % report['generated_at']) if report['generated_at'] \
        else 'Generated by bemi.postgresql.report.'
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n'
        '<p class="summary" id="summary">%s</p>\n<p class="generated">%s</p>\n'
        '<table class="fleet">\n<thead><tr><th>Host</th><th>Status</th><th>Databases, findings and slots</th>'
        '<th>Failover protection</th></tr></thead>\n<tbody>\n%s\n</tbody>\n</table>\n</body>\n</html>\n'
        % (_e(title), CSS, _e(title), _e(report['summary']['line']), _e(generated), '\n'.join(rows)))


def _md(value):
    # Table cells and list items: no raw HTML (a message may quote a name), no column breaks.
    text = ('' if value is None else str(value)).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return text.replace('|', '\\|').replace('\n', ' ')


def _md_slot(row, slot):
    return '- slot %s (%s): %s; %s' % (_md(slot['name']), slot['type'], _slot_state(slot), _budget_text(row, slot))


def fleet_report_markdown(report, title=TITLE):
    """The same report as Markdown: the summary, one table row per host, then each host's details."""
    lines = ['# %s' % title, '', '**%s**' % _md(report['summary']['line']), '']
    if report['generated_at']:
        lines += ['Generated %s by bemi.postgresql.report.' % report['generated_at'], '']
    lines += ['| Host | Status | Databases | Problems | Slots | Failover protection |',
              '| --- | --- | --- | --- | --- | --- |']
    for row in report['hosts']:
        dbs = ', '.join('%s %s' % (db['name'], 'not read' if db['error'] else
                                   STATUS_TEXT['ready' if db['ready'] else 'not_ready'])
                        for db in row['databases'])
        problems = sum(1 for db in row['databases'] for f in db['findings'] if f['severity'] == 'problem')
        slots = ', '.join('%s %s' % (slot['name'], _slot_state(slot)) for slot in row['slots'])
        lines.append('| %s | %s | %s | %d | %s | %s |' % (
            _md(row['name']), STATUS_TEXT[row['status']], _md(dbs or row.get('error')), problems, _md(slots or '-'),
            _md(_failover_text(row, report['clusters']))))
    for row in report['hosts']:
        lines += ['', '## %s: %s' % (_md(row['name']), STATUS_TEXT[row['status']]), '']
        if row['server_version']:
            lines.append('PostgreSQL %s%s.' % (row['server_version'], ', standby' if row['standby'] else ''))
        if row.get('error'):
            lines.append(_md(row['error']))
        for db in row['databases']:
            lines += ['', '### %s: %s' % (_md(db['name']), 'not read' if db['error'] else
                                          STATUS_TEXT['ready' if db['ready'] else 'not_ready']), '']
            if db['error']:
                lines.append(_md(db['error']))
            for item in db['findings']:
                fix = ' Fix: %s' % _md(item['fix']) if item['fix'] else ''
                lines.append('- %s `%s`: %s%s' % (item['severity'], item['code'], _md(item['message']), fix))
            lines += [_md_slot(row, slot) for slot in _database_slots(row, db['name'])]
        lines += [_md_slot(row, slot) for slot in _other_slots(row)]
        if row['protection'] != 'unknown':
            lines.append('- failover protection: %s' % _md(_failover_text(row, report['clusters'])))
    return '\n'.join(lines) + '\n'


def fleet_report_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + '\n'


# -- metrics ------------------------------------------------------------------

# name -> help; every metric is a gauge (facts read at one moment).
METRICS = (
    ('bemi_info_success', 'Whether bemi_info read the database (1) or could not (0).'),
    ('bemi_database_ready', 'Whether the database is ready for Bemi (1) or not (0), as bemi_info judges it.'),
    ('bemi_findings', 'Findings of bemi_info, by code and severity (see docs/readiness.md).'),
    ('bemi_slot_active', 'Whether a reader streams from the replication slot (1) or not (0).'),
    ('bemi_slot_retained_wal_bytes', 'WAL the replication slot keeps on disk, in bytes.'),
    ('bemi_slot_wal_status', "The slot's wal_status: 1 for the current one of reserved, extended, unreserved, lost."),
    ('bemi_slot_failover', 'Whether standbys synchronize the slot (PostgreSQL 17+ failover flag).'),
    ('bemi_slot_synced', "On a standby, whether the slot is a synchronized copy of the primary's (never active there)."),
    ('bemi_wal_budget_bytes', 'max_slot_wal_keep_size in bytes; -1 when slots may keep WAL without limit.'),
    ('bemi_streaming_standbys', 'Standbys (physical replication clients) streaming from this server.'),
    ('bemi_failover_protected', "Whether Bemi's slot survives a promotion (failover slots or Patroni's permanent slot); "
                                'only on a primary with standbys.'),
)


def _label_value(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _sample(name, labels, value):
    text = ','.join('%s="%s"' % (key, _label_value(val)) for key, val in labels)
    return '%s%s %s' % (name, '{%s}' % text if text else '', value)


def report_metrics(entry):
    """One host's entry (P(bemi.postgresql.report_host#filter)) in Prometheus' text exposition format."""
    samples = dict((name, []) for name, _help in METRICS)
    for db in entry['databases']:
        labels = [('database', db['name'])]
        samples['bemi_info_success'].append(_sample('bemi_info_success', labels, 0 if db['error'] else 1))
        if db['error']:
            continue
        samples['bemi_database_ready'].append(_sample('bemi_database_ready', labels, 1 if db['ready'] else 0))
        counts = {}
        for item in db['findings']:
            key = (item['code'], item['severity'])
            counts[key] = counts.get(key, 0) + 1
        for (code, severity), count in sorted(counts.items()):
            samples['bemi_findings'].append(
                _sample('bemi_findings', labels + [('code', code), ('severity', severity)], count))
    for slot in entry['slots']:
        labels = [('slot', slot['name']), ('database', slot['database'] or '')]
        samples['bemi_slot_active'].append(_sample('bemi_slot_active', labels, 1 if slot['active'] else 0))
        if slot['retained_wal_bytes'] is not None:
            samples['bemi_slot_retained_wal_bytes'].append(
                _sample('bemi_slot_retained_wal_bytes', labels, int(slot['retained_wal_bytes'])))
        if slot['wal_status']:
            for status in WAL_STATUSES:
                samples['bemi_slot_wal_status'].append(_sample('bemi_slot_wal_status', labels + [
                    ('wal_status', status)], 1 if slot['wal_status'] == status else 0))
        # Null before PostgreSQL 17, where no slot is a failover (or synced) slot: 0, as the shipped exporter query says.
        samples['bemi_slot_failover'].append(_sample('bemi_slot_failover', labels, 1 if slot.get('failover') else 0))
        samples['bemi_slot_synced'].append(_sample('bemi_slot_synced', labels, 1 if slot.get('synced') else 0))
    if entry.get('standby') is not None:
        keep = entry.get('max_slot_wal_keep_size_mb')
        if isinstance(keep, int):
            samples['bemi_wal_budget_bytes'].append(
                _sample('bemi_wal_budget_bytes', [], entry['wal_budget_bytes'] if keep >= 0 else -1))
        standbys = (entry.get('failover') or {}).get('streaming_standbys')
        if standbys is not None:
            samples['bemi_streaming_standbys'].append(_sample('bemi_streaming_standbys', [], int(standbys)))
        if entry['protection'] in ('failover_slots', 'patroni', 'none') and standbys:
            samples['bemi_failover_protected'].append(_sample(
                'bemi_failover_protected', [('slot', entry['slot_name'])], 0 if entry['protection'] == 'none' else 1))
    lines = []
    for name, text in METRICS:
        if samples[name]:
            lines += ['# HELP %s %s' % (name, text), '# TYPE %s gauge' % name] + samples[name]
    return '\n'.join(lines) + '\n'


class FilterModule:

    def filters(self):
        return {
            'report_host': report_host,
            'fleet_report': fleet_report,
            'fleet_report_html': fleet_report_html,
            'fleet_report_markdown': fleet_report_markdown,
            'fleet_report_json': fleet_report_json,
            'report_metrics': report_metrics,
        }
