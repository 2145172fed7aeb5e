"""Audit partition upkeep: the job makes the months ahead; a missing month is made by the job, not by luck."""
from datetime import datetime, timezone

from peewee import IntegrityError
import pytest

from dialer import audit, jobs


def _first_of_next_month(months: int = 1) -> datetime:
    now = datetime.now(timezone.utc)
    y, m = divmod(now.month - 1 + months, 12)
    return datetime(now.year + y, m + 1, 1, 12, tzinfo=timezone.utc)


def _partition(at: datetime) -> str:
    return f"audit_log_{at:%Y%m}"


def _exists(db, name: str) -> bool:
    return db.execute_sql("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def test_a_row_for_next_month_lands_in_its_partition(db):
    at = _first_of_next_month()
    db.execute_sql("INSERT INTO audit_log (at, user_name, user_role, action, name, object_type)"
                   " VALUES (%s, 'x', 'x', 'custom', 'next month', 'test')", (at,))
    table = db.execute_sql("SELECT tableoid::regclass::text FROM audit_log WHERE name = 'next month'").fetchone()[0]
    assert table == _partition(at)


def test_a_missing_partition_is_made_by_the_job(db):
    jobs.audit_partitions()  # the months ahead of today all there (a month may have begun since the cluster was made)
    at = _first_of_next_month(2)
    name = _partition(at)
    db.execute_sql(f'DROP TABLE "{name}"')  # name built from a date, not from input
    try:
        with pytest.raises(IntegrityError, match="no partition"), db.atomic():  # no partition: the row is refused
            db.execute_sql("INSERT INTO audit_log (at, user_name, user_role, action, name, object_type)"
                           " VALUES (%s, 'x', 'x', 'custom', 'too early', 'test')", (at,))
        assert not _exists(db, name)
        assert jobs.audit_partitions() == 1
        assert _exists(db, name)
        assert jobs.audit_partitions() == 0  # idempotent
        db.execute_sql("INSERT INTO audit_log (at, user_name, user_role, action, name, object_type)"
                       " VALUES (%s, 'x', 'x', 'custom', 'now fine', 'test')", (at,))
    finally:
        jobs.audit_partitions()


def test_months_ahead_exist_after_the_job(db):
    jobs.audit_partitions()
    for ahead in range(0, jobs.AUDIT_MONTHS_AHEAD + 1):
        assert _exists(db, _partition(_first_of_next_month(ahead)))


def test_record_inside_a_month_with_a_partition(db):
    audit.record(db, "custom", "test", 1, name="ok")
    assert db.execute_sql("SELECT count(*) FROM audit_log").fetchone()[0] == 1
