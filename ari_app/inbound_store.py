"""The database work of clients calling back (ari_app/inbound.py) — synchronous, run in the engine's threads."""
from __future__ import annotations

import json
from dataclasses import dataclass

from dialer.phones import normalise_phone

from .store import ts


@dataclass(frozen=True)
class Caller:
    phone: str
    lead_id: int | None
    campaign_id: int | None
    last_operator_id: int | None  # who talked to this client last (a bridged attempt)
    pool: frozenset[int]          # operators of the campaign's pool (empty: any operator)


def phone_variants(raw: str, region: str = "RU") -> list[str]:
    """The caller's number as a lead may hold it: E.164 is what imports store; trunks send it in several forms."""
    digits = "".join(ch for ch in raw or "" if ch.isdigit())
    out = {raw, f"+{digits}"} if digits else {raw}
    e164 = normalise_phone(raw, region) if raw else None
    if e164:
        out.add(e164)
    return sorted(v for v in out if v)


_LEAD_SQL = """
SELECT l.id, l.campaign_id,
       (SELECT a.operator_id FROM attempt a WHERE a.lead_id = l.id AND a.bridged_at IS NOT NULL
         ORDER BY a.id DESC LIMIT 1)
  FROM lead l WHERE l.phone = ANY(%s) ORDER BY l.last_attempt_at DESC NULLS LAST, l.id DESC LIMIT 1"""
_POOL_SQL = "SELECT operator_id FROM operator_campaign WHERE campaign_id = %s"
_UNKNOWN_LEAD_SQL = """
INSERT INTO lead (campaign_id, external_id, phone, name, state) VALUES (%s, %s, %s, '', 'done')
ON CONFLICT DO NOTHING RETURNING id"""


def find_caller(db, raw_phone: str, unknown_campaign: int) -> Caller:
    """The latest lead with this number, its last operator and its campaign's pool; an unknown number gets a lead in
    the configured campaign (so the call has its attempt and the operator a card), or none at all."""
    variants = phone_variants(raw_phone)
    row = db.execute_sql(_LEAD_SQL, (variants,)).fetchone() if variants else None
    if row is None and unknown_campaign:
        phone = next((v for v in variants if v.startswith("+")), raw_phone or "unknown")
        made = db.execute_sql(_UNKNOWN_LEAD_SQL, (unknown_campaign, f"inbound:{phone}", phone)).fetchone()
        lead_id = made[0] if made else db.execute_sql(
            "SELECT id FROM lead WHERE campaign_id = %s AND external_id = %s", (unknown_campaign, f"inbound:{phone}")
        ).fetchone()[0]
        row = (lead_id, unknown_campaign, None)
    if row is None:
        return Caller(raw_phone, None, None, None, frozenset())
    pool = frozenset(r[0] for r in db.execute_sql(_POOL_SQL, (row[1],)).fetchall())
    return Caller(raw_phone, row[0], row[1], row[2], pool)


_OPEN_SQL = """
WITH a AS (INSERT INTO attempt (lead_id, campaign_id, server, phone, direction, reserved_at, dial_started_at,
                                answered_at, client_channel)
           SELECT l.id, l.campaign_id, %(server)s, l.phone, 'inbound', %(at)s, %(at)s, %(at)s, %(channel)s
             FROM lead l WHERE l.id = %(lead)s
           RETURNING id),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'inbound', %(data)s FROM a)
SELECT a.id, c.auto_ready, c.wrap_up_limit_s FROM a JOIN lead l ON l.id = %(lead)s JOIN campaign c ON c.id = l.campaign_id"""


def open_attempt(db, caller: Caller, server: str, channel: str, at: float) -> tuple[int, bool, int]:
    """The inbound call's attempt (direction inbound, answered by the system at arrival): (id, auto_ready, wrap-up limit)."""
    return tuple(db.execute_sql(_OPEN_SQL, {"server": server, "at": ts(at), "channel": channel, "lead": caller.lead_id,
                                            "data": json.dumps({"caller": caller.phone})}).fetchone())


_TAKEN_SQL = """
WITH a AS (UPDATE attempt SET operator_id = %(operator)s, offered_at = %(at)s, operator_answered_at = %(at)s
            WHERE id = %(id)s AND ended_at IS NULL RETURNING id, lead_id),
o AS (UPDATE operator SET attempt_id = %(id)s WHERE id = %(operator)s),
l AS (UPDATE lead SET state = 'in_progress', last_attempt_at = %(at)s WHERE id = (SELECT lead_id FROM a))
INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'offered', %(data)s FROM a"""


def taken(db, attempt_id: int, operator_id: int, at: float) -> None:
    db.execute_sql(_TAKEN_SQL, {"id": attempt_id, "operator": operator_id, "at": ts(at),
                                "data": json.dumps({"operator_id": operator_id, "direction": "inbound"})})


_GAVE_UP_SQL = """
WITH a AS (UPDATE attempt SET ended_at = %(at)s, outcome = 'LOST', error = %(why)s, hangup_cause = %(cause)s
            WHERE id = %(id)s AND ended_at IS NULL RETURNING id, lead_id),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'ended', %(data)s FROM a)
UPDATE lead SET state = 'callable', next_call_at = %(at)s, callback = true, last_outcome = 'LOST',
                assigned_operator_id = coalesce(%(operator)s, assigned_operator_id)
 WHERE id = (SELECT lead_id FROM a) AND %(callback)s"""


def gave_up(db, attempt_id: int, at: float, why: str, callback: bool, operator_id: int | None,
            cause: int | None = None) -> None:
    """Nobody took the call (or the client hung up waiting): LOST, and the client is called back — by the operator
    who talked to them last, when there is one."""
    db.execute_sql(_GAVE_UP_SQL, {"id": attempt_id, "at": ts(at), "why": why, "cause": cause, "callback": callback,
                                  "operator": operator_id, "data": json.dumps({"reason": why, "callback": callback})})


_OPEN_AFTER_RESTART_SQL = """
SELECT id, client_channel, operator_id FROM attempt
 WHERE direction = 'inbound' AND ended_at IS NULL AND client_channel IS NOT NULL"""
_LAST_OPERATOR_SQL = """
SELECT (SELECT b.operator_id FROM attempt b WHERE b.lead_id = a.lead_id AND b.bridged_at IS NOT NULL
         ORDER BY b.id DESC LIMIT 1) FROM attempt a WHERE a.id = %s"""


def after_restart(db, at: float) -> dict[str, int]:
    """The engine starts: inbound calls an operator had taken are followed again ({channel: attempt}); callers who
    were still waiting lost their place with the engine (their hold was in its memory): LOST, with a callback."""
    following = {}
    for attempt_id, channel, operator_id in db.execute_sql(_OPEN_AFTER_RESTART_SQL).fetchall():
        if operator_id is not None:
            following[channel] = attempt_id
        else:
            last = db.execute_sql(_LAST_OPERATOR_SQL, (attempt_id,)).fetchone()[0]
            gave_up(db, attempt_id, at, "the engine restarted while the client waited", True, last)
    return following
