# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.bemi.postgresql.plugins.filter.role_words import role_words


def test_module_options_become_role_variables():
    assert role_words('stayed locked for lock_timeout 2s after 5 retries') == (
        'stayed locked for bemi_lock_timeout 2s after 5 retries')
    assert role_words('Re-run when they are less busy, or raise lock_timeout or retries.') == (
        'Re-run when they are less busy, or raise bemi_lock_timeout or bemi_lock_retries.')
    assert role_words('give probe_password the password Bemi uses; or raise probe_timeout (10 s)') == (
        'give bemi_probe_password the password Bemi uses; or raise bemi_probe_timeout (10 s)')
    assert role_words('check login_user and login_password') == 'check bemi_login_user and bemi_login_password'


def test_role_variables_and_other_words_stay():
    text = 'bemi_probe_password is set; the lock_timeouts setting; pg_settings.lock_timeout; 5 retries_left'
    assert role_words(text) == text
    assert role_words(None) == ''
