from __future__ import annotations

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.failover import (
    ConninfoError,
    FailoverError,
    conninfo_dbname,
    has_secret,
    is_on,
    mask_conninfo,
    parse_conninfo,
    plan_primary,
    plan_standby,
    report_standby,
    restarts_receiver,
    shown,
    slot_list,
    wait_for_receiver,
    with_dbname,
)
from ansible_collections.bemi.postgresql.plugins.module_utils.server_settings import Setting

AUTO = '/data/postgresql.auto.conf'
BASEBACKUP = "user=postgres passfile='/var/lib/postgresql/.pgpass' host=/tmp port=5432 sslmode=prefer"


def setting(name, configured, auto=True, boot=''):
    rows = [{'setting': configured, 'sourcefile': AUTO, 'sourceline': 1}] if auto else []
    return Setting(name, configured, configured, boot, 'configuration file', False, rows, True, 'sighup')


def standby(sync='off', feedback='off', conninfo=BASEBACKUP, slot='standby_a'):
    return {'sync_replication_slots': setting('sync_replication_slots', sync),
            'hot_standby_feedback': setting('hot_standby_feedback', feedback),
            'primary_conninfo': setting('primary_conninfo', conninfo),
            'primary_slot_name': setting('primary_slot_name', slot)}


def test_conninfo_is_parsed_like_libpq():
    assert parse_conninfo(r"host=a  port = 5 application_name='a b\' c'") == [
        ('host', 'a'), ('port', '5'), ('application_name', "a b' c")]
    assert parse_conninfo(r"password='o\'neil' dbname = shop") == [('password', "o'neil"), ('dbname', 'shop')]
    assert parse_conninfo("host='x y' sslmode=require") == [('host', 'x y'), ('sslmode', 'require')]
    with pytest.raises(ConninfoError):
        parse_conninfo("host='unterminated")


def test_dbname_is_added_and_nothing_else_changes():
    assert conninfo_dbname(BASEBACKUP) is None
    added = with_dbname(BASEBACKUP, 'shop')
    assert parse_conninfo(added) == parse_conninfo(BASEBACKUP) + [('dbname', 'shop')]
    assert conninfo_dbname(with_dbname("host=h password='p w'", "my db")) == 'my db'
    assert conninfo_dbname('postgresql://rep:pw@h:5432/crm?sslmode=require') == 'crm'
    assert conninfo_dbname('postgresql://h:5432?dbname=x') == 'x'
    uri = with_dbname('postgresql://rep:pw@h:5432?sslmode=require', 'shop')
    assert uri == 'postgresql://rep:pw@h:5432/shop?sslmode=require'


def test_secrets_are_masked_in_both_forms():
    assert mask_conninfo("host=h password='s3 cret'") == 'host=h password=********'
    assert mask_conninfo('postgresql://rep:s3cret@h/db?sslpassword=x&a=b') == \
        'postgresql://rep:********@h/db?sslpassword=********&a=b'
    assert has_secret("host=h password=x") and not has_secret('host=h user=u')
    assert has_secret('postgresql://rep:pw@h/db') and not has_secret('postgresql://rep@h/db')
    assert shown('primary_conninfo', "password='x") == '********'  # unreadable: never shown
    assert shown('hot_standby_feedback', 'on') == 'on'


def test_booleans_and_slot_lists_read_as_postgresql_does():
    assert all(is_on(value) for value in ('on', 'TRUE', 'yes', '1'))
    assert not any(is_on(value) for value in ('off', 'false', '0', '', None))
    assert slot_list('') == [] and slot_list(None) == []
    assert slot_list('a, "b" ,c') == ['a', 'b', 'c']


def test_primary_plan_sets_the_exact_sorted_list_once():
    current = setting('synchronized_standby_slots', '', auto=False)
    assert plan_primary('present', current, ['b', 'a', 'b']) == [('synchronized_standby_slots', 'a,b')]
    assert plan_primary('present', setting('synchronized_standby_slots', 'b, a'), ['a', 'b']) == []
    assert plan_primary('absent', current, []) == []
    assert plan_primary('absent', setting('synchronized_standby_slots', 'a'), []) == \
        [('synchronized_standby_slots', None)]


def test_standby_plan():
    changes = plan_standby('present', standby(), 'shop', None)
    assert changes == [('sync_replication_slots', 'on'), ('hot_standby_feedback', 'on'),
                       ('primary_conninfo', with_dbname(BASEBACKUP, 'shop'))]
    ready = standby('on', 'true', BASEBACKUP + ' dbname=postgres')
    assert plan_standby('present', ready, 'shop', None) == []
    assert plan_standby('present', ready, 'shop', 'standby_b') == [('primary_slot_name', 'standby_b')]
    assert plan_standby('absent', ready, 'shop', None) == [('sync_replication_slots', None)]


@pytest.mark.parametrize('conninfo, slot, words', [
    ('', 'a', 'primary_conninfo is empty'),
    (BASEBACKUP, '', 'primary_slot_name is not set'),
    ("host='open", 'a', 'add dbname=shop to primary_conninfo by hand'),
    (BASEBACKUP + ' password=x', 'a', 'would write the whole new value, password included, into its log'),
])
def test_standby_that_cannot_be_made_safe_is_an_error(conninfo, slot, words):
    with pytest.raises(FailoverError) as raised:
        plan_standby('present', standby(conninfo=conninfo, slot=slot), 'shop', None)
    assert words in str(raised.value)


def test_standby_report_never_holds_the_conninfo():
    report = report_standby({'sync_replication_slots': 'on', 'hot_standby_feedback': 'off',
                             'primary_conninfo': "password=x dbname=crm", 'primary_slot_name': ''})
    assert report == {'sync_replication_slots': True, 'hot_standby_feedback': False, 'primary_slot_name': None,
                      'primary_conninfo_dbname': 'crm'}


def test_the_wait_ends_when_a_new_wal_receiver_streams():
    rows = iter([{'pid': 7, 'status': 'streaming'}, None, {'pid': 9, 'status': 'starting'},
                 {'pid': 9, 'status': 'streaming'}])
    clock = iter(range(100))
    slept = []
    assert wait_for_receiver(lambda: next(rows), 7, timeout=30, sleep=slept.append, clock=lambda: next(clock))
    # The old receiver, still streaming until the reload reaches it, does not count.
    assert len(slept) == 3


def test_the_wait_gives_up_after_its_timeout():
    clock = iter(range(100))
    assert not wait_for_receiver(lambda: None, None, timeout=5, sleep=lambda seconds: None, clock=lambda: next(clock))


def test_only_a_new_conninfo_or_slot_restarts_the_receiver():
    assert restarts_receiver([('hot_standby_feedback', 'on'), ('primary_conninfo', 'host=p dbname=x')])
    assert restarts_receiver([('primary_slot_name', 'standby_a')])
    assert not restarts_receiver([('sync_replication_slots', 'on'), ('hot_standby_feedback', 'on')])
