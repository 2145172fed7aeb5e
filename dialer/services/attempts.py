"""Attempt reading for the call card and lists: what happened, when, and why."""
from __future__ import annotations

from ..errors import NotFound
from ..models import Attempt, AttemptEvent, Lead
from ..outcomes import Outcome
from . import fields as f

OUTCOMES = tuple(o.value for o in Outcome)


def _as_dict(a: Attempt) -> dict:
    d = {"id": a.id, "lead_id": a.lead_id, "external_id": a.lead.external_id, "phone": a.phone,
         "campaign_id": a.campaign_id, "operator_id": a.operator_id, "server": a.server,
         "outcome": a.outcome, "hangup_cause": a.hangup_cause, "cause_text": a.cause_text,
         "sip_code": a.sip_code, "dial_status": a.dial_status, "error": a.error,
         "wrap_up_result": a.wrap_up_result, "wrap_up_comment": a.wrap_up_comment}
    d.update({name: f.iso(getattr(a, name)) for name in Attempt.TIMELINE})
    return d


def _filter_id(field: str, value):
    # a filter on an id that cannot exist matches nothing; the type is still checked
    return None if value is None else f.integer(field, value, 1, f.MAX_ID)


def list_attempts(campaign_id=None, operator_id=None, outcome=None, limit=100, before_id=None) -> list[dict]:
    """Newest first; `before_id` pages backwards (pass the smallest id of the previous page)."""
    limit = f.limit(limit)
    query = Attempt.select(Attempt, Lead).join(Lead)
    conditions = {Attempt.campaign: _filter_id("campaign_id", campaign_id),
                  Attempt.operator: _filter_id("operator_id", operator_id)}
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if outcome is not None:
        query = query.where(Attempt.outcome == f.choice("outcome", outcome, OUTCOMES))
    if before_id is not None:
        query = query.where(Attempt.id < f.integer("before_id", before_id, 1, f.MAX_ID))
    return [_as_dict(a) for a in query.order_by(Attempt.id.desc()).limit(limit)]


def get_attempt(attempt_id) -> dict:
    missing = NotFound("attempt-not-found", f"attempt {attempt_id} does not exist", attempt_id=attempt_id,
                       message_ru=f"попытка {attempt_id} не найдена")
    if not f.is_id(attempt_id):
        raise missing
    a = Attempt.select(Attempt, Lead).join(Lead).where(Attempt.id == attempt_id).first()
    if a is None:
        raise missing
    events = (AttemptEvent.select().where(AttemptEvent.attempt == a.id)
              .order_by(AttemptEvent.id))
    return {**_as_dict(a), "events": [{"id": e.id, "at": f.iso(e.at), "kind": e.kind, "data": e.data}
                                      for e in events]}
