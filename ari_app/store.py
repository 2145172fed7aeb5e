"""The engine's database work — synchronous, run in threads via dialer.db.run; short transactions only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from dialer import prepared
from dialer.models import Attempt, Campaign, Operator
from rules import callable as rules
from rules import claim as selections
from rules import dnc

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


# The engine's bookkeeping runs for every call: fixed statements with parameters rather than queries
# rebuilt by the ORM each time (that was half the engine's CPU under load); the claim's are also
# prepared on the server (dialer.prepared), so they are not planned again on every call.
# `{pick}`: the selection rules' statement that finds and locks the lead (rules.claim.Pick); no row when it
# finds none, and then nothing is written
_OPEN_ATTEMPT_SQL = """
WITH l AS (UPDATE lead SET state = 'in_progress', attempts = attempts + 1, last_attempt_at = %(now)s,
                           attempts_today = CASE WHEN attempts_day = timezone(time_zone, %(now)s)::date
                                                 THEN attempts_today + 1 ELSE 1 END,
                           attempts_day = timezone(time_zone, %(now)s)::date
            WHERE id = ({pick}) RETURNING id, campaign_id, phone),
n AS (SELECT nextval(pg_get_serial_sequence('attempt', 'id')) AS id FROM l),
a AS (INSERT INTO attempt (id, lead_id, campaign_id, operator_id, server, phone, reserved_at, offered_at,
                           operator_answered_at, client_channel, selection_id)
      SELECT n.id, l.id, l.campaign_id, %(operator)s, %(server)s, l.phone, %(now)s, %(now)s, %(answered)s,
             'at' || n.id || '-' || %(nonce)s, %(selection)s
        FROM n, l
      RETURNING id, client_channel, campaign_id, phone),
o AS (UPDATE operator SET attempt_id = a.id FROM a WHERE operator.id = %(operator)s),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(now)s, 'reserved', %(data)s FROM a),
q AS (DELETE FROM claim_queue WHERE lead_id = (SELECT id FROM l))  -- called now: out of every selection's queue
SELECT a.id, a.client_channel, a.phone, c.caller_id, c.ring_timeout_s, c.auto_ready, c.wrap_up_limit_s
  FROM a JOIN campaign c ON c.id = a.campaign_id"""
_OPEN_ATTEMPT_TYPES = {"now": "timestamptz", "operator": "bigint", "server": "text", "nonce": "text",
                       "answered": "timestamptz", "selection": "bigint", "data": "jsonb"}
_open_sql: dict[str, str] = {}  # by the pick's statement


def claim(db, operator_id: int, server: str, nonce: str, at: float, leg_up_at: float | None) -> ClaimedLead | None:
    """Reserve the next lead the selection rules give this Ready operator and open its attempt (counting it
    against the lead's limits). The lead is found, locked and its attempt opened in one statement, atomic on
    its own: a claim is two round trips (the operator's selections, then that statement), both prepared on
    the server when the lead comes from a claim queue."""
    now = ts(at)
    fixed = {"now": now, "operator": operator_id, "server": server, "nonce": nonce,
             "answered": ts(leg_up_at) if leg_up_at else now}

    def take(pick):
        sql = _open_sql.get(pick.sql)
        if sql is None:
            sql = _open_sql.setdefault(pick.sql, _OPEN_ATTEMPT_SQL.replace("{pick}", pick.sql))
        values = {**fixed, "selection": pick.selection_id, "data": json.dumps(
            {"operator_id": operator_id, "selection_id": pick.selection_id}), **pick.values}
        return prepared.execute(db, sql, values, types={**_OPEN_ATTEMPT_TYPES, **pick.types},
                                prepare=pick.prepare).fetchone()

    row = selections.next_lead(db, operator_id, now, take)
    return None if row is None else ClaimedLead(*row)


# one round trip per timeline stamp: the first stamp wins, and the raw fact is kept beside it (once: a write
# retried after a commit whose answer was lost finds its event there)
_RECORD_SQL = {
    field: (f"WITH stamped AS (UPDATE attempt SET {field} = coalesce({field}, %(at)s) WHERE id = %(id)s) "
            "INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT %(id)s, %(at)s, %(kind)s, %(data)s "
            " WHERE NOT EXISTS (SELECT 1 FROM attempt_event WHERE attempt_id = %(id)s AND kind = %(kind)s "
            "                      AND at = %(at)s)")
    for field in Attempt.TIMELINE  # a closed set of column names, never user input
}


def record(db, attempt_id: int, field: str, at: float, data: dict | None = None) -> None:
    """Stamp a timeline field once (the first time wins) and keep the raw fact."""
    db.execute_sql(_RECORD_SQL[field], {"at": ts(at), "id": attempt_id, "kind": field.removesuffix("_at"),
                                        "data": json.dumps(data or {})})


_END_ATTEMPT_SQL = """
WITH a AS (UPDATE attempt SET ended_at = %(at)s, outcome = %(outcome)s, hangup_cause = %(cause)s,
                              sip_code = %(sip_code)s, dial_status = %(dial_status)s, error = %(error)s,
                              cause_text = %(cause_text)s
            WHERE id = %(id)s AND ended_at IS NULL
            RETURNING id, lead_id, operator_id, dial_started_at IS NOT NULL AS dialled, manual),
o AS (UPDATE operator SET attempt_id = NULL FROM a
       WHERE %(outcome)s <> 'ANSWERED' AND operator.id = a.operator_id AND operator.attempt_id = a.id),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'ended', %(data)s FROM a)
SELECT a.lead_id, a.dialled, l.attempts, c.max_attempts,
       coalesce((c.retry_delays->>%(outcome)s)::integer, c.retry_delay_s),  -- the outcome's own delay, if set
       CASE WHEN a.manual THEN (SELECT data->>'lead_state' FROM attempt_event
                                 WHERE attempt_id = a.id AND kind = 'reserved' ORDER BY id LIMIT 1) END
  FROM a JOIN lead l ON l.id = a.lead_id JOIN campaign c ON c.id = l.campaign_id"""

_FINISH_WRAP_UP_SQL = """
WITH a AS (UPDATE attempt SET wrap_up_result = %(result)s, wrap_up_comment = %(comment)s, wrap_up_at = %(at)s
            WHERE id = %(id)s AND wrap_up_at IS NULL RETURNING id, lead_id),
o AS (UPDATE operator SET attempt_id = NULL WHERE id = %(operator)s AND attempt_id = %(id)s),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'wrap_up', %(data)s FROM a)
SELECT a.lead_id, l.phone FROM a JOIN lead l ON l.id = a.lead_id"""

_WRAP_UP_LEAD_SQL = """
UPDATE lead SET state = %(state)s, next_call_at = coalesce(%(next_call_at)s, next_call_at), callback = %(callback)s,
                assigned_operator_id = CASE WHEN %(callback)s THEN %(operator)s ELSE assigned_operator_id END
 WHERE id = %(id)s"""

# a call never placed gives its attempt back, also to the count of the client's day (the attempt was opened
# moments ago, so `attempts_day` is still its day), and leaves a callback a callback: only a call placed uses
# it up (the wrap-up of an answered one may make it a callback again); the callback's operator stays
_UPDATE_LEAD_SQL = """
UPDATE lead SET state = %(state)s, next_call_at = coalesce(%(next_call_at)s, next_call_at),
                attempts = attempts - %(uncount)s, attempts_today = greatest(attempts_today - %(uncount)s, 0),
                last_outcome = coalesce(%(outcome)s, last_outcome), callback = callback AND %(uncount)s = 1
 WHERE id = %(id)s"""


def end_attempt(db, end: ev.EndAttempt) -> None:
    """Close the attempt once (a second end changes nothing) and move its lead on, in one transaction."""
    facts = end.facts
    with db.atomic():
        row = db.execute_sql(_END_ATTEMPT_SQL, {
            "id": end.attempt_id, "at": ts(end.at), "outcome": end.outcome, "cause": facts.cause,
            "sip_code": facts.sip_code, "dial_status": facts.dial_status, "error": end.error,
            "cause_text": end.cause_text,
            "data": json.dumps({"outcome": end.outcome, "cause": facts.cause, "sip_code": facts.sip_code,
                                "dial_status": facts.dial_status, "error": end.error}),
        }).fetchone()
        if row is None:
            return
        lead_id, dialled, attempts, max_attempts, retry_delay_s, state_before_manual = row
        change = rules.after_attempt(attempts, max_attempts, retry_delay_s, end.outcome, ts(end.at),
                                     placed=dialled or facts.answered)
        _apply(db, lead_id, rules.after_manual_attempt(state_before_manual, change), end.outcome)


def finish_wrap_up(db, operator_id: int, cmd: ev.FinishWrapUp) -> None:
    """Record the wrap-up once; postpone makes the lead this operator's callback, do-not-call closes it
    and lists its number — all in one transaction. Everything comes in `cmd`, as the operator submitted it."""
    with db.atomic():
        row = db.execute_sql(_FINISH_WRAP_UP_SQL, {
            "id": cmd.attempt_id, "operator": operator_id, "result": cmd.result, "comment": cmd.comment,
            "at": ts(cmd.at),
            "data": json.dumps({"result": cmd.result, "postpone_minutes": cmd.postpone_minutes,
                                "postpone_until": cmd.postpone_until, "do_not_call": cmd.do_not_call}),
        }).fetchone()
        if row is None:  # recorded by an earlier submission
            return
        lead_id, phone = row
        until = ts(cmd.postpone_until) if cmd.postpone_until is not None else None
        change = rules.after_wrap_up(cmd.postpone_minutes, ts(cmd.at), until, cmd.do_not_call)
        if cmd.do_not_call:
            dnc.add(phone, reason=cmd.result, source="operator", attempt_id=cmd.attempt_id)
        db.execute_sql(_WRAP_UP_LEAD_SQL, {"id": lead_id, "state": change.state, "next_call_at": change.next_call_at,
                                           "callback": change.callback, "operator": operator_id})


def _apply(db, lead_id: int, change: rules.LeadChange, outcome: str | None = None) -> None:
    db.execute_sql(_UPDATE_LEAD_SQL, {"id": lead_id, "state": change.state, "next_call_at": change.next_call_at,
                                      "uncount": 1 if change.uncount else 0, "outcome": outcome})


def save_operator(db, operator_id: int, status: str, leg: str | None, bridge: str | None, status_changed: bool) -> None:
    db.execute_sql("UPDATE operator SET status = %s, leg_channel = %s, bridge_id = %s, status_since = "
                   "CASE WHEN %s THEN clock_timestamp() ELSE status_since END WHERE id = %s",
                   (status, leg, bridge, status_changed, operator_id))


@dataclass(frozen=True)
class OperatorRecord:
    operator_id: int
    login: str
    server: str
    status: str
    leg: str | None
    attempt: dict | None  # the live or wrapping-up attempt, if any
    auto_answer: bool = True
    missed_offers: int = 0
    last_auto_ready: bool = True  # the campaign of their last call goes Ready after it (read for a stale status)


# an operator whose status says "in a call" or "in wrap-up" but who holds no attempt: their last call's campaign
_LAST_AUTO_READY_SQL = """
SELECT o.id, c.auto_ready FROM operator o
  JOIN LATERAL (SELECT campaign_id FROM attempt WHERE operator_id = o.id ORDER BY id DESC LIMIT 1) a ON true
  JOIN campaign c ON c.id = a.campaign_id
 WHERE o.id = ANY(%s::bigint[])"""


def load_operators(db, operator_id: int | None = None) -> list[OperatorRecord]:
    """Every operator (or one) with the attempt they hold, in two queries rather than one per operator."""
    query = Operator.select().order_by(Operator.id)
    if operator_id is not None:
        query = query.where(Operator.id == operator_id)
    operators = list(query)
    held = [op.attempt_id for op in operators if op.attempt_id]
    attempts = {row["id"]: row for row in Attempt.select(Attempt, Campaign.auto_ready, Campaign.wrap_up_limit_s)
                .join(Campaign).where(Attempt.id.in_(held)).dicts()} if held else {}
    stale = [op.id for op in operators if not op.attempt_id and op.status in ("in_call", "wrap_up")]
    auto_ready = dict(db.execute_sql(_LAST_AUTO_READY_SQL, (stale,)).fetchall()) if stale else {}
    return [OperatorRecord(op.id, op.login, op.server, op.status, op.leg_channel, attempts.get(op.attempt_id),
                           op.auto_answer, op.missed_offers, auto_ready.get(op.id, True))
            for op in operators]


@dataclass(frozen=True)
class PendingCommand:
    id: int
    operator_id: int
    kind: str
    payload: object  # as stored; dialer.commands.parse makes it a typed payload
    created_at: datetime


_STILL_OPEN_SQL = "SELECT id FROM engine_command WHERE id = ANY(%s::bigint[]) AND done_at IS NULL"
_PENDING_SQL = """
SELECT id, operator_id, kind, payload, created_at FROM engine_command
 WHERE done_at IS NULL AND id <> ALL(%s::bigint[]) ORDER BY id LIMIT %s"""


def pending_commands(db, in_flight: frozenset[int], limit: int) -> tuple[frozenset[int], list[PendingCommand]]:
    """Of the commands in flight, those still not done; and up to `limit` other commands not done, oldest first.

    Read by "not done", never by an id cursor: an id is given at insert but seen at commit, so a command
    whose transaction commits after a higher id's must still be found. Each is marked done only after its
    operator's actor handled it, so a command read just before a crash is read again after the restart."""
    ids = sorted(in_flight)
    still = frozenset(r[0] for r in db.execute_sql(_STILL_OPEN_SQL, (ids,)).fetchall()) if ids else frozenset()
    rows = db.execute_sql(_PENDING_SQL, (ids, limit)).fetchall()
    return still, [PendingCommand(*row) for row in rows]


def command_done(db, command_id: int, error: str | None = None) -> None:
    db.execute_sql("UPDATE engine_command SET done_at = clock_timestamp(), error = %s WHERE id = %s",
                   (error, command_id))
