"""The simple callability rule of the foundation — one replaceable place.

A lead is callable when it is not finished, its next-call time has passed, and its campaign is
active and in the operator's pool. Attempts running out moves a lead to `exhausted` when the
attempt ends, so the claim itself never needs the campaign's limits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.models import Campaign, Lead, OperatorCampaign

CALLABLE_STATES = ("new", "callable")


def operator_campaigns(operator_id: int):
    return (OperatorCampaign.select(OperatorCampaign.campaign)
            .join(Campaign).where(OperatorCampaign.operator == operator_id, Campaign.active == True))  # noqa: E712


def next_lead_query(operator_id: int, now: datetime):
    """The next callable lead for this operator, locked for this transaction; others skip it."""
    return (Lead.select()
            .where(Lead.campaign.in_(operator_campaigns(operator_id)),
                   Lead.state.in_(CALLABLE_STATES),
                   Lead.next_call_at <= now)
            .order_by(Lead.next_call_at, Lead.id)
            .limit(1)
            .for_update("FOR UPDATE SKIP LOCKED"))


@dataclass(frozen=True)
class LeadChange:
    state: str
    next_call_at: datetime | None = None
    uncount: bool = False  # give the attempt back: it never reached the network


def after_attempt(attempts: int, max_attempts: int, retry_delay_s: int, outcome: str, now: datetime,
                  placed: bool = True) -> LeadChange:
    """Where the lead goes once an attempt has ended (an answered call waits for the wrap-up).

    A call that was never placed (Asterisk refused the originate) is not the client's attempt:
    the lead is callable again at once and the attempt is not counted against its limit."""
    if outcome == "ANSWERED":
        return LeadChange("in_progress")
    if not placed:
        return LeadChange("callable", now, uncount=True)
    if attempts >= max_attempts:
        return LeadChange("exhausted")
    return LeadChange("callable", now + timedelta(seconds=retry_delay_s))


def after_wrap_up(postpone_minutes: int | None, now: datetime) -> LeadChange:
    if postpone_minutes:
        return LeadChange("callable", now + timedelta(minutes=postpone_minutes))
    return LeadChange("done")
