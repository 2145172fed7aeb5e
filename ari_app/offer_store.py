"""The engine's database work for offers and manual dial — fixed SQL, short transactions, run in threads.

An offer waiting for «Ответить» is an attempt whose client has not been dialled. When it is withdrawn
(missed, declined, or the operator paused) the reservation is undone: the attempt row goes, the lead
returns to the queue uncounted and as it was (a callback stays a callback of its operator), and a missed
one is kept in `missed_offer`.

Every write here may run twice (the engine retries a write whose commit it did not hear of): each is
guarded so that the second run changes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from rules import callable as rules

from .store import ClaimedLead, _apply, ts


@dataclass(frozen=True)
class OfferTerms:
    answer_timeout_s: int
    missed_limit: int


class ManualDialRefused(Exception):
    def __init__(self, code: str, message_en: str, message_ru: str):
        super().__init__(message_en)
        self.code, self.message_en, self.message_ru = code, message_en, message_ru


def offer_terms(db, attempt_id: int) -> OfferTerms:
    row = db.execute_sql("SELECT c.operator_answer_timeout_s, c.missed_offers_limit FROM attempt a "
                         "JOIN campaign c ON c.id = a.campaign_id WHERE a.id = %s", (attempt_id,)).fetchone()
    return OfferTerms(*row)


# an event once, however often its write runs
_EVENT_SQL = """
INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT %(id)s, %(at)s, %(kind)s, %(data)s
 WHERE NOT EXISTS (SELECT 1 FROM attempt_event WHERE attempt_id = %(id)s AND kind = %(kind)s AND at = %(at)s)"""


def _event(db, attempt_id: int, at: float, kind: str, data: dict) -> None:
    db.execute_sql(_EVENT_SQL, {"id": attempt_id, "at": ts(at), "kind": kind, "data": json.dumps(data)})


def offer_started(db, attempt_id: int, at: float, seconds: int) -> None:
    with db.atomic():
        db.execute_sql("UPDATE attempt SET offer_expires_at = %s WHERE id = %s", (ts(at + seconds), attempt_id))
        _event(db, attempt_id, at, "offered", {"answer_timeout_s": seconds})


def offer_accepted(db, attempt_id: int, at: float) -> None:
    """«Ответить»: from now on the operator is taking this call (the timeline's operator answer too)."""
    with db.atomic():
        db.execute_sql("UPDATE attempt SET offer_accepted_at = %s, operator_answered_at = %s WHERE id = %s",
                       (ts(at), ts(at), attempt_id))
        _event(db, attempt_id, at, "offer_accepted", {})


# the attempt and its events go in one statement (the foreign key is checked at its end), and only when the
# attempt goes: the timeline of an attempt dialled meanwhile is kept
_RELEASE_SQL = """
WITH a AS (DELETE FROM attempt WHERE id = %(id)s AND dial_started_at IS NULL AND ended_at IS NULL
            RETURNING id, lead_id, campaign_id, operator_id, reserved_at, manual),
r AS (SELECT data->>'lead_state' AS lead_state FROM attempt_event
       WHERE attempt_id = %(id)s AND kind = 'reserved' ORDER BY id LIMIT 1),
x AS (DELETE FROM attempt_event WHERE attempt_id IN (SELECT id FROM a)),
o AS (UPDATE operator SET attempt_id = NULL FROM a WHERE operator.id = a.operator_id AND operator.attempt_id = a.id),
m AS (INSERT INTO missed_offer (operator_id, campaign_id, lead_id, offered_at, missed_at)
      SELECT operator_id, campaign_id, lead_id, reserved_at, %(at)s FROM a WHERE %(missed)s)
SELECT a.lead_id, l.attempts, c.max_attempts, c.retry_delay_s, CASE WHEN a.manual THEN (SELECT lead_state FROM r) END
  FROM a JOIN lead l ON l.id = a.lead_id JOIN campaign c ON c.id = a.campaign_id"""


def release_offer(db, attempt_id: int, at: float, missed: bool) -> None:
    """Undo the reservation of an offer the client never heard of (nothing if it was dialled meanwhile)."""
    with db.atomic():
        row = db.execute_sql(_RELEASE_SQL, {"id": attempt_id, "at": ts(at), "missed": missed}).fetchone()
        if row is None:
            return
        lead_id, attempts, max_attempts, retry_delay_s, state_before_manual = row
        # the same rule as a call that was never placed: callable again at once, the attempt not counted
        change = rules.after_attempt(attempts, max_attempts, retry_delay_s, "ERROR", ts(at), placed=False)
        _apply(db, lead_id, rules.after_manual_attempt(state_before_manual, change))


def release_orphans(db, operator_id: int, at: float) -> int:
    """Give back the operator's attempts that were opened but never dialled, after a claim (or a manual dial)
    whose answer the engine did not get: it may have committed. The engine's record of the operator holds no
    such attempt at that moment, so each one found is a reservation nobody will dial."""
    ids = [row[0] for row in db.execute_sql(
        "SELECT id FROM attempt WHERE operator_id = %s AND ended_at IS NULL AND dial_started_at IS NULL",
        (operator_id,)).fetchall()]
    for attempt_id in ids:
        release_offer(db, attempt_id, at, missed=False)
    return len(ids)


def save_missed_offers(db, operator_id: int, count: int) -> None:
    db.execute_sql("UPDATE operator SET missed_offers = %s WHERE id = %s AND missed_offers <> %s",
                   (count, operator_id, count))


_ALERT_SQL = """
INSERT INTO alert (kind, campaign_id, operator_id, text_ru, text_en)
SELECT 'operator_missed_offers', c.id, o.id,
       format('Оператор %%s пропустил %%s предложенных звонков подряд (кампания «%%s») и поставлен на паузу',
              o.name, %(count)s, c.name),
       format('Operator %%s missed %%s offered calls in a row (campaign "%%s") and was paused',
              o.name, %(count)s, c.name)
  FROM operator o
  JOIN LATERAL (SELECT campaign_id, missed_at FROM missed_offer WHERE operator_id = o.id ORDER BY id DESC LIMIT 1) m
    ON true
  JOIN campaign c ON c.id = m.campaign_id
 WHERE o.id = %(operator)s
   AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.kind = 'operator_missed_offers' AND a.operator_id = o.id
                      AND a.created_at >= m.missed_at)"""


def missed_offers_alert(db, operator_id: int, count: int) -> None:
    """The supervisor's alert, about the campaign of the last missed offer (written just before); one per
    missed offer, however often the write runs."""
    db.execute_sql(_ALERT_SQL, {"operator": operator_id, "count": count})


# ---- manual dial ------------------------------------------------------------------------------------
_OPEN_MANUAL_SQL = """
WITH n AS (SELECT nextval(pg_get_serial_sequence('attempt', 'id')) AS id),
l AS (UPDATE lead SET state = 'in_progress', attempts = attempts + 1, last_attempt_at = %(now)s,
                      attempts_today = CASE WHEN attempts_day = timezone(time_zone, %(now)s)::date
                                            THEN attempts_today + 1 ELSE 1 END,
                      attempts_day = timezone(time_zone, %(now)s)::date
       WHERE id = %(lead)s AND state <> 'in_progress' RETURNING id, campaign_id, phone),
a AS (INSERT INTO attempt (id, lead_id, campaign_id, operator_id, server, phone, reserved_at, offered_at,
                           operator_answered_at, client_channel, manual, offer_accepted_at)
      SELECT n.id, l.id, l.campaign_id, %(operator)s, %(server)s, l.phone, %(now)s, %(now)s, %(now)s,
             'at' || n.id || '-' || %(nonce)s, true, %(now)s
        FROM n, l
      RETURNING id, client_channel, campaign_id, phone),
o AS (UPDATE operator SET attempt_id = (SELECT id FROM a) WHERE id = %(operator)s),
e AS (INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(now)s, 'reserved', %(data)s FROM a)
SELECT a.id, a.client_channel, a.phone, c.caller_id, c.ring_timeout_s, c.auto_ready, c.wrap_up_limit_s
  FROM a JOIN campaign c ON c.id = a.campaign_id"""


def open_manual_attempt(db, operator_id: int, server: str, nonce: str, at: float, lead_id: int) -> ClaimedLead:
    """The attempt of a manual dial; refused when the lead is not in the operator's campaigns, is being
    called right now, or its number is on the do-not-call list (checked again here: it may have been
    added since the request)."""
    from rules import dnc

    with db.atomic():
        row = db.execute_sql(
            "SELECT l.phone, l.state, EXISTS (SELECT 1 FROM operator_campaign p WHERE p.operator_id = %s "
            "AND p.campaign_id = l.campaign_id) FROM lead l WHERE l.id = %s FOR UPDATE OF l",
            (operator_id, lead_id)).fetchone()
        if row is None or not row[2]:
            raise ManualDialRefused("lead-not-found", f"order {lead_id} is not in your campaigns",
                                    f"заказ {lead_id} не найден в ваших кампаниях")
        phone, state, _ = row
        if state == "in_progress":
            raise ManualDialRefused("lead-busy", "this client is being called right now",
                                    "этому клиенту сейчас уже звонят")
        if dnc.contains(phone):
            raise do_not_call_refusal(phone)
        found = db.execute_sql(_OPEN_MANUAL_SQL, {
            "now": ts(at), "lead": lead_id, "operator": operator_id, "server": server, "nonce": nonce,
            # the lead's state before: an unanswered manual dial leaves a lead out of the queue where it was
            "data": json.dumps({"operator_id": operator_id, "manual": True, "lead_state": state}),
        }).fetchone()
    return ClaimedLead(*found)


def do_not_call_refusal(phone: str) -> ManualDialRefused:
    return ManualDialRefused("do-not-call", f"{phone} is on the do-not-call list: it is never dialled",
                             f"номер {phone} в списке «Больше не звонить»: звонить на него нельзя")
