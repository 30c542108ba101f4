# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bemi.postgresql.plugins.filter.restart_plan import (
    FilterModule,
    debian_cluster,
    pg_ctl_restart,
    restart_plan,
    restart_switch,
    restart_switch_error,
)

# vars/Debian.yml and vars/RedHat.yml, as vars/main.yml puts them together.
DEBIAN = {'debian_conf_root': '/etc/postgresql', 'pg_ctlcluster': '/usr/bin/pg_ctlcluster',
          'debian_log_file': '/var/log/postgresql/postgresql-{major}-{cluster}.log',
          'cluster_units': ['postgresql@{major}-{cluster}.service'], 'server_units': [],
          'restart_path': '/usr/bin:/bin'}
REDHAT = {'debian_conf_root': '', 'pg_ctlcluster': '', 'cluster_units': [],
          'server_units': ['postgresql-{major}.service', 'postgresql.service'], 'restart_path': '/usr/bin:/bin'}
DEBIAN_15 = {'version_num': 150010, 'config_file': '/etc/postgresql/15/main/postgresql.conf'}
RHEL_16 = {'version_num': 160004, 'config_file': '/var/lib/pgsql/16/data/postgresql.conf'}


@pytest.mark.parametrize('config_file, major, root, name', [
    ('/etc/postgresql/15/main/postgresql.conf', 15, '/etc/postgresql', 'main'),
    ('/etc/postgresql/15/main/postgresql.conf', 15, '/etc/postgresql/', 'main'),
    ('/etc/postgresql/17/my-cluster/postgresql.conf', 17, '/etc/postgresql', 'my-cluster'),
    # Another major's directory, a nested path, a file elsewhere, no Debian layout.
    ('/etc/postgresql/14/main/postgresql.conf', 15, '/etc/postgresql', ''),
    ('/etc/postgresql/15/a/b/postgresql.conf', 15, '/etc/postgresql', ''),
    ('/srv/pg/postgresql.conf', 15, '/etc/postgresql', ''),
    ('/etc/postgresql/15/main/postgresql.conf', 15, '', ''),
    ('/etcXpostgresql/15/main/postgresql.conf', 15, '/etc.postgresql', ''),
])
def test_debian_cluster(config_file, major, root, name):
    assert debian_cluster(config_file, major, root) == name


def test_debian_picks_the_clusters_own_unit_never_the_umbrella():
    services = {'postgresql.service': {}, 'postgresql@15-main.service': {}, 'postgresql@16-main.service': {}}
    plan = restart_plan(DEBIAN_15, DEBIAN, 'service', '', services, True, True)
    assert (plan['via'], plan['unit'], plan['debian_cluster'], plan['major']) == (
        'service', 'postgresql@15-main.service', 'main', 15)
    assert plan['error'] == ''


def test_rhel_picks_its_versioned_unit():
    plan = restart_plan(RHEL_16, REDHAT, 'auto', '', {'postgresql-16.service': {}, 'sshd.service': {}}, True)
    assert (plan['via'], plan['unit'], plan['debian_cluster']) == ('service', 'postgresql-16.service', '')
    assert plan['candidates'] == ['postgresql-16.service', 'postgresql.service']


def test_service_without_a_unit_of_this_cluster_is_refused():
    server = {'version_num': 140012, 'config_file': '/etc/postgresql/14/main/postgresql.conf'}
    plan = restart_plan(server, DEBIAN, 'service', '', {'postgresql.service': {}}, False)
    assert 'postgresql@14-main.service' in plan['error']
    assert 'umbrella postgresql unit is never used' in plan['error']
    assert 'systemd does not run this host' in plan['error']
    assert 'pg_ctlcluster or pg_ctl' in plan['error']


def test_a_given_service_name_wins():
    plan = restart_plan(DEBIAN_15, DEBIAN, 'auto', 'my-pg.service', None, False, True)
    assert (plan['via'], plan['unit']) == ('service', 'my-pg.service')


def test_auto_takes_pg_ctlcluster_then_pg_ctl():
    plan = restart_plan(DEBIAN_15, DEBIAN, 'auto', '', {}, False, True)
    assert plan['via'] == 'pg_ctlcluster'
    assert plan['argv'] == ['/usr/bin/pg_ctlcluster', '--mode', 'fast', '15', 'main', 'restart']
    assert plan['log'] == '/var/log/postgresql/postgresql-15-main.log'
    assert plan['env'] == ['PATH=/usr/bin:/bin']
    assert restart_plan(DEBIAN_15, DEBIAN, 'auto', '', {}, False, False)['via'] == 'pg_ctl'
    assert restart_plan(RHEL_16, REDHAT, 'auto', '', None, False, False)['via'] == 'pg_ctl'


@pytest.mark.parametrize('server, layout, installed, unit, words', [
    (RHEL_16, DEBIAN, True, '', 'is not a Debian cluster (its config_file /var/lib/pgsql/16/data/postgresql.conf'),
    (DEBIAN_15, DEBIAN, False, '', '/usr/bin/pg_ctlcluster (postgresql-common) is not installed'),
    (DEBIAN_15, DEBIAN, False, 'postgresql@15-main.service', 'to pg_ctl or service.'),
])
def test_pg_ctlcluster_that_cannot_work_is_refused(server, layout, installed, unit, words):
    plan = restart_plan(server, layout, 'pg_ctlcluster', unit, None, False, installed)
    assert words in plan['error']
    assert 'Nothing was changed' in plan['error']


def test_unknown_method():
    with pytest.raises(AnsibleFilterError, match='bemi_restart_method'):
        restart_plan(DEBIAN_15, DEBIAN, 'systemctl')


def test_pg_ctl_keeps_the_postmasters_log_and_environment():
    postmaster = {'exe': '/usr/lib/postgresql/15/bin/postgres', 'output': '/var/log/pg.log',
                  'environ': 'LANG=C.UTF-8\x00HOME=/root\x00TZ=UTC\x00ANSIBLE_X=1\x00'}
    got = pg_ctl_restart(postmaster, '/srv/pg', 60, '/usr/bin:/bin', '^(LANG|TZ)=')
    assert got['pg_ctl'] == '/usr/lib/postgresql/15/bin/pg_ctl'
    assert got['argv'] == ['/usr/lib/postgresql/15/bin/pg_ctl', 'restart', '-D', '/srv/pg', '-m', 'fast', '-w',
                           '-t', '60', '-l', '/var/log/pg.log']
    assert got['env'] == ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8', 'TZ=UTC']


@pytest.mark.parametrize('output, log_file, log', [
    ('/dev/null', '', '/dev/null'),
    ('pipe:[1234]', '', '/dev/null'),
    ('', '', '/dev/null'),
    ('/var/log/pg.log', '/srv/other.log', '/srv/other.log'),
])
def test_pg_ctl_log(output, log_file, log):
    got = pg_ctl_restart({'output': output}, '/d', 5, '/bin', '^$', '/opt/pg/bin/pg_ctl', log_file)
    assert got['log'] == log and got['pg_ctl'] == '/opt/pg/bin/pg_ctl' and got['env'] == ['PATH=/bin']


@pytest.mark.parametrize('via, mode, as_root, has_runuser, expect', [
    ('service', 'auto', True, True, (False, False, 'root', 'root')),
    ('service', 'auto', False, True, (False, True, 'root', 'root')),
    ('pg_ctl', 'auto', True, True, (True, False, 'root', 'postgres')),
    ('pg_ctl', 'auto', True, False, (False, True, 'postgres', 'postgres')),
    ('pg_ctl', 'auto', False, True, (False, True, 'postgres', 'postgres')),
    ('pg_ctlcluster', 'always', False, True, (True, True, 'root', 'postgres')),
    ('pg_ctl', 'never', True, True, (False, True, 'postgres', 'postgres')),
])
def test_restart_switch(via, mode, as_root, has_runuser, expect):
    switch = restart_switch(via, 'postgres', mode, as_root, has_runuser)
    assert (switch['runuser'], switch['become'], switch['become_user'], switch['target']) == expect
    assert switch['runuser_unasked'] == (switch['runuser'] and mode == 'auto')


def test_switch_that_works():
    switch = restart_switch('pg_ctl', 'postgres', 'auto', True, True)
    assert restart_switch_error(switch, {'stdout': 'postgres\n'}, 'pg_ctl', True, True, 'db1') == ''


def test_switch_without_sudo_names_the_fixes():
    switch = restart_switch('pg_ctl', 'postgres', 'never', True, True)
    message = restart_switch_error(switch, {'failed': True, 'msg': 'sudo:\n not found'}, 'pg_ctl', True, True, 'db1')
    assert message.startswith('The restart of PostgreSQL on db1 would run pg_ctl through become to postgres')
    assert 'id -un failed (sudo: not found)' in message
    assert 'set bemi_restart_runuser to true (or auto)' in message


def test_switch_as_the_wrong_user():
    switch = restart_switch('pg_ctl', 'postgres', 'always', False, False)
    message = restart_switch_error(switch, {'stdout': 'root'}, 'pg_ctl', False, False)
    assert 'id -un printed root' in message and 'runuser is not installed' in message


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'restart_plan', 'pg_ctl_restart', 'restart_switch', 'restart_switch_error'}
