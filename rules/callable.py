"""Where a lead goes after an attempt or a wrap-up (pure). Which lead is called next is `rules.claim`.

Attempts running out moves a lead to `exhausted` when the attempt ends (the campaign's limit); a
selection's own limits only narrow what it picks.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CALLABLE_STATES = ("new", "callable")


@dataclass(frozen=True)
class LeadChange:
    state: str
    next_call_at: datetime | None = None
    uncount: bool = False  # give the attempt back: it never reached the network
    callback: bool = False  # postponed by the operator: called before the rest of its selection


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


def after_manual_attempt(state_before: str | None, change: LeadChange) -> LeadChange:
    """A manual dial (the operator chose the lead) never puts a lead that was out of the queue (`done`,
    `exhausted`, `held` by the CRM) back in it: not answered, or never placed, the lead keeps its state;
    answered, the wrap-up decides. `state_before`: the lead's state when the dial took it (None: not manual)."""
    if state_before is not None and state_before not in CALLABLE_STATES and change.state != "in_progress":
        return replace(change, state=state_before, next_call_at=None)
    return change


def after_wrap_up(postpone_minutes: int | None, now: datetime, postpone_until: datetime | None = None,
                  do_not_call: bool = False) -> LeadChange:
    """Do-not-call closes the lead whatever else was chosen; a postpone makes it a callback."""
    if do_not_call:
        return LeadChange("done")
    if postpone_until is not None:
        return LeadChange("callable", postpone_until, callback=True)
    if postpone_minutes:
        return LeadChange("callable", now + timedelta(minutes=postpone_minutes), callback=True)
    return LeadChange("done")
