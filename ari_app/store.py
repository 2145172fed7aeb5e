"""The engine's database work — synchronous, run in threads via dialer.db.run; short transactions only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from peewee import fn

from dialer.models import Attempt, AttemptEvent, Campaign, EngineCommand, Lead, Operator
from rules import callable as rules

from . import events as ev


def ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc)


@dataclass(frozen=True)
class ClaimedLead:
    attempt_id: int
    channel: str
    phone: str
    caller_id: str
    ring_timeout_s: int
    auto_ready: bool
    wrap_up_limit_s: int


def claim(db, operator_id: int, server: str, nonce: str, at: float, leg_up_at: float | None) -> ClaimedLead | None:
    """Reserve the next callable lead for a Ready operator and open its attempt, in one transaction."""
    now = ts(at)
    with db.atomic():
        lead = rules.next_lead_query(operator_id, now).first()
        if lead is None:
            return None
        campaign = Campaign.get_by_id(lead.campaign_id)
        Lead.update(state="in_progress", attempts=Lead.attempts + 1, last_attempt_at=now).where(Lead.id == lead.id).execute()
        attempt = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=operator_id, server=server,
                                 phone=lead.phone, reserved_at=now, offered_at=now,
                                 operator_answered_at=ts(leg_up_at) if leg_up_at else now)
        channel = f"at{attempt.id}-{nonce}"
        Attempt.update(client_channel=channel).where(Attempt.id == attempt.id).execute()
        Operator.update(attempt_id=attempt.id).where(Operator.id == operator_id).execute()
        AttemptEvent.create(attempt=attempt.id, at=now, kind="reserved", data={"operator_id": operator_id})
    return ClaimedLead(attempt.id, channel, lead.phone, campaign.caller_id, campaign.ring_timeout_s,
                       campaign.auto_ready, campaign.wrap_up_limit_s)


# one round trip per timeline stamp: the first stamp wins, and the raw fact is kept beside it
_RECORD_SQL = {
    field: (f"WITH stamped AS (UPDATE attempt SET {field} = coalesce({field}, %s) WHERE id = %s) "
            "INSERT INTO attempt_event (attempt_id, at, kind, data) VALUES (%s, %s, %s, %s)")
    for field in Attempt.TIMELINE  # a closed set of column names, never user input
}


def record(db, attempt_id: int, field: str, at: float, data: dict | None = None) -> None:
    """Stamp a timeline field once (the first time wins) and keep the raw fact."""
    when = ts(at)
    db.execute_sql(_RECORD_SQL[field], (when, attempt_id, attempt_id, when, field.removesuffix("_at"),
                                        json.dumps(data or {})))


def end_attempt(db, end: ev.EndAttempt) -> None:
    facts = end.facts
    with db.atomic():
        attempt = Attempt.select().where(Attempt.id == end.attempt_id).for_update().first()
        if attempt is None or attempt.ended_at is not None:
            return
        Attempt.update(ended_at=ts(end.at), outcome=end.outcome, hangup_cause=facts.cause, sip_code=facts.sip_code,
                       dial_status=facts.dial_status, error=end.error, cause_text=end.cause_text
                       ).where(Attempt.id == attempt.id).execute()
        lead = Lead.select().where(Lead.id == attempt.lead_id).for_update().get()
        campaign = Campaign.get_by_id(lead.campaign_id)
        placed = attempt.dial_started_at is not None or facts.answered
        change = rules.after_attempt(lead.attempts, campaign.max_attempts, campaign.retry_delay_s, end.outcome,
                                     ts(end.at), placed)
        _apply(lead.id, change, last_outcome=end.outcome)
        if end.outcome != "ANSWERED":
            Operator.update(attempt_id=None).where(Operator.id == attempt.operator_id,
                                                   Operator.attempt_id == attempt.id).execute()
        AttemptEvent.create(attempt=attempt.id, at=ts(end.at), kind="ended",
                            data={"outcome": end.outcome, "cause": facts.cause, "sip_code": facts.sip_code,
                                  "dial_status": facts.dial_status, "error": end.error})


def finish_wrap_up(db, operator_id: int, cmd: ev.FinishWrapUp) -> None:
    with db.atomic():
        Attempt.update(wrap_up_result=cmd.result, wrap_up_comment=cmd.comment, wrap_up_at=ts(cmd.at)
                       ).where(Attempt.id == cmd.attempt_id, Attempt.wrap_up_at.is_null()).execute()
        attempt = Attempt.get_by_id(cmd.attempt_id)
        _apply(attempt.lead_id, rules.after_wrap_up(cmd.postpone_minutes, ts(cmd.at)))
        Operator.update(attempt_id=None).where(Operator.id == operator_id, Operator.attempt_id == cmd.attempt_id).execute()
        AttemptEvent.create(attempt=cmd.attempt_id, at=ts(cmd.at), kind="wrap_up",
                            data={"result": cmd.result, "postpone_minutes": cmd.postpone_minutes})


def _apply(lead_id: int, change: rules.LeadChange, **extra) -> None:
    values = {"state": change.state, **extra}
    if change.uncount:
        values["attempts"] = Lead.attempts - 1
    if change.next_call_at is not None:
        values["next_call_at"] = change.next_call_at
    Lead.update(values).where(Lead.id == lead_id).execute()


def save_operator(db, operator_id: int, status: str, leg: str | None, bridge: str | None, status_changed: bool) -> None:
    values = {"status": status, "leg_channel": leg, "bridge_id": bridge}
    if status_changed:
        values["status_since"] = fn.clock_timestamp()
    Operator.update(values).where(Operator.id == operator_id).execute()


@dataclass(frozen=True)
class OperatorRecord:
    operator_id: int
    login: str
    server: str
    status: str
    leg: str | None
    attempt: dict | None  # the live or wrapping-up attempt, if any


def load_operators(db) -> list[OperatorRecord]:
    out = []
    for op in Operator.select().order_by(Operator.id):
        attempt = None
        if op.attempt_id:
            row = Attempt.select(Attempt, Campaign.auto_ready, Campaign.wrap_up_limit_s).join(Campaign).where(
                Attempt.id == op.attempt_id).dicts().first()
            attempt = row
        out.append(OperatorRecord(op.id, op.login, op.server, op.status, op.leg_channel, attempt))
    return out


def pending_commands(db, after_id: int) -> list[EngineCommand]:
    """Commands not yet handled; each is marked done only after its operator's actor handled it,
    so a command read just before a crash is read again after the restart."""
    return list(EngineCommand.select().where(EngineCommand.done_at.is_null(), EngineCommand.id > after_id)
                .order_by(EngineCommand.id))


def command_done(db, command_id: int, error: str | None = None) -> None:
    EngineCommand.update(done_at=fn.clock_timestamp(), error=error).where(EngineCommand.id == command_id).execute()
