"""The «Кампании» list's counts on a real PostgreSQL: leads by state kept by the lead's triggers
(sql/020_campaign_counts.sql) equal a real count after every kind of write, two writers of one campaign never wait
for each other, and today's attempts by outcome (the report rollup) equal a count of the attempts that ended
since the local midnight."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from dialer.services import campaigns, leads


def real(db) -> dict:
    rows = db.execute_sql("SELECT campaign_id, state, count(*) FROM lead GROUP BY 1, 2").fetchall()
    return {(c, s): n for c, s, n in rows}


def kept(db) -> dict:
    rows = db.execute_sql("SELECT campaign_id, state, sum(leads) FROM campaign_lead_count GROUP BY 1, 2"
                          " HAVING sum(leads) <> 0").fetchall()
    return {(c, s): n for c, s, n in rows}


def listed(ids) -> dict:
    found = campaigns.counters(ids)
    return {(c, s): n for c in ids for s, n in found[c]["leads"].items() if n}


def add(db, cid: int, first: int, n: int, state: str = "new") -> None:
    db.execute_sql("INSERT INTO lead (campaign_id, external_id, phone, state) SELECT %s, 'E' || i,"
                   " '+7900' || lpad(i::text, 7, '0'), %s FROM generate_series(%s, %s) AS i",
                   (cid, state, first, first + n - 1))


@pytest.fixture
def two(db):
    return campaigns.create_campaign("A")["id"], campaigns.create_campaign("B")["id"]


def test_counts_follow_inserts_updates_moves_deletes_copy_and_import(db, two):
    a, b = two
    steps = [
        ("insert", lambda: add(db, a, 1, 30)),
        ("import", lambda: leads.import_csv(b, "id,phone\nx1,+79161234567\nx2,+79161234568\nx3,+79161234569\n")),
        ("state", lambda: db.execute_sql("UPDATE lead SET state = 'done' WHERE campaign_id = %s AND id %% 3 = 0", (a,))),
        ("one lead", lambda: db.execute_sql("UPDATE lead SET state = 'in_progress' WHERE id = (SELECT min(id) FROM lead"
                                            " WHERE campaign_id = %s AND state = 'new')", (a,))),
        ("no state change", lambda: db.execute_sql("UPDATE lead SET priority = 5 WHERE campaign_id = %s", (a,))),
        ("move", lambda: db.execute_sql("UPDATE lead SET campaign_id = %s, external_id = 'm' || id"
                                        " WHERE campaign_id = %s AND id %% 5 = 0", (b, a))),
        ("move and change", lambda: db.execute_sql("UPDATE lead SET campaign_id = %s, state = 'held',"
                                                   " external_id = 'h' || id WHERE id %% 7 = 0", (a,))),
        ("upsert", lambda: db.execute_sql(
            "INSERT INTO lead (campaign_id, external_id, phone) VALUES (%s, 'x1', '+79161234567'),"
            " (%s, 'x9', '+79161234570') ON CONFLICT (campaign_id, external_id) DO UPDATE SET state = 'done'",
            (b, b))),
        ("delete", lambda: db.execute_sql("DELETE FROM lead WHERE campaign_id = %s AND state = 'done'", (a,))),
        ("copy", lambda: _copy(db, a)),
    ]
    for name, step in steps:
        with db.atomic():
            step()
        assert kept(db) == real(db), name
        assert listed([a, b]) == real(db), name
    assert len({s for _, s in real(db)}) >= 4  # the steps did reach several states
    rows, = db.execute_sql("SELECT count(*) FROM campaign_lead_count").fetchone()
    assert rows <= 2 * 6  # folded: one row per campaign and state, not one per write


def _copy(db, cid: int) -> None:
    cur = db.connection().cursor()
    cur.copy_expert("COPY lead (campaign_id, external_id, phone, state) FROM STDIN WITH (FORMAT csv)",
                    _lines([f"{cid},c{i},+7901000{i:04d},{'callable' if i % 2 else 'new'}" for i in range(40)]))


def _lines(lines):
    import io
    return io.StringIO("\n".join(lines) + "\n")


def test_a_rolled_back_write_counts_nothing_and_truncate_empties(db, two):
    a, _ = two
    add(db, a, 1, 10)
    with pytest.raises(RuntimeError), db.atomic():
        db.execute_sql("UPDATE lead SET state = 'done' WHERE campaign_id = %s", (a,))
        add(db, a, 100, 5)
        raise RuntimeError("rolled back")
    assert kept(db) == real(db) == {(a, "new"): 10}
    db.execute_sql("TRUNCATE lead CASCADE")
    assert kept(db) == {}


def test_two_writers_of_one_campaign_do_not_wait_for_each_other(db, settings, two):
    """A CRM pull's transaction still open with new leads; a claim of the same campaign moves a lead and commits
    without waiting for it (a shared counter row would make it wait: the lock timeout fails the test)."""
    a, _ = two
    add(db, a, 1, 10)
    pull, claim = psycopg2.connect(**settings.dsn), psycopg2.connect(**settings.dsn)
    try:
        with pull.cursor() as cur:
            cur.execute("INSERT INTO lead (campaign_id, external_id, phone) SELECT %s, 'p' || i,"
                        " '+7902' || lpad(i::text, 7, '0') FROM generate_series(1, 20) AS i", (a,))
        with claim.cursor() as cur:
            cur.execute("SET lock_timeout = '3s'")
            cur.execute("UPDATE lead SET state = 'in_progress' WHERE id = (SELECT min(id) FROM lead WHERE campaign_id = %s)",
                        (a,))
        claim.commit()
        assert kept(db) == real(db) == {(a, "new"): 9, (a, "in_progress"): 1}  # the pull not committed yet
        pull.commit()
        assert kept(db) == real(db) == {(a, "new"): 29, (a, "in_progress"): 1}
    finally:
        pull.close()
        claim.close()


def _attempt(db, cid: int, lead_id: int, outcome: str, ended_at: datetime) -> None:
    db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, phone, outcome, reserved_at, ended_at)"
                   " VALUES (%s, %s, '+79000000001', %s, %s, %s)",
                   (lead_id, cid, outcome, ended_at - timedelta(minutes=1), ended_at))


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Asia/Kolkata"])  # midnight on a UTC hour, and half past one
def test_today_by_outcome_counts_what_ended_since_local_midnight(db, two, zone):
    from zoneinfo import ZoneInfo
    a, b = two
    add(db, a, 1, 1)
    lead_id, = db.execute_sql("SELECT id FROM lead").fetchone()
    now = datetime(2025, 3, 14, 15, 10, tzinfo=timezone.utc)
    midnight = now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    ended = [(midnight - timedelta(minutes=1), "BUSY"),  # yesterday
             (midnight, "ANSWERED"), (midnight + timedelta(minutes=10), "NO_ANSWER"),
             (midnight + timedelta(minutes=40), "NO_ANSWER"), (midnight + timedelta(hours=3), "LOST"),
             (now - timedelta(minutes=5), "ANSWERED")]
    for at, outcome in ended:
        _attempt(db, a, lead_id, outcome, at)
    db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, phone) VALUES (%s, %s, '+79000000001')",
                   (lead_id, a))  # in progress: not an outcome yet
    found = campaigns.counters([a, b], now, zone)
    assert {k: v for k, v in found[a]["today"].items() if v} == {"ANSWERED": 2, "NO_ANSWER": 2, "LOST": 1}
    assert found[a]["today_total"] == 5 and found[a]["in_progress"] == 1
    assert found[b]["today_total"] == 0


@pytest.mark.parametrize("moment, expected", [
    ("2025-03-14T00:00:00+03:00", "2025-03-13T21:00:00+00:00"),   # Moscow's midnight is a whole UTC hour
    ("2025-03-14T00:00:00+05:30", "2025-03-13T19:00:00+00:00"),   # Kolkata's is half past: the next hour
    ("2025-03-14T00:00:00+05:45", "2025-03-13T19:00:00+00:00"),   # Kathmandu
    ("2025-03-14T10:00:00.000001+00:00", "2025-03-14T11:00:00+00:00"),
])
def test_the_first_whole_hour_the_rollup_answers(moment, expected):
    assert campaigns._next_whole_hour(datetime.fromisoformat(moment)) == datetime.fromisoformat(expected)
