"""Every figure of «Отчёты» against a recount: a generated stretch of attempts with known facts, the report's SQL
(one grouped scan) compared with a straightforward Python count over the same attempts, for each filter and in two
time zones — Europe/Berlin across its autumn DST change (a 25-hour day) and Europe/Moscow (no DST)."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from psycopg2.extras import execute_values

from dialer.access import SYSTEM
from dialer.errors import Invalid
from dialer.models import Campaign, Lead, Operator, Selection
from dialer.outcomes import ORDER
from dialer.services import report_calls, reports

CODES = [o.value for o in ORDER]
UTC = timezone.utc
# 2026-10-25 03:00 CEST → 02:00 CET: that Berlin day has 25 hours
FIRST, LAST = date(2026, 10, 10), date(2026, 11, 8)


def _attempts(rng, leads, ops, sels, n):
    """Attempts ending anywhere from a day before FIRST to a day after LAST (so the edges are tested)."""
    span = (datetime(2026, 11, 10, tzinfo=UTC) - datetime(2026, 10, 8, tzinfo=UTC)).total_seconds()
    out = []
    for i in range(n):
        campaign_id, lead_id = rng.choice(leads)
        ended = datetime(2026, 10, 8, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, span))
        outcome = rng.choices(CODES, weights=[40, 25, 10, 8, 5, 12])[0]
        op = rng.choice(ops + [None]) if outcome != "ANSWERED" else rng.choice(ops)
        a = {"lead_id": lead_id, "campaign_id": campaign_id, "operator_id": op,
             "selection_id": rng.choice(sels.get(campaign_id, [None]) + [None]), "phone": "+79000000001",
             "reserved_at": ended - timedelta(seconds=60), "ended_at": ended, "outcome": outcome,
             "answered_at": None, "bridged_at": None, "wrap_up_at": None}
        if outcome in ("ANSWERED", "LOST"):
            a["answered_at"] = ended - timedelta(seconds=rng.uniform(5, 400))
        if outcome == "ANSWERED":
            a["bridged_at"] = a["answered_at"] + timedelta(seconds=rng.uniform(0, 2)) if i % 7 else None
            if i % 5:
                a["wrap_up_at"] = ended + timedelta(seconds=rng.uniform(1, 90))
        out.append(a)
    return out


@pytest.fixture
def month(db):
    rng = random.Random(17)
    camps = [Campaign.create(name=n) for n in ("Подтверждение заказов", "Допродажи", "Возвраты")]
    ops = [Operator.create(name=f"Оператор {i}", login=f"rep{i}", sip_password="secret-123").id for i in range(4)]
    sels = {camps[0].id: [Selection.create(campaign=camps[0].id, name="Новые", rule={"all": []}).id,
                          Selection.create(campaign=camps[0].id, name="Повторные", rule={"all": []}).id]}
    leads = []
    for c in camps:
        for i in range(5):
            leads.append((c.id, Lead.create(campaign=c.id, external_id=f"{c.id}-{i}", phone=f"+7900000{c.id}{i:03d}").id))
    attempts = _attempts(rng, leads, ops, sels, 3000)
    keys = list(attempts[0])
    with db.connection_context():
        execute_values(db.cursor(), f"INSERT INTO attempt ({', '.join(keys)}) VALUES %s",
                       [tuple(a[k] for k in keys) for a in attempts])
    return {"attempts": attempts, "campaigns": [c.id for c in camps], "operators": ops, "selections": sels}


def _in(flt, a):
    start, end = flt.bounds()
    return (start <= a["ended_at"] < end and (not flt.campaigns or a["campaign_id"] in flt.campaigns)
            and (not flt.operators or a["operator_id"] in flt.operators)
            and (not flt.selections or a["selection_id"] in flt.selections)
            and (not flt.outcomes or a["outcome"] in flt.outcomes))


def _close(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)


def _same_kpis(got, want):
    assert got["attempts"] == want["attempts"]
    assert [o["n"] for o in got["outcomes"]] == [o["n"] for o in want["outcomes"]]
    for key in ("contact_pct", "avg_talk_s", "avg_wrap_s", "lost_pct"):
        assert _close(got[key], want[key]), key


def _check(flt, attempts):
    got = reports.report(SYSTEM, flt)
    mine = [a for a in attempts if _in(flt, a)]
    zone = ZoneInfo(flt.zone)
    _same_kpis(got["kpis"], reports.kpis(reports.tally(mine)))
    by_day = Counter((a["ended_at"].astimezone(zone).date().isoformat(), a["outcome"]) for a in mine)
    assert {(d["key"], o): n for d in got["by_day"] for o, n in d["counts"].items() if n} == dict(by_day)
    assert [d["key"] for d in got["by_day"]] == [d.isoformat() for d in flt.days()]
    by_hour = Counter((a["ended_at"].astimezone(zone).hour, a["outcome"]) for a in mine)
    assert {(h["key"], o): n for h in got["by_hour"] for o, n in h["counts"].items() if n} == dict(by_hour)
    for slice_key, rows in (("campaign_id", got["campaigns"]), ("operator_id", got["operators"])):
        for r in rows:
            _same_kpis(r, reports.kpis(reports.tally(a for a in mine if a[slice_key] == r["id"])))
        assert sum(r["attempts"] for r in rows) == len(mine)
    return got, mine


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Europe/Moscow"])
def test_every_figure_equals_a_recount_in_both_zones(month, zone):
    flt = reports.Filter(FIRST, LAST, zone)
    got, mine = _check(flt, month["attempts"])
    assert 2000 < len(mine) < 3000  # the edges cut some off: the bounds are tested, not only the middle
    if zone == "Europe/Berlin":  # the 25-hour day holds one hour more of calls than its neighbours would
        start, end = reports.Filter(date(2026, 10, 25), date(2026, 10, 25), zone).bounds()
        assert end - start == timedelta(hours=25)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Europe/Moscow"])
def test_each_filter_and_their_combination_equal_a_recount(month, zone):
    c0, c1, _ = month["campaigns"]
    o0, o1, *_ = month["operators"]
    s0, _ = month["selections"][c0]
    base = reports.Filter(date(2026, 10, 20), date(2026, 10, 31), zone)
    from dataclasses import replace
    for flt in (replace(base, campaigns=(c0,)), replace(base, campaigns=(c0, c1)), replace(base, operators=(o1,)),
                replace(base, selections=(s0,)), replace(base, outcomes=("LOST", "BUSY")),
                replace(base, campaigns=(c0,), operators=(o0, o1), outcomes=("ANSWERED",))):
        got, mine = _check(flt, month["attempts"])
        assert mine, flt  # each filter keeps some calls, so the comparison says something


def test_the_call_list_and_its_stream_hold_exactly_the_filtered_calls(month):
    flt = reports.Filter(date(2026, 10, 24), date(2026, 10, 26), "Europe/Berlin", campaigns=(month["campaigns"][0],))
    mine = [a for a in month["attempts"] if _in(flt, a)]
    page = report_calls.calls(SYSTEM, flt)
    assert page["total"] == len(mine) and len(page["rows"]) == min(len(mine), report_calls.PAGE)
    ends = [r["ended_at"] for r in page["rows"]]
    assert ends == sorted(ends, reverse=True)
    streamed = list(report_calls.stream(flt, "ended"))
    assert len(streamed) == len(mine)
    assert Counter(r["outcome"] for r in streamed) == Counter(a["outcome"] for a in mine)
    assert streamed[0]["campaign"] == "Подтверждение заказов"


def test_login_hours_come_from_the_status_log_clipped_to_the_period(db):
    a, b = (Operator.create(name=n, login=l, sip_password="secret-123") for n, l in (("Анна", "la"), ("Борис", "lb")))
    db.execute_sql("DELETE FROM operator_status_log")
    z = ZoneInfo("Europe/Moscow")
    at = lambda d, h, m=0: datetime(2026, 10, d, h, m, tzinfo=z)  # noqa: E731
    log = [(a.id, "ready", at(1, 20)),      # began the day before: counted from midnight
           (a.id, "paused", at(2, 1)),      # a pause is signed in
           (a.id, "offline", at(2, 3)),     # 3 h on the 2nd
           (a.id, "ready", at(2, 22)),      # until the period's end at midnight: 2 h
           (b.id, "offline", at(1, 9)),
           (b.id, "lunch", at(2, 10)), (b.id, "offline", at(2, 10, 30))]  # 0.5 h
    with db.connection_context():
        execute_values(db.cursor(), "INSERT INTO operator_status_log (operator_id, status, at) VALUES %s", log)
    flt = reports.Filter(date(2026, 10, 2), date(2026, 10, 2), "Europe/Moscow")
    assert reports.login_seconds(flt, None, now=at(5, 0)) == {a.id: 5 * 3600.0, b.id: 1800.0}
    assert reports.login_seconds(flt, [b.id], now=at(5, 0)) == {b.id: 1800.0}
    # today so far: the open status lasts until now, not until midnight
    assert reports.login_seconds(flt, [a.id], now=at(2, 23)) == {a.id: 4 * 3600.0}
    got = reports.report(SYSTEM, flt, now=at(5, 0))
    assert [(r["name"], r["login_h"], r["attempts"]) for r in got["operators"]] == [("Анна", 5.0, 0), ("Борис", 0.5, 0)]


def test_a_status_change_is_logged_by_the_trigger(db):
    o = Operator.create(name="Вера", login="lv", sip_password="secret-123")
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = '2026-10-02 10:00+03' WHERE id = %s", (o.id,))
    db.execute_sql("UPDATE operator SET name = 'Вера П.' WHERE id = %s", (o.id,))  # not a status change
    rows = db.execute_sql("SELECT status, at FROM operator_status_log WHERE operator_id = %s ORDER BY id",
                          (o.id,)).fetchall()
    assert [r[0] for r in rows] == ["offline", "ready"]
    assert rows[1][1] == datetime(2026, 10, 2, 7, tzinfo=UTC)


@pytest.mark.parametrize("params, field", [
    ({"period": ["week"]}, "period"), ({"period": ["custom"], "from": ["2026-10-02"]}, "from"),
    ({"from": ["2026-10-05"], "to": ["2026-10-01"]}, "to"), ({"from": ["2025-01-01"], "to": ["2026-10-01"]}, "to"),
    ({"from": ["02.10.2026"], "to": ["2026-10-03"]}, "from"), ({"campaign": ["x"]}, "campaign"),
    ({"outcome": ["WON"]}, "outcome"), ({"operator": ["0"]}, "operator")])
def test_bad_filters_are_refused_with_a_message_in_both_languages(params, field):
    with pytest.raises(Invalid) as e:
        reports.parse_filter(params, "Europe/Moscow", date(2026, 10, 15))
    assert e.value.status == 422 and e.value.details["field"] == field
    assert e.value.message and e.value.details["message_ru"] != e.value.message


def test_a_filter_naming_a_campaign_that_does_not_exist_is_refused(month):
    flt = reports.Filter(FIRST, LAST, "Europe/Moscow", campaigns=(month["campaigns"][0], 999999))
    with pytest.raises(Invalid, match="999999"):
        reports.report(SYSTEM, flt)
