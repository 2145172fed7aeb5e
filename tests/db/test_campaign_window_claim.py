"""No lead is claimed outside its campaign's calling window: for random moments (clock changes, local midnights),
leads in random zones, the default window or a random one, with no selection or a selection without a window,
the claim takes a lead only where the window is open in the lead's own zone — and one if any such lead is there."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dialer.models import Campaign, ClaimQueue, Lead, Operator, OperatorCampaign, Selection
from rules import window as cw
from rules.claim import next_lead
from tests import rules_strategies as rs

pytestmark = pytest.mark.calling_window  # the product's default window, on a fixed clock

hours = st.sampled_from(["00:00", "03:00", "08:30", "09:00", "12:00", "20:59", "21:00", "23:30"])


@st.composite
def windows(draw):
    if draw(st.booleans()):
        return cw.DEFAULT
    start, end = sorted(draw(st.lists(hours, min_size=2, max_size=2, unique=True)))
    weekend = None if draw(st.booleans()) else {"from": "10:00", "to": "20:00"}
    days = draw(st.sets(st.integers(1, 7), max_size=3))
    return {"from": start, "to": end, "weekend": weekend, "weekend_days": sorted(days)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(now=rs.moments, zones=st.lists(st.sampled_from(rs.ZONES), min_size=1, max_size=6), raw=windows(),
       selection=st.sampled_from([None, "no window"]))
def test_no_lead_is_claimed_outside_the_window(db, now, zones, raw, selection):
    ClaimQueue.delete().execute()
    Selection.delete().execute()
    Lead.delete().execute()
    OperatorCampaign.delete().execute()
    c = Campaign.get_or_create(name="w")[0]
    Campaign.update(calling_window=raw).where(Campaign.id == c.id).execute()
    op = Operator.get_or_none(Operator.login == "w1") or Operator.create(name="w", login="w1", sip_password="secret-123")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    if selection:
        Selection.create(campaign=c.id, name="all", rule={"conditions": []})
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900100{i:04d}", "time_zone": z,
                       "next_call_at": now - timedelta(minutes=1)} for i, z in enumerate(zones)]).execute()
    window = cw.validate(raw)
    open_here = {z for z in zones if cw.is_open(window, z, now)}
    with db.atomic():
        got = next_lead(db, op.id, now)
        db.rollback()
    if got is None:
        assert not open_here
    else:
        assert Lead.get_by_id(got.lead_id).time_zone in open_here


def test_any_hour_is_a_choice_and_the_default_refuses_03_00(db):
    c = Campaign.create(name="ночь")
    op = Operator.create(name="n", login="n1", sip_password="secret-123")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    night = datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)  # 03:00 in Moscow
    Lead.create(campaign=c.id, external_id="1", phone="+79001000001", next_call_at=night - timedelta(hours=1))
    assert Campaign.get_by_id(c.id).calling_window == cw.DEFAULT  # the table's default: nobody chose anything
    with db.atomic():
        assert next_lead(db, op.id, night) is None
    Campaign.update(calling_window=cw.ANY_HOUR).where(Campaign.id == c.id).execute()
    with db.atomic():
        assert next_lead(db, op.id, night) is not None
