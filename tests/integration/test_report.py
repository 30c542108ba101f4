"""The fleet report (playbooks/report.yml) and the metrics files, on real servers.

The fleet: a server the tracking role made ready (with Bemi's slot, inactive), one left as installed
(wal_level replica: not ready), one whose server is down, and one host that cannot be reached at all.
The page is checked as strict HTML and in a real headless Chromium; its JSON and the metrics
(parsed by prometheus_client) against bemi_info; the Markdown row by row. The fleet runs on one major
(the newest selected): the report reads bemi_info, whose every major the other tests cover.
"""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import pgserver
from ansible_run import run_module, run_playbook
from conftest import selected_majors

APP_SQL = ("CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric); "
           "CREATE TABLE public.page_views (path text)")
VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}


class StrictHTML(html.parser.HTMLParser):
    """Every element closed in order, nothing outside <html>, no external reference."""

    def __init__(self):
        super(StrictHTML, self).__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.rows = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == 'doctype html'

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ('src', 'href'):
            if name in attrs:
                self.errors.append('external reference %s=%s' % (name, attrs[name]))
        if tag in ('script', 'link', 'img', 'iframe'):
            self.errors.append('<%s> in a self-contained page' % tag)
        if tag == 'tr' and 'host' in (attrs.get('class') or '').split():
            self.rows.append(attrs.get('id'))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append('</%s> closes <%s>' % (tag, self.stack[-1] if self.stack else 'nothing'))
            return
        self.stack.pop()


def strict_parse(text, doctype=True):
    parser = StrictHTML()
    parser.feed(text)
    parser.close()
    assert parser.doctype or not doctype, 'no <!DOCTYPE html>'
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return parser


def inventory_host(cluster, **extra):
    host = {
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        'bemi_login_unix_socket': cluster.socket_dir,
        'bemi_login_port': cluster.port,
        'bemi_databases': [{'name': 'app'}],
        'bemi_password': 'Report-Test-Pw-1',
        'bemi_restart_method': 'pg_ctl',
        'bemi_data_directory': cluster.data_dir,
        'bemi_pg_ctl': os.path.join(cluster.bindir, 'pg_ctl'),
        'bemi_pg_ctl_log_file': cluster.log_file,
        'bemi_pg_ctl_runuser': os.geteuid() == 0,
    }
    host.update(extra)
    return host


@pytest.fixture(scope='module')
def fleet(pool, major):
    if major != selected_majors()[-1]:
        pytest.skip('the fleet report runs on one major, the newest selected (%d)' % selected_majors()[-1])
    workdir = tempfile.mkdtemp(prefix='bemi-report-')
    ready = pool.fresh(major, 'report-ready', {'wal_level': 'logical', 'max_slot_wal_keep_size': "'64MB'"})
    not_ready = pool.fresh(major, 'report-not-ready')
    down = pgserver.Cluster(major, name='report-down')  # never started: connection refused
    try:
        for cluster in (ready, not_ready):
            cluster.query('CREATE DATABASE app')
            cluster.query(APP_SQL, dbname='app')
        hosts = {
            # First, so the report's run_once task does not rely on the first host being reachable.
            'host-unreachable': {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1',
                                 'ansible_port': pgserver.free_port(), 'ansible_user': 'nobody',
                                 'ansible_ssh_common_args': '-o ConnectTimeout=3 -o BatchMode=yes',
                                 'bemi_databases': [{'name': 'app'}]},
            'db-ready': inventory_host(ready, bemi_metrics_textfile=os.path.join(workdir, 'ready.prom')),
            'db-not-ready': inventory_host(not_ready, bemi_metrics_textfile=os.path.join(workdir, 'not-ready.prom')),
            'db-down': inventory_host(down, bemi_connect_timeout=3),
        }
        inventory = os.path.join(workdir, 'inventory.json')
        with open(inventory, 'w') as handle:
            json.dump({'all': {'hosts': hosts}}, handle)
        env = {'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'tmp'), 'ANSIBLE_HOST_KEY_CHECKING': 'false'}
        # The rollout makes db-ready ready (and writes its metrics in the verify step); Bemi's slot
        # appears as Bemi would create it.
        proc = run_playbook('bemi.postgresql.rollout', inventory, ['--limit', 'db-ready'], env=env)
        assert proc.returncode == 0, proc.stdout
        # The rollout's verify step wrote db-ready's metrics (ready, before Bemi's slot existed).
        with open(os.path.join(workdir, 'ready.prom')) as handle:
            rollout_metrics = parse_metrics(handle.read())
        ready.query("SELECT pg_create_logical_replication_slot('bemi', 'pgoutput')", dbname='app')
        report_dir = os.path.join(workdir, 'out')
        report = run_playbook('bemi.postgresql.report', inventory, ['-e', 'bemi_report_dir=%s' % report_dir], env=env)
        yield {'workdir': workdir, 'report_dir': report_dir, 'ready': ready, 'not_ready': not_ready,
               'rollout_metrics': rollout_metrics, 'report': report}
    finally:
        pool.clusters.pop((major, 'report-ready')).destroy()
        pool.clusters.pop((major, 'report-not-ready')).destroy()
        down.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def read(path):
    with open(path) as handle:
        return handle.read()


def info(cluster):
    return run_module('bemi_info', dict(cluster.connection_args(), login_db='app', schemas=['*'])).result


def parse_metrics(text):
    from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def assert_metrics_match(samples, result, host):
    """The metrics of one host against bemi_info's result (``host``: the report's entry of the same run)."""
    assert samples[('bemi_database_ready', (('database', 'app'),))] == (1 if result['ready'] else 0)
    counts = {}
    for item in result['findings']:
        key = ('bemi_findings', (('code', item['code']), ('database', 'app'), ('severity', item['severity'])))
        counts[key] = counts.get(key, 0) + 1
    assert dict((k, v) for k, v in samples.items() if k[0] == 'bemi_findings') == counts
    keep = result['max_slot_wal_keep_size']
    assert samples[('bemi_wal_budget_bytes', ())] == (keep * 1024 * 1024 if keep >= 0 else -1)
    for slot in host['slots']:
        labels = (('database', slot['database'] or ''), ('slot', slot['name']))
        assert samples[('bemi_slot_active', labels)] == (1 if slot['active'] else 0)
        assert samples[('bemi_slot_retained_wal_bytes', labels)] == slot['retained_wal_bytes']
        assert samples[('bemi_slot_wal_status', labels + (('wal_status', slot['wal_status']),))] == 1
    assert sorted(s['name'] for s in host['slots']) == sorted(s['name'] for s in result['replication_slots'])


def test_fleet_report(fleet):
    workdir = fleet['workdir']
    report_dir = fleet['report_dir']
    assert fleet['rollout_metrics'][('bemi_database_ready', (('database', 'app'),))] == 1
    proc = fleet['report']
    # Unreachable hosts make ansible-playbook exit 4; the report is written all the same.
    assert proc.returncode in (0, 4), proc.stdout
    assert '1 of 4 servers ready' in proc.stdout, proc.stdout
    assert 'changed=0' in proc.stdout.split('PLAY RECAP')[1].split('db-ready')[1].splitlines()[0], proc.stdout

    report = json.loads(read(os.path.join(report_dir, 'report.json')))
    rows = dict((row['name'], row) for row in report['hosts'])
    # Worst first: what could not be read, then not ready, then ready.
    assert [row['name'] for row in report['hosts']] == ['host-unreachable', 'db-down', 'db-not-ready', 'db-ready']
    assert rows['host-unreachable']['status'] == 'unreachable'
    assert rows['db-down']['status'] == 'error' and 'app' == rows['db-down']['databases'][0]['name']
    assert report['summary']['line'] == ('1 of 4 servers ready; 2 not reached; 1 slot inactive; '
                                         '0 over half their budget'), report['summary']

    # The JSON holds what bemi_info says of each server now.
    for name, cluster in (('db-ready', fleet['ready']), ('db-not-ready', fleet['not_ready'])):
        now = info(cluster)
        db = rows[name]['databases'][0]
        assert db['ready'] == now['ready']
        assert [(f['code'], f['severity'], f['object']) for f in db['findings']] == \
            [(f['code'], f['severity'], f['object']) for f in now['findings']]
        assert [(s['name'], s['active'], s['wal_status']) for s in rows[name]['slots']] == \
            [(s['name'], s['active'], s['wal_status']) for s in now['replication_slots']]
        for then, later in zip(rows[name]['slots'], now['replication_slots']):
            assert 0 <= later['retained_wal_bytes'] - then['retained_wal_bytes'] < 16 * 1024 * 1024
        assert rows[name]['wal_budget_bytes'] == (now['max_slot_wal_keep_size'] * 1024 * 1024
                                                  if now['max_slot_wal_keep_size'] >= 0 else None)
        # The metrics file of the same run says the same.
        metrics_file = os.path.join(workdir, 'ready.prom' if name == 'db-ready' else 'not-ready.prom')
        assert_metrics_match(parse_metrics(read(metrics_file)), now, rows[name])
    assert rows['db-ready']['status'] == 'ready'
    assert rows['db-not-ready']['status'] == 'not_ready'
    assert 'wal_level_not_logical' in [f['code'] for f in rows['db-not-ready']['databases'][0]['findings']]
    assert [s['name'] for s in rows['db-ready']['slots']] == ['bemi']
    assert rows['db-ready']['slots'][0]['budget_fraction'] is not None

    page = read(os.path.join(report_dir, 'index.html'))
    parsed = strict_parse(page)
    assert parsed.rows == ['host-host-unreachable', 'host-db-down', 'host-db-not-ready', 'host-db-ready']
    assert 'wal_level_not_logical' in page and 'Fix:' in page

    markdown = read(os.path.join(report_dir, 'report.md'))
    table = [line for line in markdown.splitlines() if line.startswith('| ') and not line.startswith(('| Host', '| ---'))]
    assert [line.split('|')[1].strip() for line in table] == [row['name'] for row in report['hosts']]
    assert report['summary']['line'] in markdown


def test_report_in_headless_chromium(fleet):
    """The page as a browser builds it: one row per host and the summary line in the DOM."""
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    if not browser:
        pytest.skip('chromium is not installed (.ci/run installs it): the page is not rendered in a browser')
    page = os.path.join(fleet['report_dir'], 'index.html')
    with open(os.path.join(fleet['report_dir'], 'report.json')) as handle:
        report = json.load(handle)
    # --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
    proc = subprocess.run([browser, '--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', 'file://' + page],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    # --dump-dom prints the document element, without the doctype.
    dom = strict_parse(proc.stdout, doctype=False)
    assert dom.rows == ['host-' + row['name'] for row in report['hosts']]
    assert len(dom.rows) == 4
    assert '<p class="summary" id="summary">%s</p>' % report['summary']['line'] in proc.stdout
