from __future__ import annotations

import os

import pytest

from ansible_collections.bemi.postgresql.plugins.module_utils.wal_budget import (
    GB,
    BudgetError,
    auto_keep_size_mb,
    budget_missing,
    config_value_mb,
    format_mb,
    pg_wal_filesystem,
)


@pytest.mark.parametrize('text, mb', [
    ('1.5GB', 1536), ('512kB', 0), ('1536kB', 2), ('2048kB', 2), ('10GB', 10240), ('1TB', 1024 ** 2),
    ('1024', 1024), ('-1', -1), (' 64 MB ', 64), ('0', 0), (1536, 1536), ('1073741824B', 1024), ('.5GB', 512),
])
def test_config_value_mb_reads_as_postgresql_does(text, mb):
    assert config_value_mb(text) == mb


@pytest.mark.parametrize('text', ['lots', '1.5 gigabytes', '10PB', '1gb', ''])
def test_config_value_mb_refuses_what_postgresql_refuses(text):
    with pytest.raises(BudgetError):
        config_value_mb(text)


def test_config_value_mb_none():
    assert config_value_mb(None) is None


@pytest.mark.parametrize('mb, text', [(-1, 'unlimited'), (38912, '38GB'), (1536, '1536MB'), (0, '0MB'), (None, None)])
def test_format_mb(mb, text):
    assert format_mb(mb) == text


def test_budget_missing_only_for_the_built_in_default():
    assert budget_missing(-1, 'default')
    # An administrator's explicit unlimited is a choice.
    assert not budget_missing(-1, '/etc/postgresql/15/main/postgresql.conf:12')
    assert not budget_missing(10240, 'default')


def test_auto_keep_size_mb_half_in_whole_gb():
    assert auto_keep_size_mb(77 * GB + 5, 80) == 38 * 1024
    # Never below min_wal_size, even on a nearly full disk.
    assert auto_keep_size_mb(GB, 80) == 80
    assert auto_keep_size_mb(0, None) == 0


def test_auto_keep_size_mb_shares_the_filesystem():
    # Three clusters on one 120 GB-free filesystem keep at most half of it together.
    each = auto_keep_size_mb(120 * GB, 80, share=3)
    assert each == 20 * 1024
    assert 3 * each * 1024 ** 2 <= 60 * GB


def test_pg_wal_filesystem_follows_a_link(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    elsewhere = tmp_path / 'wal'
    elsewhere.mkdir()
    os.symlink(str(elsewhere), str(data / 'pg_wal'))
    found = pg_wal_filesystem(str(data))
    assert found['path'] == str(elsewhere)
    assert found['size_bytes'] >= found['free_bytes'] > 0


def test_pg_wal_filesystem_unreadable(tmp_path):
    assert pg_wal_filesystem(str(tmp_path / 'missing')) is None
    assert pg_wal_filesystem(None) is None
