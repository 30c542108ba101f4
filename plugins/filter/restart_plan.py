# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_plan
short_description: How the tracking role restarts one PostgreSQL cluster, decided from what the host showed
version_added: 0.2.0
description:
  - Decides the restart method of C(bemi_restart_method) (V(auto) takes the first that applies) from the
    server's facts, the platform layout (C(roles/tracking/vars/)) and what the host showed
    (the service units, systemd, C(pg_ctlcluster)).
  - V(service) is the cluster's own unit (C(bemi_service_name), or one of the platform's candidates found
    among the host's units), never Debian's umbrella C(postgresql) unit, which restarts every cluster.
  - V(pg_ctlcluster) needs a Debian cluster (its C(config_file) in C(<conf_root>/<major>/<name>/)) and
    postgresql-common. V(pg_ctl) is anything else, as the server's OS user.
  - A method that cannot work is returned as C(error), the sentence to fail with (nothing changed yet).
author:
  - Bemi (@BemiHQ)
options:
  _input:
    description: C(server) of C(bemi_info) (C(version_num), C(config_file)).
    type: dict
    required: true
  layout:
    description: The platform layout, C({debian_conf_root, pg_ctlcluster, debian_log_file, cluster_units,
      server_units, restart_path}); unit and log names hold C({major}) and C({cluster}).
    type: dict
    required: true
  method:
    description: C(bemi_restart_method).
    type: str
    default: auto
  service_name:
    description: C(bemi_service_name).
    type: str
    default: ''
  services:
    description: The host's units (C(ansible_facts.services)), or none when they were not listed.
    type: dict
  systemd:
    description: Whether systemd runs the host.
    type: bool
    default: false
  pg_ctlcluster:
    description: Whether the layout's C(pg_ctlcluster) is an executable on the host.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Decide how to restart
  ansible.builtin.set_fact:
    __bemi_restart: >-
      {{ __bemi_server | bemi.postgresql.restart_plan(__bemi_layout, bemi_restart_method, bemi_service_name,
         ansible_facts.services | default(none), systemd_stat.stat.exists, pg_ctlcluster_stat.stat.executable) }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    via:
      description: V(service), V(pg_ctlcluster) or V(pg_ctl).
      type: str
    major:
      description: The major version.
      type: int
    debian_cluster:
      description: The name of the Debian cluster (C(main)), or empty.
      type: str
    candidates:
      description: The unit names this cluster may have.
      type: list
      elements: str
    unit:
      description: The unit found (or given), or empty.
      type: str
    argv:
      description: The pg_ctlcluster command (empty for the other methods).
      type: list
      elements: str
    log:
      description: pg_ctlcluster's log file (empty for the other methods).
      type: str
    env:
      description: The environment pg_ctlcluster runs in (it adds the cluster's own).
      type: list
      elements: str
    error:
      description: Why the method cannot work, with the fix; empty when it can.
      type: str
"""

import re

from ansible.errors import AnsibleFilterError

METHODS = ('auto', 'service', 'pg_ctlcluster', 'pg_ctl')


def debian_cluster(config_file, major, conf_root):
    """The name of a Debian cluster (config in <conf_root>/<major>/<name>/postgresql.conf), else ''."""
    if not conf_root or not config_file:
        return ''
    match = re.match(r'^%s/%d/([^/]+)/postgresql[.]conf$' % (re.escape(conf_root.rstrip('/')), major), config_file)
    return match.group(1) if match else ''


def _fill(pattern, major, cluster):
    return pattern.replace('{major}', str(major)).replace('{cluster}', cluster)


def restart_plan(server, layout, method='auto', service_name='', services=None, systemd=False, pg_ctlcluster=False):
    if method not in METHODS:
        raise AnsibleFilterError('bemi.postgresql.restart_plan: bemi_restart_method is %r, one of %s'
                                 % (method, ', '.join(METHODS)))
    major = int(server['version_num']) // 10000
    cluster = debian_cluster(server.get('config_file') or '', major, layout.get('debian_conf_root') or '')
    patterns = layout.get('cluster_units' if cluster else 'server_units') or []
    candidates = [_fill(pattern, major, cluster) for pattern in patterns]
    if service_name:
        unit = service_name
    else:
        unit = next((name for name in candidates if name in (services or {})), '')
    has_pg_ctlcluster = bool(cluster) and bool(pg_ctlcluster)

    if method != 'auto':
        via = method
    elif unit:
        via = 'service'
    elif has_pg_ctlcluster:
        via = 'pg_ctlcluster'
    else:
        via = 'pg_ctl'

    plan = {'via': via, 'major': major, 'debian_cluster': cluster, 'candidates': candidates, 'unit': unit,
            'argv': [], 'log': '', 'env': [], 'error': ''}
    if via == 'service' and not unit:
        tried = ', '.join(candidates) if candidates else 'no unit name is known for this cluster'
        plan['error'] = (
            'bemi_restart_method is service, but no unit of this cluster was found (tried %s%s; Debian\'s umbrella'
            ' postgresql unit is never used, as it restarts every cluster). Nothing was changed. Set'
            ' bemi_service_name, or bemi_restart_method to %s.'
            % (tried, '' if systemd else ', and systemd does not run this host',
               'pg_ctlcluster or pg_ctl' if cluster else 'pg_ctl'))
    elif via == 'pg_ctlcluster' and not has_pg_ctlcluster:
        if not cluster:
            why = ('this is not a Debian cluster (its config_file %s is not in %s/<major>/<name>/)'
                   % (server.get('config_file'), layout.get('debian_conf_root') or '/etc/postgresql'))
        else:
            why = '%s (postgresql-common) is not installed' % (layout.get('pg_ctlcluster') or 'pg_ctlcluster')
        plan['error'] = ('bemi_restart_method is pg_ctlcluster, but %s. Nothing was changed. Set bemi_restart_method'
                         ' to pg_ctl%s.' % (why, ' or service' if unit else ''))
    elif via == 'pg_ctlcluster':
        plan['argv'] = [layout['pg_ctlcluster'], '--mode', 'fast', str(major), cluster, 'restart']
        plan['log'] = _fill(layout.get('debian_log_file') or '', major, cluster)
        # pg_ctlcluster sets the cluster's own environment (/etc/postgresql/<major>/<name>/environment).
        plan['env'] = ['PATH=' + layout['restart_path']]
    return plan


def pg_ctl_restart(postmaster, data_directory, timeout, restart_path, env_keep, pg_ctl='', log_file=''):
    """pg_ctl restart keeping what the running postmaster has (postmaster: the targets of its
    /proc exe and fd/2 links, and its environ as text): -l only to the file its output already goes
    to, else log_file, else /dev/null (a postmaster must not inherit Ansible's pipe); its locale and
    time zone variables (env_keep) and a fixed PATH, nothing of Ansible's environment."""
    exe = postmaster.get('exe') or '/nonexistent/postgres'
    path = pg_ctl or exe.rsplit('/', 1)[0] + '/pg_ctl'
    output = postmaster.get('output') or ''
    if log_file:
        log = log_file
    elif output.startswith('/') and not output.startswith('/dev/'):
        log = output
    else:
        log = '/dev/null'
    keep = re.compile(env_keep)
    env = ['PATH=' + restart_path] + [item for item in (postmaster.get('environ') or '').split('\x00')
                                      if item and keep.match(item)]
    return {'pg_ctl': path, 'log': log, 'env': env,
            'argv': [path, 'restart', '-D', data_directory, '-m', 'fast', '-w', '-t', str(timeout), '-l', log]}


def restart_switch(via, os_user, mode='auto', as_root=False, has_runuser=False):
    """How the restart switches to the user it runs as: service as root; pg_ctlcluster and pg_ctl as the
    server's OS user, through runuser (mode always, or auto when the play runs as root and runuser exists),
    else through become (the play's become_method)."""
    runuser = via != 'service' and (mode == 'always' or (mode == 'auto' and as_root and has_runuser))
    # runuser itself needs root; the service needs root; pg_ctl without runuser needs the OS user.
    to_root = runuser or via == 'service'
    become_user = 'root' if to_root else os_user
    become = (not as_root) if to_root else True
    if runuser:
        how = 'runuser -u %s%s' % (os_user, ' (with become to root)' if become else '')
    else:
        how = "become to %s (the play's become_method)" % become_user
    return {'runuser': runuser, 'become': become, 'become_user': become_user, 'how': how,
            'target': 'root' if via == 'service' else os_user, 'runuser_unasked': runuser and mode == 'auto'}


def restart_switch_error(switch, probe, via, as_root=False, has_runuser=False, host=''):
    """The failure of the switch tried with id -un (probe: that task's result), with the fix; '' when it worked."""
    printed = (probe.get('stdout') or '').strip()
    if not probe.get('failed') and printed == switch['target']:
        return ''
    if probe.get('failed'):
        why = ' '.join(str(probe.get(key) or '') for key in ('msg', 'stderr', 'module_stderr')).strip()
        what = 'failed (%s)' % ' '.join(why.split())
    else:
        what = 'printed %s' % printed
    if switch['runuser']:
        if not has_runuser:
            fix = 'runuser is not installed, so set bemi_restart_runuser to false to use become'
        else:
            fix = 'run the play as root, or set bemi_restart_runuser to false to use become'
    elif as_root and has_runuser:
        fix = ('the play runs as root, so set bemi_restart_runuser to true (or auto), which needs no sudo; or use'
               ' become_method su, or install sudo')
    else:
        fix = ('use a become_method that works on this host (become_method su when there is no sudo, or install'
               ' sudo and allow the play\'s user to run commands as %s without a password prompt)' % switch['become_user'])
    return ('The restart of PostgreSQL on %s would run %s through %s, and that switch does not work here: id -un %s.'
            ' Nothing was changed. Fix: %s.' % (host, via, switch['how'], what, fix))


class FilterModule:

    def filters(self):
        return {'restart_plan': restart_plan, 'pg_ctl_restart': pg_ctl_restart, 'restart_switch': restart_switch,
                'restart_switch_error': restart_switch_error}
