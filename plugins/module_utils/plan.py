# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan, then apply: the one place where check mode is decided.

A module reads the catalogs, adds the statements it needs to a Plan, and calls
``Plan.apply``. In check mode nothing is sent to the server; the same text is
returned as ``queries``, so a dry run predicts the real run exactly. Nothing
here executes and then rolls back.
"""

from __future__ import annotations

import random
import time
from collections import namedtuple

from ansible_collections.bemi.postgresql.plugins.module_utils import driver
from ansible_collections.bemi.postgresql.plugins.module_utils.driver import DatabaseError, sql

MASK = '********'


class PlanError(Exception):
    """A statement failed. ``executed`` holds what had already run (masked)."""

    def __init__(self, message, executed, label=None):
        super(PlanError, self).__init__(message)
        self.message = message
        self.executed = executed
        self.label = label


class Step:
    """One statement, and the text to show for it (``masked`` hides secrets)."""

    def __init__(self, statement, masked=None):
        self.statement = statement
        self.masked = masked if masked is not None else statement


class Group:
    """Statements applied together.

    ``transactional`` groups run in one transaction, with ``settings`` applied by
    SET LOCAL first; a group whose lock cannot be had within ``lock_timeout``, or
    that lost a deadlock, is retried ``retries`` times with back-off. Other groups
    run statement by statement outside any transaction (ALTER SYSTEM requires that).

    Only a ``skippable`` group (one that concerns a single object, such as one
    table's ALTER) may be left out while the rest goes on: when its lock stays
    busy after the retries it is reported in ``failed``, and when its object was
    dropped or renamed meanwhile, in ``skipped``. Any other group that cannot
    run stops the plan with a PlanError, so no run reports work it did not do.
    """

    def __init__(self, steps, transactional, settings=None, retries=0, label=None, skippable=False):
        self.steps = steps
        self.transactional = transactional
        self.settings = settings or {}
        self.retries = retries
        self.label = label
        self.skippable = skippable


class ApplyResult(namedtuple('ApplyResult', ['queries', 'failed', 'skipped'])):
    """What ran; labels of skippable groups whose locks stayed busy (``failed``) or whose object has gone (``skipped``)."""

    __slots__ = ()

    @property
    def changed(self):
        return bool(self.queries)


# How a transactional group ended.
COMMITTED, LOCKED, GONE = 'committed', 'locked', 'gone'


def backoff_delay(attempt, base=0.1, cap=5.0, rand=random.random):
    """Exponential back-off with full jitter, in seconds, for retry number ``attempt`` (0-based)."""
    return rand() * min(cap, base * (2 ** attempt))


class Plan:

    def __init__(self):
        self.groups = []

    def __bool__(self):
        return any(group.steps for group in self.groups)

    def add(self, statement, masked=None):
        """A statement that runs on its own, outside a transaction."""
        self.groups.append(Group([Step(statement, masked)], transactional=False))

    def add_transaction(self, steps, settings=None, retries=0, label=None, skippable=False):
        """Statements (``Step`` or composables) that must commit or fail together."""
        steps = [step if isinstance(step, Step) else Step(step) for step in steps]
        if steps:
            self.groups.append(Group(steps, True, settings, retries, label, skippable))

    def queries(self, conn):
        return [render(conn, step.masked) for group in self.groups for step in group.steps]

    def apply(self, conn, check_mode, sleep=time.sleep):
        """Run the plan (or, in check mode, only describe it).

        Skippable groups whose lock stayed busy after their retries are reported
        in ``failed`` by label, those whose object has gone in ``skipped``; any
        other error stops the run with a PlanError that says what had already
        been done.
        """
        if check_mode:
            return ApplyResult(self.queries(conn), [], [])
        result = ApplyResult([], [], [])
        for group in self.groups:
            if not group.transactional:
                for step in group.steps:
                    _execute(conn, step, result.queries, group.label)
                continue
            outcome = _run_transaction(conn, group, result.queries, sleep)
            if outcome == LOCKED:
                result.failed.append(group.label)
            elif outcome == GONE:
                result.skipped.append(group.label)
        return result


def render(conn, composable):
    if isinstance(composable, str):
        return composable
    return composable.as_string(conn)


def _execute(conn, step, executed, label, cursor=None):
    try:
        if cursor is None:
            with conn.cursor() as cur:
                cur.execute(step.statement)
        else:
            cursor.execute(step.statement)
    except DatabaseError as exc:
        raise PlanError(_describe(exc, render(conn, step.masked)), list(executed), label)
    executed.append(render(conn, step.masked))


def _describe(exc, text):
    diag = getattr(exc, 'diag', None)
    message = (diag.message_primary if diag and diag.message_primary else str(exc).strip())
    hint = diag.message_hint if diag else None
    out = '%s (while running: %s)' % (message, text)
    return '%s Hint: %s' % (out, hint) if hint else out


def _run_transaction(conn, group, executed, sleep):
    """COMMITTED; or, for a skippable group, LOCKED (busy after every retry) or GONE (its object was dropped)."""
    attempt = 0
    while True:
        done = []
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                if group.settings:
                    # One round trip for all of them: a run may have thousands of these transactions.
                    cur.execute(sql.SQL('SELECT {}').format(sql.SQL(', ').join(
                        sql.SQL('set_config({}, {}, true)').format(sql.Literal(name), sql.Literal(str(value)))
                        for name, value in sorted(group.settings.items()))))
                for step in group.steps:
                    cur.execute(step.statement)
                    done.append(render(conn, step.masked))
            conn.commit()
            executed.extend(done)
            return COMMITTED
        except DatabaseError as exc:
            conn.rollback()
            state = driver.sqlstate(exc)
            if state in driver.LOCK_BUSY and attempt < group.retries:
                sleep(backoff_delay(attempt))
                attempt += 1
                continue
            if group.skippable and state in driver.LOCK_BUSY:
                return LOCKED
            if group.skippable and state in driver.OBJECT_GONE:
                return GONE
            failing = render(conn, group.steps[len(done)].masked) if len(done) < len(group.steps) else 'COMMIT'
            raise PlanError(_transaction_error(exc, failing, attempt + 1), list(executed), group.label)
        finally:
            conn.autocommit = True


def _transaction_error(exc, failing, attempts):
    """What failed; for a lock that stayed busy, also that nothing of the transaction was done and what to do."""
    message = _describe(exc, failing)
    if driver.sqlstate(exc) not in driver.LOCK_BUSY:
        return message
    return ('another session held a conflicting lock for longer than lock_timeout (or a deadlock), in %d attempt(s), '
            'so this transaction was rolled back and nothing of it was changed: %s. Fix: run again once that '
            'session has released its lock (pg_locks and pg_stat_activity show it).' % (attempts, message))


def diff(module, before, after):
    """``{before, after}`` when the user asked for --diff, else None."""
    if not module._diff:
        return None
    return {'before': before, 'after': after}
