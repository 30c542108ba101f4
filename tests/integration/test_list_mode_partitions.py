"""List mode with a partitioned table (issue 29, item 3): a listed partitioned table publishes the partitions
created or attached later, so they must get REPLICA IDENTITY FULL at once, although list mode tracks no schema.
Without it, the application's UPDATE and DELETE on a new partition of a table without a primary key fail."""

from __future__ import annotations


import pytest

from test_replica_identity import assert_idempotent, check_then_apply, own_database

PREFIX = 'lmp'

# bemi_replica_identity as the tracking role calls it in list mode.
LIST_MODE = dict(tables=['events'], schemas=['public'], track_new_tables=False, reset_unpublished=True)
# The same, once the partitioned table has left the list.
PLAIN_ONLY = dict(tables=['plain'], schemas=['public'], track_new_tables=False, reset_unpublished=True)


@pytest.fixture
def db(pg):
    """A database of its own on the major's shared server (event triggers are per database)."""
    yield from own_database(pg, PREFIX)


def dml(db, statement):
    """None when ``statement`` succeeds, else the first line of its error."""
    try:
        db.sql(statement)
    except Exception as exc:  # the driver's error: its text is what the application sees
        return str(exc).strip().splitlines()[0]
    return None


@pytest.mark.parametrize('via_root', [False, True], ids=['leaves', 'via_root'])
def test_new_partitions_of_a_listed_table_get_full(db, via_root):
    db.sql("""
        CREATE SCHEMA parts;
        CREATE TABLE public.events (id int, at int, note text) PARTITION BY RANGE (at);
        CREATE TABLE public.events_0 PARTITION OF public.events FOR VALUES FROM (0) TO (100);
        CREATE TABLE public.other (id int, at int) PARTITION BY RANGE (at);
        CREATE TABLE public.loose (id int, at int);
        CREATE TABLE public.plain (id int);
        CREATE PUBLICATION bemi FOR TABLE public.events WITH (publish_via_partition_root = %s);
    """ % ('true' if via_root else 'false'))
    first = check_then_apply(db, **LIST_MODE)
    assert first['tables_changed'] == ['public.events', 'public.events_0']
    assert_idempotent(db, **LIST_MODE)

    # What a partition manager or a migration does later, without Ansible.
    db.sql("""
        CREATE TABLE public.events_1 PARTITION OF public.events FOR VALUES FROM (100) TO (200);
        CREATE TABLE parts.events_2 PARTITION OF public.events FOR VALUES FROM (200) TO (300) PARTITION BY RANGE (id);
        CREATE TABLE parts.events_2_low PARTITION OF parts.events_2 FOR VALUES FROM (0) TO (100);
        ALTER TABLE public.loose ADD COLUMN note text;
        BEGIN;
        ALTER TABLE public.events ATTACH PARTITION public.loose FOR VALUES FROM (300) TO (400);
        COMMIT;
        CREATE TABLE public.unrelated (id int);
        CREATE TABLE public.other_1 PARTITION OF public.other FOR VALUES FROM (0) TO (100);
    """)
    # The application's writes on the new partitions (no primary key anywhere).
    for at in (150, 250, 350):
        assert dml(db, 'INSERT INTO public.events (id, at) VALUES (1, %d)' % at) is None
    assert dml(db, 'UPDATE public.events SET note = $$x$$') is None
    assert dml(db, 'DELETE FROM public.events WHERE at >= 100') is None
    ids = db.identities()
    assert [ids[t] for t in ('public.events_1', 'parts.events_2', 'parts.events_2_low', 'public.loose')] == ['f'] * 4
    # Nothing else: a new table outside the listed trees stays as PostgreSQL made it.
    assert ids['public.unrelated'] == 'd' and ids['public.other_1'] == 'd' and ids['public.other'] == 'd'
    # How: the event trigger, installed for the listed partition tree only.
    assert first['event_trigger'] == 'present' and first['tracked_schemas'] == []
    assert first['tracked_partition_trees'] == ['public.events']
    assert first['diff']['after']['event_trigger']['partition_trees'] == ['public.events']
    assert_idempotent(db, **LIST_MODE)

    # The listed table leaves the list: the trigger has nothing left to track and goes.
    db.sql('ALTER PUBLICATION bemi SET TABLE public.plain')
    gone = check_then_apply(db, **PLAIN_ONLY)
    assert gone['event_trigger'] == 'absent' and gone['tracked_partition_trees'] == []
    assert db.snapshot()['event_triggers'] == []
    assert_idempotent(db, **PLAIN_ONLY)


def test_trees_beside_tracked_schemas_and_opt_out(db):
    """With track_new_tables the trigger tracks the schemas and the listed trees; track_partitions: false opts out."""
    db.sql("""
        CREATE SCHEMA app;
        CREATE SCHEMA parts;
        CREATE TABLE app.events (id int, at int) PARTITION BY RANGE (at);
        CREATE TABLE public.plain (id int);
    """)
    both = check_then_apply(db, tables=['app.events', 'plain'], schemas=['public'], track_new_tables=True)
    assert both['tracked_schemas'] == ['public'] and both['tracked_partition_trees'] == ['app.events']
    db.sql("""
        CREATE TABLE parts.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (100);
        CREATE TABLE public.later (id int);
        CREATE TABLE app.unrelated (id int);
    """)
    ids = db.identities()
    assert ids['parts.events_1'] == 'f' and ids['public.later'] == 'f' and ids['app.unrelated'] == 'd'
    assert_idempotent(db, tables=['app.events', 'plain'], schemas=['public'], track_new_tables=True)

    # Opting out: no trigger at all without track_new_tables, and the user re-runs after each new partition.
    out = check_then_apply(db, tables=['app.events'], track_new_tables=False, track_partitions=False)
    assert out['event_trigger'] == 'absent' and out['tracked_partition_trees'] == []
    assert_idempotent(db, tables=['app.events'], track_new_tables=False, track_partitions=False)
