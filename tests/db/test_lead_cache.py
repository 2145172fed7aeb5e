"""The campaigns' columns held in memory for «Подходит сейчас» (rules/lead_cache.py, sql/028_lead_changes.sql):
after every kind of write the count over the copy equals the SQL count, and the copy was brought up to date by
reading only what changed — or read whole when only that is right (a TRUNCATE, another database, a restart)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg2
import pytest

from dialer import pg as cluster
from dialer.models import Campaign, DoNotCall, Lead
from rules import lead_cache, selections
from rules.model import validate

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)  # a Monday
RULES = [
    {"conditions": [[{"field": "amount", "op": "ge", "value": 100}]]},
    {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"}], [{"field": "age", "op": "lt", "value": 30}]],
     "limits": {"max_per_day": 2, "min_pause_minutes": 30}},
    {"conditions": [[{"field": "created_at", "op": "within", "value": [-3, 0]},
                     {"field": "attempts_today", "op": "le", "value": 1}]], "window": {"from": "09:00", "to": "21:00"}},
    {"conditions": [[{"field": "age", "op": "eq", "value": 0}]]},  # a birth date after today: age() counts back
]


def lead(campaign_id: int, i: int, **fields) -> dict:
    return {"campaign": campaign_id, "external_id": str(i), "phone": f"+7900200{i:04d}", "time_zone": "Europe/Moscow",
            "region": "Москва" if i % 2 else "Тверь", "amount": 50 * i, "birth_date": date(1990 + i, 3, 1),
            "state": "new", "next_call_at": NOW - timedelta(hours=1), "created_at": NOW - timedelta(days=i),
            "attempts": 0, "attempts_today": i % 3, "attempts_day": NOW.date(), "last_attempt_at": None, **fields}


@pytest.fixture
def campaigns(db):
    lead_cache.forget()
    a = Campaign.create(name="a").id
    b = Campaign.create(name="b").id
    Lead.insert_many([lead(a, i) for i in range(1, 9)]).execute()
    Lead.insert_many([lead(b, i) for i in range(20, 24)]).execute()
    yield a, b
    lead_cache.forget()


def counted(cid: int) -> list[tuple[int, int]]:
    """Every rule's two counts from the copy, each checked against the SQL statement."""
    out = []
    for raw in RULES:
        got = selections.preview(cid, raw, NOW)
        sql = selections.preview_query(Campaign.get_by_id(cid), validate(raw), NOW).tuples().first()
        assert (got["matches_conditions"], got["matches_now"]) == tuple(sql), raw
        out.append(tuple(sql))
    return out


def copy_of(cid: int):
    """The campaign's copy last counted (after a restart the old database's copy is still held, unused)."""
    return [c.cols for (_, _, campaign, _), c in lead_cache._copies.items() if campaign == cid][-1]


def test_every_kind_of_write_reaches_the_copy_without_reading_it_whole(campaigns):
    a, b = campaigns
    first = counted(a)
    cols = copy_of(a)
    steps = [
        lambda: Lead.insert(lead(a, 9, amount=1000)).execute(),
        lambda: Lead.update(amount=0).where(Lead.campaign == a, Lead.external_id == "3").execute(),
        lambda: Lead.update(state="done").where(Lead.campaign == a, Lead.external_id == "5").execute(),
        lambda: Lead.update(birth_date=date(2010, 1, 1), region="Тверь").where(
            Lead.campaign == a, Lead.external_id == "1").execute(),
        lambda: Lead.update(birth_date=NOW.date() + timedelta(days=100)).where(
            Lead.campaign == a, Lead.external_id == "6").execute(),
        lambda: Lead.update(last_attempt_at=NOW - timedelta(minutes=5)).where(
            Lead.campaign == a, Lead.external_id == "7").execute(),
        lambda: Lead.delete().where(Lead.campaign == a, Lead.external_id == "2").execute(),
        lambda: Lead.update(campaign=b).where(Lead.campaign == a, Lead.external_id == "4").execute(),
        lambda: Lead.update(campaign=a).where(Lead.campaign == b, Lead.external_id == "20").execute(),
        lambda: DoNotCall.insert(phone="+79002000007").execute(),  # lead 7's number: `listed` set by sql/027
        lambda: DoNotCall.delete().where(DoNotCall.phone == "+79002000007").execute(),
    ]
    seen = [first]
    for step in steps:
        step()
        seen.append(counted(a))
        counted(b)
        assert copy_of(a) is cols  # brought up to date, not read again
    assert len(set(map(tuple, seen))) > 5  # the writes changed the counts: the comparison above could fail


def test_a_write_under_way_at_a_count_is_read_by_the_next_one(settings, campaigns):
    """A transaction that wrote before a count and commits after it, while a later one committed before it: the
    next count reads it (what it reads again is fixed by the snapshot's oldest running transaction, not by the
    newest change seen)."""
    a, _ = campaigns
    counted(a)
    early, late = (psycopg2.connect(**settings.dsn) for _ in range(2))
    try:
        with early.cursor() as cur:  # its transaction id comes first
            cur.execute("UPDATE lead SET amount = 5000, region = 'Москва' WHERE campaign_id = %s AND external_id = '2'",
                        (a,))
        with late, late.cursor() as cur:
            cur.execute("UPDATE lead SET amount = 0 WHERE campaign_id = %s AND external_id = '8'", (a,))
        middle = counted(a)
        early.commit()
        after = counted(a)
        assert after != middle  # the early write is counted now (the SQL count says so, and the copy agrees)
    finally:
        early.close()
        late.close()


def test_a_truncate_makes_the_copy_read_whole(db, campaigns):
    a, _ = campaigns
    counted(a)
    cols = copy_of(a)
    db.execute_sql("TRUNCATE lead CASCADE")
    Lead.insert_many([lead(a, i, amount=500) for i in range(1, 4)]).execute()
    assert counted(a)[0] == (3, 3)
    assert copy_of(a) is not cols


def test_after_a_database_restart_the_copy_is_read_whole(settings, db, campaigns):
    a, _ = campaigns
    before = counted(a)
    cols = copy_of(a)
    cluster.restart(settings)
    db.close()
    assert counted(a) == before
    assert copy_of(a) is not cols


def test_rows_written_behind_the_triggers_are_read_once_the_copy_is_stale(settings, campaigns, monkeypatch):
    a, _ = campaigns
    counted(a)
    conn = cluster.superuser_conn(settings, settings.db_name)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")  # as a bulk load may: no trigger fires
            cur.execute("DELETE FROM lead WHERE campaign_id = %s AND external_id = '8'", (a,))
    finally:
        conn.close()
    with pytest.raises(AssertionError):
        counted(a)  # the copy cannot know
    monkeypatch.setattr(lead_cache, "STALE_AFTER", -1.0)
    counted(a)


def test_a_rule_on_a_field_not_held_and_a_campaign_too_big_are_counted_in_sql(db, campaigns, monkeypatch):
    a, _ = campaigns
    on_name = {"conditions": [[{"field": "name", "op": "ne", "value": "Иван"}]]}
    assert lead_cache.counts(Campaign.get_by_id(a), validate(on_name), validate(on_name), None, NOW) is None
    assert selections.preview(a, on_name, NOW)["matches_conditions"] == 8
    monkeypatch.setattr(lead_cache, "MAX_LEADS", 5)
    rule = validate(RULES[0])
    statements = []
    real = db.execute_sql
    monkeypatch.setattr(db, "execute_sql", lambda sql, *a, **kw: statements.append(sql) or real(sql, *a, **kw))
    assert lead_cache.counts(Campaign.get_by_id(a), rule, rule, None, NOW) is None
    assert not [s for s in statements if "FROM lead WHERE" in s]  # its size was read from the counts: no lead
    monkeypatch.undo()
    assert selections.preview(a, RULES[0], NOW)["matches_conditions"] == 7  # 50 × i ≥ 100 for i = 2..8


def test_the_least_recently_counted_campaign_is_dropped_beyond_the_memory_bounds(campaigns, monkeypatch):
    a, b = campaigns
    monkeypatch.setattr(lead_cache, "MAX_HELD", 10)
    counted(a)  # 8 leads
    counted(b)  # 4 more: 12 > 10, a goes
    assert [k[2] for k in lead_cache._copies] == [b]
    counted(a)
    assert [k[2] for k in lead_cache._copies] == [a]
    monkeypatch.setattr(lead_cache, "MAX_HELD", 1000)  # the leads fit: the number of campaigns held decides
    monkeypatch.setattr(lead_cache, "MAX_COPIES", 1)
    counted(b)
    assert [k[2] for k in lead_cache._copies] == [b]

