"""What an answered call reads from its campaign (dialer/recording_files.py): whether it is recorded, and whether its
operator's leg keeps a snoop — any active recording campaign of theirs (so a non-recording call of an operator who
also works a recording campaign keeps it, and nobody else's bridge has one)."""
from __future__ import annotations

import pytest

from dialer import recording_files as rec
from dialer.models import Campaign, Lead, Operator


def attempt(db, campaign: Campaign, operator: Operator) -> int:
    lead = Lead.create(campaign=campaign.id, external_id=f"P-{campaign.id}-{operator.id}", phone="+79000000002")
    return db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone) VALUES (%s, %s, %s,"
                          " '+79000000002') RETURNING id", (lead.id, campaign.id, operator.id)).fetchone()[0]


@pytest.mark.parametrize("call_in, other, other_active, record, operator_records", [
    ("recording", None, True, True, True),
    ("plain", None, True, False, False),
    ("plain", "recording", True, False, True),  # works a recording campaign too: the leg keeps its snoop
    ("plain", "recording", False, False, False),  # that campaign is switched off (inactive)
    ("recording", "plain", True, True, True),
])
def test_the_plan_says_whether_the_call_and_the_operators_leg_are_recorded(db, call_in, other, other_active, record,
                                                                             operator_records):
    campaigns = {"recording": Campaign.create(name="Записи"), "plain": Campaign.create(name="Без записи")}
    db.execute_sql("UPDATE campaign SET record_calls = (id = %s)", (campaigns["recording"].id,))
    anna = Operator.create(name="Анна", login="anna", sip_password="secret-123")
    for name in filter(None, (call_in, other)):
        db.execute_sql("INSERT INTO operator_campaign (operator_id, campaign_id) VALUES (%s, %s)",
                       (anna.id, campaigns[name].id))
    if other is not None and not other_active:
        db.execute_sql("UPDATE campaign SET active = false WHERE id = %s", (campaigns[other].id,))
    plan = rec.answered_plan(db, attempt(db, campaigns[call_in], anna), "/snd", "beep")
    assert (plan.record, plan.leg_snoop) == (record, operator_records)
    assert rec.operator_records(db, anna.id) == operator_records
