"""The hourly rollup (sql/017_report_rollup.sql) against the attempts: random attempts written the way the engine
writes them — opened live and ended later, re-classified, moved to another hour, wrapped up late and wrapped up
again, their selection deleted, removed — and every slice of the report from the rollup compared, exactly (counts
and numeric second sums), with a straightforward SQL count over `attempt` written here, for random filters in zones
with a DST change, with a half-hour offset, and with a half-hour DST change."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from psycopg2.extras import execute_values

from dialer.models import Campaign, Lead, Operator, Selection
from dialer.outcomes import ORDER
from dialer.services import reports

CODES = [o.value for o in ORDER]
UTC = timezone.utc
T0 = datetime(2026, 9, 29, tzinfo=UTC)   # attempts end from here …
SPAN_S = 34 * 86400                      # … to 2026-11-02: Lord Howe's DST (Oct 4) and Europe's (Oct 25) inside
ZONES = ["Europe/Berlin", "Europe/Moscow", "Asia/Kolkata", "Australia/Lord_Howe", "America/New_York"]

REFERENCE = """
SELECT (ended_at AT TIME ZONE %(zone)s)::date, extract(hour FROM ended_at AT TIME ZONE %(zone)s)::int,
       campaign_id, operator_id, outcome, count(*),
       count(CASE WHEN outcome = 'ANSWERED' THEN coalesce(bridged_at, answered_at) END),
       coalesce(sum(CASE WHEN outcome = 'ANSWERED' THEN extract(epoch FROM ended_at - coalesce(bridged_at, answered_at)) END), 0),
       count(wrap_up_at), coalesce(sum(extract(epoch FROM wrap_up_at - ended_at)), 0)
  FROM attempt
 WHERE ended_at >= %(start)s AND ended_at < %(end)s
   AND (%(campaigns)s::bigint[] IS NULL OR campaign_id = ANY(%(campaigns)s))
   AND (%(operators)s::bigint[] IS NULL OR operator_id = ANY(%(operators)s))
   AND (%(selections)s::bigint[] IS NULL OR selection_id = ANY(%(selections)s))
   AND (%(outcomes)s::text[] IS NULL OR outcome = ANY(%(outcomes)s))
 GROUP BY 1, 2, 3, 4, 5"""


def reference(db, flt: reports.Filter) -> dict:
    """The figures of every slice counted straight from `attempt`, in the shape `reports.grouped` returns."""
    start, end = flt.bounds()
    rows = db.execute_sql(REFERENCE, {"zone": flt.zone, "start": start, "end": end,
                                      "campaigns": list(flt.campaigns) or None, "operators": list(flt.operators) or None,
                                      "selections": list(flt.selections) or None,
                                      "outcomes": list(flt.outcomes) or None}).fetchall()
    acc: dict = {name: defaultdict(lambda: [[0] * 6, 0, Decimal(0), 0, Decimal(0)]) for name in reports.GROUPS}
    for day, hour, campaign_id, operator_id, outcome, n, talk_n, talk_s, wrap_n, wrap_s in rows:
        for name, key in (("total", None), ("day", day), ("hour", hour), ("campaign", campaign_id),
                          ("operator", operator_id)):
            f = acc[name][key]
            f[0][CODES.index(outcome)] += n
            f[1] += talk_n
            f[2] += talk_s
            f[3] += wrap_n
            f[4] += wrap_s
    return {name: {k: (tuple(v[0]), v[1], v[2], v[3], v[4]) for k, v in groups.items()} for name, groups in acc.items()}


def _stamps(rng, ended: datetime, outcome: str, i: int) -> dict:
    answered = bridged = wrap = None
    if outcome in ("ANSWERED", "LOST"):
        answered = ended - timedelta(seconds=rng.randint(5, 400), microseconds=rng.randint(0, 999999))
    if outcome == "ANSWERED" and i % 6:
        bridged = answered + timedelta(microseconds=rng.randint(0, 2_000_000))
    if outcome == "ANSWERED" and i % 4 or outcome != "ANSWERED" and i % 11 == 0:  # wrap-ups of other outcomes too
        wrap = ended + timedelta(seconds=rng.randint(1, 90), microseconds=rng.randint(0, 999999))
    return {"answered_at": answered, "bridged_at": bridged, "wrap_up_at": wrap}


def _ended(rng) -> datetime:
    # some exactly on an hour (the boundary belongs to the hour it starts), the rest anywhere
    t = T0 + timedelta(seconds=rng.uniform(0, SPAN_S))
    return t.replace(minute=0, second=0, microsecond=0) if rng.random() < 0.05 else t


@pytest.fixture
def world(db):
    rng = random.Random(1717)
    camps = [Campaign.create(name=n).id for n in ("Подтверждение заказов", "Допродажи", "Возвраты")]
    ops = [Operator.create(name=f"Оператор {i}", login=f"rr{i}", sip_password="secret-123").id for i in range(5)]
    sels = {c: [Selection.create(campaign=c, name=f"Отбор {c}-{k}", rule={"all": []}).id for k in range(2)]
            for c in camps}
    leads = [(c, Lead.create(campaign=c, external_id=f"{c}-{i}", phone=f"+7901{c:03d}{i:04d}").id)
             for c in camps for i in range(40)]
    return {"rng": rng, "campaigns": camps, "operators": ops, "selections": sels, "leads": leads}


def _write(db, w, n: int) -> None:
    """n attempts: a third inserted already ended, the rest opened live and ended by an update (one live attempt
    per lead and per operator at a time, as the unique indexes demand); then later changes to some of them."""
    rng = w["rng"]
    rows = []
    for i in range(n // 3):
        campaign_id, lead_id = rng.choice(w["leads"])
        outcome = rng.choices(CODES, weights=[40, 25, 10, 8, 6, 11])[0]
        ended = _ended(rng)
        rows.append((lead_id, campaign_id, rng.choice(w["operators"] + [None]),
                     rng.choice(w["selections"][campaign_id] + [None]), "+79000000001", ended - timedelta(minutes=1),
                     ended, outcome, *_stamps(rng, ended, outcome, i).values()))
    with db.connection_context():
        execute_values(db.cursor(), "INSERT INTO attempt (lead_id, campaign_id, operator_id, selection_id, phone,"
                       " reserved_at, ended_at, outcome, answered_at, bridged_at, wrap_up_at) VALUES %s", rows)
    for i in range(n - n // 3):  # as the engine: open, stamp, end, wrap up — separate statements
        campaign_id, lead_id = rng.choice(w["leads"])
        op = rng.choice(w["operators"])
        (aid,) = db.execute_sql(
            "INSERT INTO attempt (lead_id, campaign_id, operator_id, selection_id, phone) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id", (lead_id, campaign_id, op, rng.choice(w["selections"][campaign_id]), "+79000000002")
        ).fetchone()
        outcome = rng.choices(CODES, weights=[40, 25, 10, 8, 6, 11])[0]
        ended = _ended(rng)
        st = _stamps(rng, ended, outcome, i)
        db.execute_sql("UPDATE attempt SET answered_at = %s, bridged_at = %s WHERE id = %s",
                       (st["answered_at"], st["bridged_at"], aid))
        db.execute_sql("UPDATE attempt SET ended_at = %s, outcome = %s WHERE id = %s", (ended, outcome, aid))
        if st["wrap_up_at"]:
            db.execute_sql("UPDATE attempt SET wrap_up_at = %s, wrap_up_result = 'ok' WHERE id = %s",
                           (st["wrap_up_at"], aid))


def _change(db, w) -> None:
    """What happens to attempts after they were first counted."""
    rng = w["rng"]
    ids = [r[0] for r in db.execute_sql("SELECT id FROM attempt ORDER BY id").fetchall()]
    for aid in rng.sample(ids, len(ids) // 10):  # re-classified (reconciliation), sometimes into another hour/day
        outcome = rng.choice(CODES)
        db.execute_sql("UPDATE attempt SET outcome = %s, ended_at = ended_at + %s * interval '1 minute' WHERE id = %s",
                       (outcome, rng.choice([0, 0, 7, -45, 600, 1440]), aid))
    for aid in rng.sample(ids, len(ids) // 10):  # wrapped up late, or the wrap-up changed
        db.execute_sql("UPDATE attempt SET wrap_up_at = ended_at + %s * interval '1 second' WHERE id = %s",
                       (rng.uniform(1, 500), aid))
    for aid in rng.sample(ids, len(ids) // 20):  # the bridge stamp known only later
        db.execute_sql("UPDATE attempt SET bridged_at = coalesce(answered_at, ended_at - interval '30 s')"
                       " + interval '1.5 s' WHERE id = %s", (aid,))
    for aid in rng.sample(ids, len(ids) // 20):  # moved to another operator (or none)
        db.execute_sql("UPDATE attempt SET operator_id = %s WHERE id = %s", (rng.choice(w["operators"] + [None]), aid))
    db.execute_sql("UPDATE attempt SET wrap_up_result = 'again' WHERE id = %s", (ids[0],))  # not a figure: no change
    gone = rng.sample(ids, len(ids) // 25)
    db.execute_sql("DELETE FROM attempt WHERE id = ANY(%s)", (gone,))
    Selection.delete().where(Selection.id == w["selections"][w["campaigns"][0]][0]).execute()  # selection_id → NULL


def _random_filter(rng, w, zone: str) -> reports.Filter:
    start = date(2026, 9, 28) + timedelta(days=rng.randint(0, 30))
    flt = reports.Filter(start, start + timedelta(days=rng.randint(0, 8)), zone)
    if rng.random() < 0.4:
        flt = replace(flt, campaigns=tuple(sorted(rng.sample(w["campaigns"], rng.randint(1, 2)))))
    if rng.random() < 0.4:
        flt = replace(flt, operators=tuple(sorted(rng.sample(w["operators"], rng.randint(1, 3)))))
    if rng.random() < 0.3:
        all_sels = [s for v in w["selections"].values() for s in v]
        flt = replace(flt, selections=tuple(sorted(rng.sample(all_sels, rng.randint(1, 3)))))
    if rng.random() < 0.4:
        flt = replace(flt, outcomes=tuple(c for c in CODES if c in rng.sample(CODES, rng.randint(1, 3))))
    return flt


def test_rollup_figures_equal_the_attempts_for_random_filters_and_zones(db, world):
    _write(db, world, 600)
    _change(db, world)
    rng = random.Random(17)
    checked = 0
    for zone in ZONES:
        whole = reports.Filter(date(2026, 9, 29), date(2026, 11, 1), zone)
        assert reports.grouped(whole) == reference(db, whole), zone
        for _ in range(8):
            flt = _random_filter(rng, world, zone)
            want = reference(db, flt)
            assert reports.grouped(flt) == want, flt
            checked += bool(want["total"])
    assert checked > 20  # most random filters keep some calls, so the comparison says something


def test_the_days_around_dst_changes_and_half_hour_zones_are_exact(db, world):
    _write(db, world, 600)
    _change(db, world)
    for zone, day in (("Europe/Berlin", date(2026, 10, 25)), ("Australia/Lord_Howe", date(2026, 10, 4)),
                      ("Asia/Kolkata", date(2026, 10, 12)), ("America/New_York", date(2026, 11, 1))):
        for first, last in ((day, day), (day - timedelta(days=1), day + timedelta(days=1))):
            flt = reports.Filter(first, last, zone)
            got = reports.grouped(flt)
            assert got == reference(db, flt), (zone, first, last)
            assert got["total"], (zone, first)


def test_the_incrementally_kept_rollup_equals_a_rebuild(db, world):
    _write(db, world, 450)
    _change(db, world)
    cols = ("hour, campaign_id, operator_id, selection_id, n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error,"
            " talk_n, talk_us, wrap_n_answered, wrap_us_answered, wrap_n_lost, wrap_us_lost, wrap_n_error, wrap_us_error")
    live = "SELECT " + cols + " FROM report_rollup WHERE (n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error)" \
                              " <> (0, 0, 0, 0, 0, 0) ORDER BY 1, 2, 3, 4"
    kept = db.execute_sql(live).fetchall()
    assert len(kept) > 100
    db.execute_sql("SELECT report_rollup_rebuild()")
    assert db.execute_sql(live).fetchall() == kept


def test_bulk_updates_of_attempts_keep_the_rollup_and_pair_rows_by_hash(db, world):
    """One statement over thousands of attempts (as a reconciliation or a correction may write): the rollup still
    equals a rebuild, and the triggers pair old and new rows by hash (sql/029: nested, a 5,000-row statement
    took seconds)."""
    db.execute_sql("""INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, outcome, reserved_at, ended_at,
                                          answered_at, wrap_up_at)
                      SELECT l.id, l.campaign_id, (%s::bigint[])[1 + i %% 5], l.phone,
                             (ARRAY['ANSWERED','NO_ANSWER','BUSY','REJECTED','LOST','ERROR'])[1 + i %% 6],
                             t - interval '2 minutes', t, t - interval '1 minute', t + (i %% 40) * interval '1 second'
                        FROM generate_series(1, 3000) AS i
                        JOIN lead l ON l.id = (SELECT min(id) FROM lead) + i %% 120
                       CROSS JOIN LATERAL (SELECT timestamptz '2026-10-05 06:00+00' + i * interval '37 seconds') AS x (t)""",
                   (world["operators"],))
    db.execute_sql("UPDATE attempt SET wrap_up_result = coalesce(wrap_up_result, '') || '.'")  # nothing counted
    db.execute_sql("UPDATE attempt SET outcome = 'BUSY' WHERE mod(id, 7) = 0 AND outcome IS NOT NULL")
    live = "SELECT * FROM report_rollup WHERE (n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error)" \
           " <> (0, 0, 0, 0, 0, 0) ORDER BY hour, campaign_id, operator_id, selection_id"
    kept = [r[1:] for r in db.execute_sql(live).fetchall()]
    assert len(kept) > 10
    db.execute_sql("SELECT report_rollup_rebuild()")
    assert [r[1:] for r in db.execute_sql(live).fetchall()] == kept
    settings = dict(db.execute_sql("SELECT proname, proconfig FROM pg_proc WHERE proname IN"
                                   " ('report_rollup_changed', 'attempt_outcome_counted')").fetchall())
    assert settings == {"report_rollup_changed": ["enable_nestloop=off"],
                        "attempt_outcome_counted": ["enable_nestloop=off"]}


def test_reports_read_the_rollup_for_whole_hours(db, world):
    """A report over whole hours must not read the attempts: a figure planted in the rollup alone shows."""
    _write(db, world, 60)
    flt = reports.Filter(date(2026, 10, 5), date(2026, 10, 5), "Europe/Moscow")
    before = reports.grouped(flt)["total"].get(None, ((0,) * 6,))[0]
    db.execute_sql("INSERT INTO report_rollup (hour, campaign_id, operator_id, selection_id, n_busy)"
                   " VALUES ('2026-10-05 09:00+00', %s, NULL, NULL, 1000)", (world["campaigns"][0],))
    after = reports.grouped(flt)["total"][None][0]
    assert after[CODES.index("BUSY")] == before[CODES.index("BUSY")] + 1000
    assert reports.grouped(flt, rollup=False)["total"].get(None, ((0,) * 6,))[0] == before


def test_truncating_the_attempts_empties_the_rollup(db, world):
    _write(db, world, 30)
    assert db.execute_sql("SELECT count(*) FROM report_rollup").fetchone()[0] > 0
    db.execute_sql("TRUNCATE attempt CASCADE")
    assert db.execute_sql("SELECT count(*) FROM report_rollup").fetchone()[0] == 0


M = lambda d, h, mi=0: datetime(2026, 10, d, h, mi, tzinfo=UTC)  # noqa: E731


@pytest.mark.parametrize("zone, first, last, rolled, raw", [
    # Moscow (+03, no DST): a day is 24 whole hours, nothing raw
    ("Europe/Moscow", date(2026, 10, 5), date(2026, 10, 5), [(M(4, 21), M(5, 21))], []),
    # Berlin's 25-hour day: still whole hours (the change is on the hour)
    ("Europe/Berlin", date(2026, 10, 25), date(2026, 10, 25), [(M(24, 22), M(25, 23))], []),
    # Kolkata (+05:30): no UTC hour lies within one local hour
    ("Asia/Kolkata", date(2026, 10, 5), date(2026, 10, 5), [], [(M(4, 18, 30), M(5, 18, 30))]),
    # Lord Howe goes from +10:30 to +11:00 at 02:00 local on Oct 4 (15:30 UTC): the hour holding
    # the change and those before it are read raw, the whole hours after it from the rollup
    ("Australia/Lord_Howe", date(2026, 10, 4), date(2026, 10, 4),
     [(M(3, 16), M(4, 13))], [(M(3, 13, 30), M(3, 16))]),
])
def test_which_hours_come_from_the_rollup(zone, first, last, rolled, raw):
    start, end = reports.Filter(first, last, zone).bounds()
    assert reports.split_hours(start, end, zone) == (rolled, raw)


def test_a_report_of_some_parts_equals_those_parts_of_the_whole(db, world):
    from dialer.access import SYSTEM
    from dialer.errors import Invalid

    _write(db, world, 90)
    flt = reports.Filter(date(2026, 9, 29), date(2026, 11, 1), "Europe/Berlin", outcomes=("ANSWERED", "LOST"))
    whole = reports.report(SYSTEM, flt)
    for part in reports.PARTS:
        got = reports.report(SYSTEM, flt, parts=(part,))
        assert got[part] == whole[part] and got["totals"]["attempts"] == whole["totals"]["attempts"], part
        assert set(got) == {"period", part, "totals"}
    with pytest.raises(Invalid):
        reports.report(SYSTEM, flt, parts=("everything",))


def test_the_api_answers_the_parts_asked_for(client, db, world):
    _write(db, world, 30)
    r = client.get("/api/reports/summary?from=2026-09-29&to=2026-11-01&part=kpis&part=by_hour")
    assert r.status_code == 200 and set(r.json()) == {"period", "kpis", "by_hour", "totals"}
    (inside,) = db.execute_sql("SELECT count(*) FROM attempt WHERE ended_at >= '2026-09-28 21:00+00'"
                               " AND ended_at < '2026-11-01 21:00+00'").fetchone()  # the days in Moscow
    assert r.json()["kpis"]["attempts"] == inside
    bad = client.get("/api/reports/summary?part=all")
    assert bad.status_code == 422 and bad.json()["field"] == "part"
