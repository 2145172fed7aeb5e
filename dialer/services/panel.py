"""The operator panel's use cases (SPEC E1–E5, B5): the operator's own state and call card, and the
requests they send to the engine. Every function takes the operator the signed-in user *is*; a call
or attempt of anyone else is refused with 403 and nothing changes.

The engine stays the only writer of call state: requests are `engine_command` rows, checked here
first so that the operator gets a clear answer at once.
"""
from __future__ import annotations

from datetime import datetime, timezone

from peewee import JOIN, IntegrityError

from ..access import Acting
from ..errors import Conflict, Forbidden, Invalid, NotFound
from .. import commands
from ..models import Attempt, Campaign, CampaignResult, Lead, Operator, OperatorCampaign
from ..outcomes import Outcome
from ..phones import normalise_phone
from . import fields as f
from .operators import existing_operator, not_your_call, own_current_call, submit_wrap_up

STATUSES = {"ready": "ready", "pause": "pause", "lunch": "lunch"}
HISTORY_LIMIT = 100
MANUAL_PREFIX = "manual:"  # external id of a lead made by a manual dial to a number no lead has


def _command(operator_id: int, payload: commands.Payload) -> dict:
    command_id = commands.enqueue(operator_id, payload)
    return {"command_id": command_id, "kind": payload.kind.value, "payload": commands.as_json(payload)}


# ---- reading ------------------------------------------------------------------------------------------
def state(operator_id: int) -> dict:
    """Everything the panel shows: status and its start, auto-answer, and the current call's card."""
    o = existing_operator(operator_id)
    card = call_card(operator_id, o.attempt_id) if o.attempt_id else None
    return {"operator_id": o.id, "name": o.name, "login": o.login, "status": o.status,
            "status_since": f.iso(o.status_since), "pause_reason": o.pause_reason,
            "auto_answer": o.auto_answer, "missed_offers": o.missed_offers, "now": f.iso(datetime.now(timezone.utc)), "call": card, "campaigns": _campaigns(o.id)}


def _campaigns(operator_id: int) -> list[dict]:
    """The operator's campaigns (manual dial may name one)."""
    rows = (Campaign.select(Campaign.id, Campaign.name).join(OperatorCampaign)
            .where(OperatorCampaign.operator == operator_id).order_by(Campaign.name).tuples())
    return [{"id": cid, "name": name} for cid, name in rows]


def _phase(a: Attempt) -> str:
    """Where the call stands, as the panel names it (web/static/js/panel.js `phaseOf` mirrors this)."""
    if a.ended_at is not None:
        return "wrap_up" if a.outcome == Outcome.ANSWERED and a.wrap_up_at is None else "ended"
    if a.offer_expires_at is not None and a.offer_accepted_at is None:
        return "offer"
    if a.answered_at is not None:
        return "talking"
    return "dialling" if a.dial_started_at is not None else "connecting"


def order_url(campaign: Campaign, lead: Lead) -> str | None:
    """The order in the CRM: the connection's link for orders that came from a CRM, the lead's own link if
    the CRM gave one, else the campaign's template."""
    if getattr(lead, "crm_connection_id", None):
        from ..crm.connections import lead_order_link
        url = lead_order_link(f.database(), lead.id).get("url")
        if url:
            return url
    own = (lead.attrs or {}).get("crm_url")
    if isinstance(own, str) and own.startswith(("http://", "https://")):
        return own
    if campaign.order_url_template:
        from urllib.parse import quote
        return campaign.order_url_template.replace("{external_id}", quote(lead.external_id, safe=""))
    return None


def call_card(operator_id: int, attempt_id) -> dict:
    """The card of one of the operator's own calls: client, campaign, order, CRM link, earlier attempts."""
    if not f.is_id(attempt_id):
        raise NotFound("attempt-not-found", f"attempt {attempt_id} does not exist",
                       message_ru=f"попытка {attempt_id} не найдена")
    a = (Attempt.select(Attempt, Lead, Campaign).join(Lead).switch(Attempt).join(Campaign)
         .where(Attempt.id == attempt_id).first())
    if a is None:
        raise NotFound("attempt-not-found", f"attempt {attempt_id} does not exist",
                       message_ru=f"попытка {attempt_id} не найдена")
    if a.operator_id != operator_id:
        raise not_your_call(attempt_id)
    lead, campaign = a.lead, a.campaign
    results = [{"code": r.code, "title": r.title, "closes_lead": r.closes_lead}
               for r in CampaignResult.select().where(CampaignResult.campaign == campaign.id)
               .order_by(CampaignResult.position, CampaignResult.id)]
    earlier = history(a)
    direction = f.database().execute_sql("SELECT direction FROM attempt WHERE id = %s", (a.id,)).fetchone()[0]
    return {
        "attempt_id": a.id, "phase": _phase(a), "manual": a.manual, "phone": a.phone,
        "direction": direction, "calling_back": calling_back(direction, earlier),
        "client_name": lead.name, "order_id": lead.external_id, "lead_id": lead.id,
        "campaign": {"id": campaign.id, "name": campaign.name, "auto_ready": campaign.auto_ready,
                     "wrap_up_limit_s": campaign.wrap_up_limit_s},
        "order_url": order_url(campaign, lead), "attrs": lead.attrs or {},
        "offered_at": f.iso(a.offered_at), "offer_expires_at": f.iso(a.offer_expires_at),
        "offer_accepted_at": f.iso(a.offer_accepted_at), "dial_started_at": f.iso(a.dial_started_at),
        "wrap_up_at": f.iso(a.wrap_up_at),
        "answered_at": f.iso(a.answered_at), "bridged_at": f.iso(a.bridged_at), "ended_at": f.iso(a.ended_at),
        "outcome": a.outcome, "results": results, "history": earlier,
    }


def calling_back(direction: str, earlier: list[dict]) -> dict | None:
    """What the card says of a call the client made to us (SPEC A1): None for our own calls; else whether we had
    called this client before, and the last of those calls — when, its outcome, result and operator — so the
    operator knows at a glance why the client rings back. `earlier` is `history` (newest first)."""
    if direction != "inbound":
        return None
    # the last conversation says most (its result); else the last attempt of any outcome
    last = next((h for h in earlier if h["outcome"] == Outcome.ANSWERED.value), earlier[0] if earlier else None)
    return {"known": bool(earlier), "last": last}


def history(a: Attempt) -> list[dict]:
    """Every earlier attempt to this client (the same order, or the same number in any campaign)."""
    rows = (Attempt.select(Attempt.id, Attempt.reserved_at, Attempt.outcome, Attempt.wrap_up_result,
                           Attempt.wrap_up_comment, Attempt.manual, Operator.name.alias("operator_name"),
                           Campaign.name.alias("campaign_name"))
            .join(Operator, JOIN.LEFT_OUTER).switch(Attempt).join(Campaign)
            .where(((Attempt.lead == a.lead_id) | (Attempt.phone == a.phone)), Attempt.id != a.id,
                   Attempt.ended_at.is_null(False))
            .order_by(Attempt.reserved_at.desc(), Attempt.id.desc()).limit(HISTORY_LIMIT).dicts())
    rows = list(rows)
    # the result's delivery to the CRM (none / pending / delivered / failed), as the outbox holds it
    delivery = dict(f.database().execute_sql(
        "SELECT attempt_id, state FROM crm_outbox WHERE attempt_id = ANY(%s)", ([h["id"] for h in rows],)).fetchall()
        if rows else [])
    out = []
    for h in rows:
        outcome = Outcome(h["outcome"])
        out.append({"attempt_id": h["id"], "at": f.iso(h["reserved_at"]), "outcome": outcome.value,
                    "outcome_ru": outcome.label_ru, "outcome_en": outcome.label_en, "colour": outcome.colour,
                    "operator": h["operator_name"], "campaign": h["campaign_name"], "result": h["wrap_up_result"],
                    "comment": h["wrap_up_comment"] or "", "manual": h["manual"],
                    "crm_delivery": delivery.get(h["id"], "none")})
    return out


# ---- requests to the engine ---------------------------------------------------------------------------
def set_status(operator_id: int, kind) -> dict:
    kind = f.choice("status", kind, STATUSES)
    existing_operator(operator_id)
    return _command(operator_id, commands.parse(STATUSES[kind], {}))  # the statuses have no fields


def set_auto_answer(operator_id: int, on) -> dict:
    on = f.boolean("auto_answer", on)
    with f.database().atomic():
        o = existing_operator(operator_id, lock=True)
        Operator.update(auto_answer=on).where(Operator.id == o.id).execute()
        return _command(o.id, commands.AutoAnswer(on))


def _own_current(operator_id: int, attempt_id) -> tuple[Operator, Attempt]:
    """The operator (locked) and their current attempt, which must be `attempt_id` (403 / 409 otherwise)."""
    o = existing_operator(operator_id, lock=True)
    return o, own_current_call(o, attempt_id)


def answer(operator_id: int, attempt_id) -> dict:
    """«Ответить»: accept the offer waiting in the browser."""
    with f.database().atomic():
        o, a = _own_current(operator_id, attempt_id)
        if _phase(a) != "offer":
            raise Conflict("no-offer", f"call {a.id} is not waiting to be answered",
                           message_ru=f"звонок {a.id} не ожидает ответа")
        return _command(o.id, commands.Answer())


def hang_up(operator_id: int, attempt_id) -> dict:
    """«Завершить»: the engine hangs the client up through ARI (an offer is declined)."""
    with f.database().atomic():
        o, a = _own_current(operator_id, attempt_id)
        if a.ended_at is not None:
            raise Conflict("call-ended", f"call {a.id} has already ended", message_ru=f"звонок {a.id} уже завершён")
        return _command(o.id, commands.Hangup())


def wrap_up(operator_id: int, attempt_id, result, comment="", postpone_minutes=None, postpone_until=None,
            do_not_call=False) -> dict:
    """The wrap-up of the operator's own call: the one wrap-up use case, acting as that operator."""
    return submit_wrap_up(Acting(operator_id, supervisor=False), operator_id, result, comment, postpone_minutes,
                          postpone_until, do_not_call, attempt_id=attempt_id)


# ---- manual dial ----------------------------------------------------------------------------------------
def _pool(operator_id: int, campaign_id) -> list[int]:
    ids = [row[0] for row in OperatorCampaign.select(OperatorCampaign.campaign)
           .where(OperatorCampaign.operator == operator_id).tuples()]
    if campaign_id is None:
        return ids
    if not f.is_id(campaign_id) or campaign_id not in ids:
        raise NotFound("campaign-not-in-pool", f"campaign {campaign_id} is not one of your campaigns",
                       message_ru=f"кампания {campaign_id} не входит в ваши кампании")
    return [campaign_id]


def _phone(value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 40 or f.has_control(value):
        raise f.invalid("phone", "not a valid phone number", "неверный номер телефона")
    phone = normalise_phone(value.strip(), "RU")
    if phone is None:
        raise f.invalid("phone", f"{value!r} is not a valid phone number", f"«{value}» — неверный номер телефона")
    return phone


def do_not_call_refused(phone: str) -> Conflict:
    return Conflict("do-not-call", f"{phone} is on the do-not-call list: it is never dialled",
                    message_ru=f"номер {phone} в списке «Больше не звонить»: звонить на него нельзя", phone=phone)


def _lead_by_order(pool: list[int], order_id) -> Lead:
    order_id = f.text("order_id", order_id, min_len=1, max_len=200)
    found = list(Lead.select().where(Lead.campaign.in_(pool), Lead.external_id == order_id).limit(2))
    if not found:
        raise NotFound("order-not-found", f"order {order_id!r} is not in your campaigns",
                       message_ru=f"заказ «{order_id}» не найден в ваших кампаниях")
    if len(found) > 1:
        raise Conflict("order-ambiguous", f"order {order_id!r} is in several of your campaigns: choose one",
                       message_ru=f"заказ «{order_id}» есть в нескольких ваших кампаниях: выберите кампанию")
    return found[0]


def _lead_by_phone(pool: list[int], phone: str) -> Lead:
    """The client's latest lead in the operator's campaigns; a number no lead has becomes a new lead."""
    found = (Lead.select().where(Lead.campaign.in_(pool), Lead.phone == phone)
             .order_by(Lead.created_at.desc(), Lead.id.desc()).first())
    if found is not None:
        return found
    if len(pool) != 1:
        raise f.invalid("campaign_id", "this number has no order in your campaigns: choose the campaign to call it in",
                        "у этого номера нет заказа в ваших кампаниях: выберите кампанию для звонка")
    try:
        with f.database().atomic():
            # 'done': the queue never takes it by itself; the manual call's outcome decides what follows
            lead_id = Lead.insert(campaign=pool[0], external_id=MANUAL_PREFIX + phone, phone=phone,
                                  state="done").execute()
    except IntegrityError:  # made by a manual dial before (with another number format): reuse it
        return Lead.get(Lead.campaign == pool[0], Lead.external_id == MANUAL_PREFIX + phone)
    return Lead.get_by_id(lead_id)


def manual_dial(operator_id: int, phone=None, order_id=None, campaign_id=None) -> dict:
    """Ask the engine to call a client outside the queue: by order id or by number; operator leg first."""
    if (phone is None) == (order_id is None):
        raise f.invalid("phone", "give either a phone number or an order id", "укажите либо номер телефона, либо номер заказа")
    number = _phone(phone) if phone is not None else None
    with f.database().atomic():
        o = existing_operator(operator_id, lock=True)
        if not (o.status == "paused" or (o.status == "ready" and o.attempt_id is None)):
            raise Conflict("manual-dial-not-now", f"manual dial needs Pause or Ready without a call (now {o.status})",
                           status=o.status,
                           message_ru="ручной набор возможен только в статусе «Пауза» или «Готов» без звонка")
        pool = _pool(o.id, campaign_id)
        if not pool:
            raise Conflict("no-campaigns", "you are in no campaign", message_ru="вы не входите ни в одну кампанию")
        if number is not None and _on_do_not_call(number):  # before any lead is made or anything dialled
            raise do_not_call_refused(number)
        lead = _lead_by_phone(pool, number) if number is not None else _lead_by_order(pool, order_id)
        if _on_do_not_call(lead.phone):
            raise do_not_call_refused(lead.phone)
        if lead.state == "in_progress":
            raise Conflict("lead-busy", "this client is being called right now",
                           message_ru="этому клиенту сейчас уже звонят")
        out = _command(o.id, commands.Dial(lead.id))
    return {**out, "lead_id": lead.id, "phone": lead.phone, "order_id": lead.external_id}


def _on_do_not_call(phone: str) -> bool:
    from rules import dnc

    return dnc.contains(phone)


def not_an_operator() -> NotFound:
    """The user may use the panel but no operator is theirs (e.g. an administrator): nothing to show."""
    return NotFound("not-an-operator", "your account is not linked to an operator",
                    message_ru="ваша учётная запись не связана с оператором")


__all__ = ["Forbidden", "Invalid", "state", "call_card", "set_status", "set_auto_answer", "answer", "hang_up",
           "wrap_up", "manual_dial", "not_an_operator"]
