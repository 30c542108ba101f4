from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import (
    Setting,
    detect_managed_service,
    normalize,
    resolve_configured,
    restart_pending,
)

CONF = '/srv/pg/postgresql.conf'
AUTO = '/srv/pg/postgresql.auto.conf'


def rows(*entries):
    return [{'setting': value, 'sourcefile': path, 'sourceline': line} for value, path, line in entries]


def test_last_file_entry_wins_and_default_applies_without_any():
    entries = rows(('replica', CONF, 10), ('logical', AUTO, 3))
    assert resolve_configured(entries, 'replica') == ('logical', AUTO, 3)
    assert resolve_configured([], 'replica') == ('replica', None, None)


def test_without_auto_conf_is_what_reset_leaves():
    entries = rows(('minimal', CONF, 10), ('logical', AUTO, 3))
    assert resolve_configured(entries, 'replica', without_auto_conf=True) == ('minimal', CONF, 10)
    assert resolve_configured(rows(('logical', AUTO, 3)), 'replica', without_auto_conf=True)[0] == 'replica'


def test_normalize_maps_old_wal_level_names_and_integers():
    assert normalize('wal_level', 'hot_standby') == 'replica'
    assert normalize('wal_level', 'LOGICAL') == 'logical'
    assert normalize('max_wal_senders', '10') == 10
    assert normalize('max_wal_senders', None) is None


def make(name, running, configured, pending=False, readable=True, entries=()):
    return Setting(name, running, configured, 'replica', 'default', pending, list(entries), readable)


def test_in_auto_conf_is_unknown_when_files_are_unreadable():
    assert make('wal_level', 'replica', 'logical', entries=rows(('logical', AUTO, 3))).in_auto_conf is True
    assert make('wal_level', 'replica', 'replica').in_auto_conf is False
    assert make('wal_level', 'replica', None, readable=False).in_auto_conf is None


def test_restart_pending_compares_configured_with_running():
    settings = {'wal_level': make('wal_level', 'replica', 'logical'),
                'max_wal_senders': make('max_wal_senders', '10', None, pending=True, readable=False)}
    report = {'wal_level': {'running': 'replica', 'configured': 'logical'},
              'max_wal_senders': {'running': 10, 'configured': None}}
    assert restart_pending(report, settings, ['wal_level']) is True
    assert restart_pending(report, settings, ['max_wal_senders']) is True
    report['wal_level']['configured'] = 'replica'
    assert restart_pending(report, settings, ['wal_level']) is False


def test_managed_services_are_recognised_with_their_fix():
    service, fix = detect_managed_service(['rds.logical_replication', 'work_mem'], [])
    assert service.startswith('Amazon RDS') and 'rds.logical_replication = 1' in fix
    assert detect_managed_service([], ['cloudsqlsuperuser'])[1].startswith('set the database flag cloudsql.logical_decoding')
    assert detect_managed_service(['work_mem'], ['postgres']) is None
