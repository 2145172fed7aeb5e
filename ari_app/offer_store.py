"""The engine's database work for offers and manual dial — fixed SQL, short transactions, run in threads.

An offer waiting for «Ответить» is an attempt whose client has not been dialled. When it is withdrawn
(missed, declined, or the operator paused) the reservation is undone: the attempt row goes, the lead
returns to the queue uncounted, and a missed one is kept in `missed_offer`.
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


_EVENT_SQL = "INSERT INTO attempt_event (attempt_id, at, kind, data) VALUES (%s, %s, %s, %s)"


def offer_started(db, attempt_id: int, at: float, seconds: int) -> None:
    with db.atomic():
        db.execute_sql("UPDATE attempt SET offer_expires_at = %s WHERE id = %s", (ts(at + seconds), attempt_id))
        db.execute_sql(_EVENT_SQL, (attempt_id, ts(at), "offered", json.dumps({"answer_timeout_s": seconds})))


def offer_accepted(db, attempt_id: int, at: float) -> None:
    """«Ответить»: from now on the operator is taking this call (the timeline's operator answer too)."""
    with db.atomic():
        db.execute_sql("UPDATE attempt SET offer_accepted_at = %s, operator_answered_at = %s WHERE id = %s",
                       (ts(at), ts(at), attempt_id))
        db.execute_sql(_EVENT_SQL, (attempt_id, ts(at), "offer_accepted", "{}"))


_RELEASE_SQL = """
WITH a AS (DELETE FROM attempt WHERE id = %(id)s AND dial_started_at IS NULL AND ended_at IS NULL
            RETURNING id, lead_id, campaign_id, operator_id, reserved_at),
o AS (UPDATE operator SET attempt_id = NULL FROM a WHERE operator.id = a.operator_id AND operator.attempt_id = a.id),
m AS (INSERT INTO missed_offer (operator_id, campaign_id, lead_id, offered_at, missed_at)
      SELECT operator_id, campaign_id, lead_id, reserved_at, %(at)s FROM a WHERE %(missed)s)
SELECT a.lead_id, l.attempts, c.max_attempts, c.retry_delay_s
  FROM a JOIN lead l ON l.id = a.lead_id JOIN campaign c ON c.id = a.campaign_id"""


def release_offer(db, attempt_id: int, at: float, missed: bool) -> None:
    """Undo the reservation of an offer the client never heard of (nothing if it was dialled meanwhile)."""
    with db.atomic():
        db.execute_sql("DELETE FROM attempt_event WHERE attempt_id = %s", (attempt_id,))
        row = db.execute_sql(_RELEASE_SQL, {"id": attempt_id, "at": ts(at), "missed": missed}).fetchone()
        if row is None:
            return
        lead_id, attempts, max_attempts, retry_delay_s = row
        # the same rule as a call that was never placed: callable again at once, the attempt not counted
        _apply(db, lead_id, rules.after_attempt(attempts, max_attempts, retry_delay_s, "ERROR", ts(at), placed=False))


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
  JOIN LATERAL (SELECT campaign_id FROM missed_offer WHERE operator_id = o.id ORDER BY id DESC LIMIT 1) m ON true
  JOIN campaign c ON c.id = m.campaign_id
 WHERE o.id = %(operator)s"""


def missed_offers_alert(db, operator_id: int, count: int) -> None:
    """The supervisor's alert, about the campaign of the last missed offer (written just before)."""
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
            "data": json.dumps({"operator_id": operator_id, "manual": True}),
        }).fetchone()
    return ClaimedLead(*found)


def do_not_call_refusal(phone: str) -> ManualDialRefused:
    return ManualDialRefused("do-not-call", f"{phone} is on the do-not-call list: it is never dialled",
                             f"номер {phone} в списке «Больше не звонить»: звонить на него нельзя")
