# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.fleet_report import (
    fleet_report,
    fleet_report_html,
    fleet_report_json,
    fleet_report_markdown,
    report_host,
    report_metrics,
)

MB = 1024 * 1024


def slot(name='bemi', active=False, retained=0, wal_status='reserved', kind='logical', database='app', **extra):
    row = {'name': name, 'type': kind, 'database': database, 'plugin': 'pgoutput', 'active': active,
           'active_pid': None, 'retained_wal_bytes': retained, 'wal_status': wal_status, 'safe_wal_size': None,
           'failover': None, 'synced': None}
    row.update(extra)
    return row


def result(database='app', ready=True, findings=(), slots=(), keep=1024, standby=False, standbys=0,
           slot_failover=None, slot_synced=None, cluster_manager=None):
    return {'bemi_db': {'name': database}, 'changed': False, 'ready': ready, 'findings': list(findings),
            'server_version': '17.6', 'max_slot_wal_keep_size': keep, 'replication_slots': list(slots),
            'server': {'in_recovery': standby}, 'cluster_manager': cluster_manager,
            'failover': {'supported': True, 'standby': standby, 'streaming_standbys': standbys,
                         'slot_failover': slot_failover, 'slot_synced': slot_synced, 'slot_lag_bytes': None}}


def problem(code='wal_level_not_logical', message='wal_level is replica.', fix='Set wal_level = logical.'):
    return {'code': code, 'severity': 'problem', 'object': 'setting wal_level', 'message': message, 'fix': fix}


def note(code='slot_missing'):
    return {'code': code, 'severity': 'note', 'object': 'replication slot bemi',
            'message': 'Replication slot bemi does not exist yet.', 'fix': None}


def test_a_host_from_its_results():
    host = report_host({'results': [result(slots=[slot(retained=512 * MB)])]}, 'db1')
    assert host['status'] == 'ready'
    assert host['wal_budget_bytes'] == 1024 * MB
    assert host['slots'][0]['budget_fraction'] == 0.5
    assert host['databases'] == [{'name': 'app', 'ready': True, 'error': None, 'findings': []}]
    assert host['protection'] == 'no_standbys'


def test_unreachable_failed_and_unlimited():
    unreachable = report_host([{'bemi_db': {'name': 'app'}, 'unreachable': True, 'msg': 'ssh:\n refused'}], 'db1')
    assert unreachable['status'] == 'unreachable' and unreachable['error'] == 'ssh: refused'
    failed = report_host([{'bemi_db': {'name': 'app'}, 'failed': False, 'msg': 'could not connect'}], 'db2')
    assert failed['status'] == 'error' and failed['databases'][0]['error'] == 'could not connect'
    # One database read, another not: the host is not reported ready.
    partial = report_host([result(), {'bemi_db': {'name': 'other'}, 'msg': 'database "other" does not exist'}], 'db3')
    assert partial['status'] == 'error'
    unlimited = report_host([result(keep=-1, slots=[slot(retained=5)])], 'db4')
    assert unlimited['wal_budget_bytes'] is None and unlimited['slots'][0]['budget_fraction'] is None


def test_worst_first_and_the_summary_line():
    entries = [
        report_host([result(slots=[slot(active=True, retained=100)])], 'a-ready'),
        report_host([result(ready=False, findings=[problem(), note()])], 'b-one-problem'),
        report_host([result(ready=False, findings=[problem(), problem('role_missing')],
                            slots=[slot(retained=900 * MB), slot('other', retained=10)])], 'c-two-problems'),
        None,
    ]
    report = fleet_report(entries, ['a-ready', 'b-one-problem', 'c-two-problems', 'd-failed-before'])
    assert [row['name'] for row in report['hosts']] == ['d-failed-before', 'c-two-problems', 'b-one-problem',
                                                        'a-ready']
    assert report['hosts'][0]['status'] == 'error' and 'before bemi_info ran' in report['hosts'][0]['error']
    assert report['summary']['line'] == '1 of 4 servers ready; 1 not reached; 2 slots inactive; 1 over half its budget'
    assert report['summary']['databases'] == 3 and report['summary']['databases_ready'] == 1


def test_a_standbys_synced_copy_is_not_an_inactive_slot():
    physical = slot('standby_a', kind='physical', database=None, active=True)
    primary = report_host([result(standbys=1, slot_failover=True, slots=[slot(active=True, failover=True), physical])],
                          'p')
    standby = report_host([result(standby=True, slot_synced=True, slots=[slot(synced=True, failover=True)])], 's',
                          primary_slot_name='standby_a')
    report = fleet_report([primary, standby], ['p', 's'])
    assert report['summary']['slots_inactive'] == 0
    assert report['clusters'] == [{'primary': 'p', 'protection': 'failover_slots', 'streaming_standbys': 1,
                                   'standbys': [{'name': 's', 'covered': True}]}]


def test_failover_protection():
    unprotected = report_host([result(standbys=2, slot_failover=False, slots=[slot(active=True)])], 'p')
    assert unprotected['protection'] == 'none'
    patroni = report_host([result(standbys=1, cluster_manager='patroni')], 'q')
    assert patroni['protection'] == 'patroni'
    replica = report_host([result(standby=True, cluster_manager='patroni', slots=[slot()])], 'r')
    lonely = report_host([result(standby=True, slot_synced=None)], 't', primary_slot_name='gone')
    report = fleet_report([unprotected, patroni, replica, lonely], ['p', 'q', 'r', 't'])
    assert report['summary']['clusters_without_failover_protection'] == 1
    assert 'cluster without failover protection' in report['summary']['line']
    assert {'primary': None, 'protection': 'unknown', 'streaming_standbys': None,
            'standbys': [{'name': 'r', 'covered': True}]} in report['clusters']
    assert {'primary': None, 'protection': 'unknown', 'streaming_standbys': None,
            'standbys': [{'name': 't', 'covered': False}]} in report['clusters']


def test_one_entry_per_host():
    with pytest.raises(AnsibleFilterError, match='one entry'):
        fleet_report([None], ['a', 'b'])


def sample_report():
    hostile = problem('role_missing', message='Role <script>alert(1)</script> | "x" is missing.', fix='CREATE ROLE')
    return fleet_report([
        report_host([result(ready=False, findings=[hostile], slots=[slot(retained=700 * MB)])], 'db<1>'),
        report_host([{'bemi_db': {'name': 'app'}, 'unreachable': True, 'msg': 'unreachable'}], 'db2'),
    ], ['db<1>', 'db2'], '2026-12-04 21:00:00 UTC')


def test_html_is_self_contained_and_escaped():
    page = fleet_report_html(sample_report())
    assert page.startswith('<!DOCTYPE html>')
    assert '<script' not in page and 'http' not in page and 'src=' not in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    rows = re.findall(r'<tr class="host row-(\w+)" id="([^"]+)"', page)
    assert rows == [('unreachable', 'host-db2'), ('not_ready', 'host-db-1-')]
    assert '<p class="summary" id="summary">0 of 2 servers ready; 1 not reached; 1 slot inactive; ' \
           '1 over half its budget</p>' in page
    assert 'style="width:68.4%"' in page and 'class="bar warn"' in page
    assert '<code>role_missing</code>' in page and 'Fix: CREATE ROLE' in page


def test_markdown_has_a_row_per_host_and_escapes_pipes():
    text = fleet_report_markdown(sample_report())
    rows = [line for line in text.splitlines() if line.startswith('| ') and not line.startswith(('| Host', '| ---'))]
    assert [row.split(' | ')[0] for row in rows] == ['| db2', '| db&lt;1&gt;']
    assert 'Role &lt;script&gt;alert(1)&lt;/script&gt; \\| "x" is missing.' in text and '<script' not in text
    assert '**0 of 2 servers ready; 1 not reached; 1 slot inactive; 1 over half its budget**' in text


def test_json_round_trips():
    report = sample_report()
    assert json.loads(fleet_report_json(report)) == report


def test_metrics():
    physical = slot('st"a', kind='physical', database=None, active=True, wal_status=None)
    host = report_host([result(ready=False, findings=[problem(), problem(), note()], standbys=1, slot_failover=False,
                               slots=[slot(retained=3 * MB, failover=False), physical])], 'db1')
    text = report_metrics(host)
    assert 'bemi_database_ready{database="app"} 0' in text
    assert 'bemi_findings{database="app",code="wal_level_not_logical",severity="problem"} 2' in text
    assert 'bemi_findings{database="app",code="slot_missing",severity="note"} 1' in text
    assert 'bemi_slot_retained_wal_bytes{slot="bemi",database="app"} 3145728' in text
    assert 'bemi_slot_wal_status{slot="bemi",database="app",wal_status="reserved"} 1' in text
    assert 'bemi_slot_wal_status{slot="bemi",database="app",wal_status="lost"} 0' in text
    assert 'bemi_slot_active{slot="st\\"a",database=""} 1' in text
    assert 'bemi_wal_budget_bytes 1073741824' in text
    assert 'bemi_failover_protected{slot="bemi"} 0' in text
    assert 'bemi_slot_failover{slot="bemi",database="app"} 0' in text
    parser = pytest.importorskip('prometheus_client.parser')
    families = dict((family.name, family) for family in parser.text_string_to_metric_families(text))
    assert all(family.type == 'gauge' for family in families.values())
    assert families['bemi_findings'].samples[0].labels['code'] == 'slot_missing'


def test_metrics_of_an_unlimited_budget_and_a_failed_read():
    assert 'bemi_wal_budget_bytes -1' in report_metrics(report_host([result(keep=-1)], 'db1'))
    failed = report_metrics(report_host([{'bemi_db': {'name': 'app'}, 'msg': 'refused'}], 'db1'))
    assert failed.splitlines()[-1] == 'bemi_info_success{database="app"} 0'
    assert 'bemi_database_ready' not in failed and 'bemi_wal_budget_bytes' not in failed
