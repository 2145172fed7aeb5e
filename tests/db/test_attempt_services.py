"""Attempt reading: filters, paging, the timeline as ISO strings, events in order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dialer.errors import Invalid, NotFound
from dialer.models import Attempt, AttemptEvent, Lead
from dialer.services import attempts, campaigns, leads, operators

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def history(db):
    """Three finished attempts written the way the engine writes them."""
    a = campaigns.create_campaign("A")["id"]
    b = campaigns.create_campaign("B")["id"]
    leads.import_csv(a, "id,phone\nA1,+79161234567\nA2,+79161234568\n")
    leads.import_csv(b, "id,phone\nB1,+79161234569\n")
    op = operators.create_operator("Anna", "anna")["id"]
    ids = []
    for ext, outcome, operator in (("A1", "ANSWERED", op), ("A2", "BUSY", None), ("B1", "ANSWERED", op)):
        lead = Lead.get(Lead.external_id == ext)
        ids.append(Attempt.insert(lead=lead.id, campaign=lead.campaign_id, operator=operator, phone=lead.phone,
                                  reserved_at=T0, dial_started_at=T0 + timedelta(seconds=1),
                                  ended_at=T0 + timedelta(seconds=9), outcome=outcome, hangup_cause=16,
                                  cause_text="Normal Clearing", sip_code=200, dial_status="ANSWER").execute())
    for kind in ("dial", "answered", "hangup"):
        AttemptEvent.insert(attempt=ids[0], kind=kind, data={"kind": kind}).execute()
    return {"a": a, "b": b, "op": op, "ids": ids}


def test_list_newest_first_with_filters(history):
    ids = history["ids"]
    assert [x["id"] for x in attempts.list_attempts()] == ids[::-1]
    assert [x["id"] for x in attempts.list_attempts(campaign_id=history["a"])] == [ids[1], ids[0]]
    assert [x["id"] for x in attempts.list_attempts(operator_id=history["op"])] == [ids[2], ids[0]]
    assert [x["id"] for x in attempts.list_attempts(outcome="BUSY")] == [ids[1]]
    assert [x["id"] for x in attempts.list_attempts(limit=1, before_id=ids[2])] == [ids[1]]
    assert attempts.list_attempts(campaign_id=999) == []


def test_fields_and_timeline(history):
    row = attempts.list_attempts(outcome="BUSY")[0]
    assert row["external_id"] == "A2" and row["phone"] == "+79161234568"
    assert (row["hangup_cause"], row["cause_text"], row["sip_code"], row["dial_status"]) == \
        (16, "Normal Clearing", 200, "ANSWER")
    assert row["reserved_at"] == T0.isoformat() and row["ended_at"] == (T0 + timedelta(seconds=9)).isoformat()
    assert row["ringing_at"] is None
    assert set(Attempt.TIMELINE) <= set(row)


def test_get_attempt_with_events_in_order(history):
    card = attempts.get_attempt(history["ids"][0])
    assert [e["kind"] for e in card["events"]] == ["dial", "answered", "hangup"]
    assert card["events"][0]["data"] == {"kind": "dial"} and card["events"][0]["at"]
    assert attempts.get_attempt(history["ids"][1])["events"] == []


@pytest.mark.parametrize("attempt_id", [999, 0, 2**70, "1"])
def test_unknown_attempt(db, attempt_id):
    with pytest.raises(NotFound) as e:
        attempts.get_attempt(attempt_id)
    assert e.value.code == "attempt-not-found"


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 1001}, {"outcome": "MAYBE"},
                                    {"campaign_id": "1"}, {"operator_id": -1}, {"before_id": 2**64}])
def test_bad_filters(db, kwargs):
    with pytest.raises(Invalid):
        attempts.list_attempts(**kwargs)
