"""The reports' pure parts from tables: presets and periods (DST included), the filter, the KPI arithmetic over
tables of attempts, formula-safe cells, and the state a saved view may hold."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dialer.errors import Invalid
from dialer.services import report_views, reports
from dialer.services.reports_export import safe_text, shown, typed

T0 = datetime(2026, 10, 2, 10, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("preset, today, first, last", [
    ("today", date(2026, 10, 15), date(2026, 10, 15), date(2026, 10, 15)),
    ("yesterday", date(2026, 10, 1), date(2026, 9, 30), date(2026, 9, 30)),
    ("7d", date(2026, 3, 3), date(2026, 2, 25), date(2026, 3, 3)),
    ("month", date(2026, 10, 15), date(2026, 10, 1), date(2026, 10, 15)),
    ("month", date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 1)),
])
def test_presets(preset, today, first, last):
    assert reports.preset_days(preset, today) == (first, last)


@pytest.mark.parametrize("zone, day, hours, start_utc", [
    ("Europe/Moscow", date(2026, 10, 25), 24, datetime(2026, 10, 24, 21, tzinfo=timezone.utc)),
    ("Europe/Berlin", date(2026, 10, 25), 25, datetime(2026, 10, 24, 22, tzinfo=timezone.utc)),  # clocks go back
    ("Europe/Berlin", date(2026, 3, 29), 23, datetime(2026, 3, 28, 23, tzinfo=timezone.utc)),    # clocks go forward
    ("UTC", date(2026, 3, 29), 24, datetime(2026, 3, 29, tzinfo=timezone.utc)),
])
def test_a_day_is_the_local_day_whatever_its_length(zone, day, hours, start_utc):
    start, end = reports.Filter(day, day, zone).bounds()
    assert start == start_utc and end - start == timedelta(hours=hours)


def test_the_filter_reads_the_query_string_and_defaults_to_today():
    today = date(2026, 10, 15)
    assert reports.parse_filter({}, "Europe/Moscow", today) == reports.Filter(today, today, "Europe/Moscow", "today")
    flt = reports.parse_filter({"from": ["2026-10-01"], "to": ["2026-10-03"], "campaign": ["3", "1", "3"],
                                "outcome": ["LOST", "ANSWERED"]}, "UTC", today)
    assert (flt.preset, flt.start, flt.end, flt.campaigns, flt.outcomes) == (
        "custom", date(2026, 10, 1), date(2026, 10, 3), (1, 3), ("ANSWERED", "LOST"))  # outcomes in SPEC order
    assert reports.parse_filter(dict((k, [v]) for k, v in flt.query()[:3]), "UTC", today).start == flt.start
    # a preset wins over stale dates left in the form
    assert reports.parse_filter({"period": ["yesterday"], "from": ["2020-01-01"], "to": ["2020-01-02"]}, "UTC",
                                today).start == date(2026, 10, 14)


# (outcome, answered after s, bridged after s, ended after s, wrapped up after s) — a table of attempts
ATTEMPTS = [
    ("ANSWERED", 10, 11, 71, 101),    # talk 60, wrap 30
    ("ANSWERED", 5, None, 125, None),  # no bridge recorded: talk from the answer, 120; never wrapped up
    ("LOST", 8, None, 20, None),       # picked up, hung up on hold: no talk
    ("NO_ANSWER", None, None, 30, None),
    ("BUSY", None, None, 2, None),
    ("ERROR", None, None, 1, None),
    ("ERROR", None, None, 1, None),
    ("REJECTED", None, None, 4, 9),    # a wrap-up after a rejected call still counts as wrap-up time: 5
]


def _rows():
    for outcome, answered, bridged, ended, wrapped in ATTEMPTS:
        yield {"outcome": outcome, "answered_at": answered and at(answered), "bridged_at": bridged and at(bridged),
               "ended_at": at(ended), "wrap_up_at": wrapped and at(wrapped)}


def test_kpis_from_a_table_of_attempts():
    k = reports.kpis(reports.tally(_rows()), login_s=2 * 3600)
    assert k["attempts"] == 8
    assert [(o["code"], o["n"], o["pct"]) for o in k["outcomes"]] == [
        ("ANSWERED", 2, 25.0), ("NO_ANSWER", 1, 12.5), ("BUSY", 1, 12.5), ("REJECTED", 1, 12.5), ("LOST", 1, 12.5),
        ("ERROR", 2, 25.0)]
    assert k["contact_pct"] == pytest.approx(100 * 3 / 8)        # answered + lost
    assert k["avg_talk_s"] == pytest.approx((60 + 120) / 2)
    assert k["avg_wrap_s"] == pytest.approx((30 + 5) / 2)
    assert k["login_h"] == 2 and k["calls_per_hour"] == pytest.approx(4)
    assert k["talk_min_per_hour"] == pytest.approx(3 / 2)        # 3 minutes of talk in 2 hours
    assert k["lost_pct"] == pytest.approx(100 / 3)                # 1 lost of 3 who picked up


def test_kpis_of_nothing_are_blank_not_zero_or_an_error():
    k = reports.kpis(reports.Totals(), login_s=0)
    assert k["attempts"] == 0 and all(o["pct"] is None for o in k["outcomes"])
    assert [k[x] for x in ("contact_pct", "avg_talk_s", "avg_wrap_s", "calls_per_hour", "lost_pct")] == [None] * 5
    assert reports.kpis(reports.tally(_rows()))["calls_per_hour"] is None  # no login time known: not computed


@pytest.mark.parametrize("value, safe", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+79001234567", "'+79001234567"), ("-5", "'-5"), ("@cmd", "'@cmd"),
    ("\x01=1+1", "'=1+1"), ("a\x00b\x1bc\x7f", "abc"), ("\t=x", " =x"), ("Клиент = 5", "Клиент = 5"), ("", ""),
])
def test_text_cells_are_formula_safe_and_free_of_control_characters(value, safe):
    assert safe_text(value) == safe


def test_cells_keep_their_type_in_xlsx_and_read_well_as_text():
    when = datetime(2026, 10, 2, 13, 5, 7, 123, tzinfo=timezone(timedelta(hours=3)))
    assert typed(when, "datetime") == datetime(2026, 10, 2, 13, 5, 7)  # local wall time, no zone (Excel has none)
    assert typed(-5, "int") == -5 and typed(12.345, "pct") == 12.35 and typed("=1", "text") == "'=1"
    assert shown(12.345, "pct", decimal=",") == "12,3" and shown(None, "int") == ""
    assert shown("+7900", "text", formula_safe=False) == "+7900"


GOOD_STATE = {"query": "period=7d&campaign=2", "hidden": {"operators": ["n_ERROR"]}, "sort": {"campaigns": "attempts:desc"}}


def test_a_view_state_is_checked_against_the_page_it_is_for():
    state = report_views.check_state("report", GOOD_STATE, "UTC", date(2026, 10, 15))
    assert state == GOOD_STATE
    calls = {"query": "period=today&sort=-talk", "hidden": {"calls": ["phone"]}, "sort": {}}
    assert report_views.check_state("calls", calls, "UTC", date(2026, 10, 15))["hidden"] == {"calls": ["phone"]}


@pytest.mark.parametrize("table, state", [
    ("report", []), ("report", {"query": "period=never"}), ("report", {"query": "from=2026-01-01"}),
    ("report", {"query": "", "hidden": {"calls": ["phone"]}}),            # the report page has no call table
    ("report", {"query": "", "hidden": {"operators": ["password"]}}),
    ("report", {"query": "", "sort": {"operators": "attempts:sideways"}}),
    ("report", {"query": "", "extra": 1}), ("calls", {"query": "sort=price"}),
    ("report", {"query": "campaign=1\x00"}),
])
def test_a_bad_view_state_is_refused(table, state):
    with pytest.raises(Invalid) as e:
        report_views.check_state(table, state, "UTC", date(2026, 10, 15))
    assert e.value.status == 422 and e.value.details.get("message_ru")
