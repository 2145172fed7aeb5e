"""«Поиск» (SPEC E3, D5, F7): find an order by phone in any written form, order id, lead number or a part of
the client's name, across campaigns; the lead card with its attempts, callbacks, state, CRM link and the
plain-words answer to "why is it not being dialled"; and a supervisor's changes to it (reschedule,
priority, do-not-call), each audited.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from peewee import JOIN

from rules import dnc
from rules import window as cw
from rules.explain import SelectionRule, explain
from rules.model import validate

from .. import audit
from ..errors import Conflict, NotFound
from ..models import Attempt, Campaign, CampaignResult, DoNotCall, Lead, Operator, OperatorCampaign, Selection
from ..outcomes import Outcome
from . import fields as f

MAX_RESULTS = 50
MIN_NAME_PART = 3   # shorter parts match too much to be useful (and a trigram index needs three letters)
MIN_PHONE_PART = 5  # a few digits of a number: "the one ending in 4567" is five or more
PRIORITY_RANGE = (-1_000_000_000, 1_000_000_000)
RESCHEDULE_AHEAD = timedelta(days=366)
_PHONE_LIKE = re.compile(r"^[\d\s()+.\-]+$")


def lead_not_found(lead_id) -> NotFound:
    return NotFound("lead-not-found", f"lead {lead_id} does not exist", lead_id=lead_id,
                    message_ru=f"заказ {lead_id} не найден")


def _like(text: str) -> str:
    """`%text%` with LIKE's own wildcards in `text` taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_terms(query) -> dict:
    """What a search box's text can mean (pure): a phone number, its digits, an order id, a lead number, a name."""
    text = f.text("q", query, min_len=1, max_len=200).strip()
    if not text:
        raise f.invalid("q", "type a phone number, an order id or a name", "введите телефон, номер заказа или имя")
    terms: dict = {"external_id": text}
    if _PHONE_LIKE.match(text):
        from ..phones import normalise_phone  # phone tables load on first use

        digits = re.sub(r"\D", "", text)
        phone = normalise_phone(text, dnc.DEFAULT_REGION)
        if phone:
            terms["phone"] = phone
        # a whole number is found by its index; a part of one needs the trigram scan, which on a million leads
        # sharing a prefix read most of them (bench.campaign_pages: 25 ms against 0.4 ms for a key)
        if len(digits) >= MIN_PHONE_PART and not (phone and len(digits) >= 10):
            terms["phone_part"] = digits[-10:] if len(digits) > 10 else digits  # 8 900 … and +7 900 … alike
        if digits == text and len(digits) < 19:
            terms["lead_id"] = int(digits)
    if len(text) >= MIN_NAME_PART and not _PHONE_LIKE.match(text):
        terms["name_part"] = text.lower()
    return terms


# One statement per shape of the search (which of the terms a query has): fixed text, every value a parameter,
# prepared once per server session (dialer.prepared) — planning the OR of index look-ups and the join cost more
# than running them (bench.campaign_pages: a search was 6× a key fetch). Each part has its index: external_id
# (sql/014), phone, the key, the trigram indexes for parts of a number or a name.
_SEARCH_PARTS = (("external_id", "l.external_id = %(external_id)s"), ("phone", "l.phone = %(phone)s"),
                 ("phone_part", "l.phone LIKE %(phone_part)s"), ("lead_id", "l.id = %(lead_id)s"),
                 ("name_part", "lower(l.name) LIKE %(name_part)s"))
_SEARCH_SQL = """
SELECT l.id, l.campaign_id, c.name, l.external_id, l.name, l.phone, l.state, l.attempts, l.last_outcome,
       l.next_call_at, l.callback, l.crm_status
  FROM lead l JOIN campaign c ON c.id = l.campaign_id
 WHERE ({where}){campaign}
 ORDER BY ({exact}) DESC, l.id DESC LIMIT %(limit)s"""
_SEARCH_TYPES = {"external_id": "text", "phone": "text", "phone_part": "text", "lead_id": "bigint",
                 "name_part": "text", "campaign_id": "bigint", "limit": "integer"}


def _search_sql(terms: dict, by_campaign: bool) -> str:
    where = " OR ".join(part for key, part in _SEARCH_PARTS if key in terms)
    exact = " OR ".join(part for key, part in _SEARCH_PARTS[:2] if key in terms)
    return _SEARCH_SQL.format(where=where, exact=exact, campaign=" AND l.campaign_id = %(campaign_id)s" if by_campaign else "")


def search(query, campaign_id=None, limit=MAX_RESULTS) -> dict:
    """Leads that match, exact matches (number, order id) first, then the newest."""
    from ..prepared import execute

    terms = search_terms(query)
    limit = f.integer("limit", limit, 1, MAX_RESULTS)
    if terms.get("lead_id", 0) > f.MAX_ID:
        del terms["lead_id"]
    values = {k: (_like(v) if k in ("phone_part", "name_part") else v) for k, v in terms.items()}
    by_campaign = campaign_id not in (None, "")
    if by_campaign:
        values["campaign_id"] = f.existing_campaign(campaign_id).id
    values["limit"] = limit + 1
    rows = execute(f.database(), _search_sql(terms, by_campaign), values, types=_SEARCH_TYPES).fetchall()
    return {"q": query, "results": [_row(x) for x in rows[:limit]], "more": len(rows) > limit}


_ROW = ("id", "campaign_id", "campaign", "external_id", "name", "phone", "state", "attempts", "last_outcome",
        "next_call_at", "callback", "crm_status")


def _row(values: tuple) -> dict:
    row = dict(zip(_ROW, values))
    row["next_call_at"] = f.iso(row["next_call_at"])
    return row


def existing_lead(lead_id, *, lock: bool = False) -> Lead:
    if not f.is_id(lead_id):
        raise lead_not_found(lead_id)
    query = Lead.select().where(Lead.id == lead_id)
    found = (query.for_update() if lock else query).first()
    if found is None:
        raise lead_not_found(lead_id)
    return found


COLUMNS = ("time_zone", "next_call_at", "state", "attempts", "attempts_today", "attempts_day", "last_attempt_at",
           "callback", "country", "region", "city", "product", "crm_status", "name", "external_id", "phone",
           "amount", "priority", "birth_date", "created_at", "attrs", "id")


def lead_columns(lead: Lead) -> dict:
    """The lead as `rules.evaluate` reads it."""
    return {c: getattr(lead, c) for c in COLUMNS} | {"attrs": lead.attrs or {}}


def _attempts(lead_id: int) -> list[dict]:
    rows = (Attempt.select(Attempt, Operator).join(Operator, JOIN.LEFT_OUTER)
            .where(Attempt.lead == lead_id).order_by(Attempt.id.desc()).limit(200))
    out = []
    for a in rows:
        outcome = Outcome(a.outcome) if a.outcome in Outcome.__members__ else None
        start = a.dial_started_at or a.reserved_at
        talk = (a.ended_at - a.answered_at).total_seconds() if a.answered_at and a.ended_at else None
        out.append({"id": a.id, "at": f.iso(start), "ended_at": f.iso(a.ended_at), "phone": a.phone,
                    "operator": a.operator.name if a.operator_id else "", "manual": a.manual,
                    "outcome": a.outcome, "outcome_ru": outcome.label_ru if outcome else "",
                    "outcome_en": outcome.label_en if outcome else "", "colour": outcome.colour if outcome else "",
                    "talk_s": None if talk is None else round(talk), "wrap_up_result": a.wrap_up_result or "",
                    "wrap_up_comment": a.wrap_up_comment or "", "cause": a.cause_text or a.error or "",
                    "selection_id": a.selection_id})
    return out


def _why(lead: Lead, campaign: Campaign, now: datetime) -> dict:
    selections = [SelectionRule(s.id, s.name, s.enabled, validate(s.rule))
                  for s in Selection.select().where(Selection.campaign == campaign.id)
                  .order_by(Selection.position, Selection.id)]
    listed = DoNotCall.select().where(DoNotCall.phone == lead.phone).exists()
    ready = (Operator.select().join(OperatorCampaign)
             .where(OperatorCampaign.campaign == campaign.id, Operator.status == "ready").count())
    claim = cw.CampaignClaim(cw.parse_stored(campaign.calling_window), campaign.max_per_day, campaign.min_pause_minutes)
    return explain(lead_columns(lead), now, campaign_active=campaign.active, selections=selections,
                   listed=listed, operators_ready=ready, campaign=claim)


def lead_card(lead_id, now: datetime | None = None) -> dict:
    """Everything about one lead, for the card of «Поиск»."""
    from .panel import order_url

    lead = existing_lead(lead_id)
    campaign = Campaign.get_by_id(lead.campaign_id)
    now = now or datetime.now(timezone.utc)
    listed = DoNotCall.get_or_none(DoNotCall.phone == lead.phone)
    results = {r.code: r.title for r in CampaignResult.select().where(CampaignResult.campaign == campaign.id)}
    attempts = _attempts(lead.id)
    for a in attempts:
        a["wrap_up_title"] = results.get(a["wrap_up_result"], a["wrap_up_result"])
    zone = ZoneInfo(lead.time_zone)
    return {
        "id": lead.id, "external_id": lead.external_id, "name": lead.name, "phone": lead.phone,
        "campaign": {"id": campaign.id, "name": campaign.name, "active": campaign.active,
                     "max_attempts": campaign.max_attempts},
        "state": lead.state, "attempts": lead.attempts, "attempts_today": lead.attempts_today,
        "next_call_at": f.iso(lead.next_call_at), "callback": lead.callback,
        "next_call_local": lead.next_call_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if lead.next_call_at else "",
        "last_attempt_at": f.iso(lead.last_attempt_at), "last_outcome": lead.last_outcome,
        "created_at": f.iso(lead.created_at), "priority": lead.priority,
        "fields": {"country": lead.country, "region": lead.region, "city": lead.city, "product": lead.product,
                   "crm_status": lead.crm_status, "amount": None if lead.amount is None else str(lead.amount),
                   "birth_date": f.iso(lead.birth_date)},
        "time_zone": lead.time_zone, "time_zone_source": lead.time_zone_source,
        "local_now": now.astimezone(zone).strftime("%H:%M"),
        "attrs": lead.attrs or {}, "order_url": order_url(campaign, lead),
        "do_not_call": None if listed is None else {"reason": listed.reason, "source": listed.source,
                                                     "added_at": f.iso(listed.added_at)},
        "attempt_list": attempts, "why": _why(lead, campaign, now),
    }


def _audited(lead: Lead) -> dict:
    return {"state": lead.state, "next_call_at": lead.next_call_at, "callback": lead.callback,
            "priority": lead.priority}


def reschedule(lead_id, when, now: datetime | None = None) -> dict:
    """Call the lead at `when` (the client's local time, YYYY-MM-DDTHH:MM), first among its selection (a
    callback). A closed or exhausted lead goes back in the queue; one in a call cannot be moved."""
    now = now or datetime.now(timezone.utc)
    if not isinstance(when, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", when.strip()):
        raise f.invalid("next_call_at", "must be a date and time YYYY-MM-DD HH:MM", "должно быть датой и временем ГГГГ-ММ-ДД ЧЧ:ММ")
    db = f.database()
    with db.atomic():
        lead = existing_lead(lead_id, lock=True)
        try:
            local = datetime.fromisoformat(when.strip().replace(" ", "T"))
        except ValueError:
            raise f.invalid("next_call_at", "is not a real date and time", "такой даты и времени нет") from None
        moment = local.replace(tzinfo=ZoneInfo(lead.time_zone)).astimezone(timezone.utc)
        if moment > now + RESCHEDULE_AHEAD:
            raise f.invalid("next_call_at", "must be within a year", "должно быть не дальше чем через год")
        if lead.state == "in_progress":
            raise Conflict("lead-in-call", "a call to this lead is in progress: reschedule it after the wrap-up",
                           message_ru="по заказу идёт звонок: перенесите его после постобработки")
        if lead.state not in ("new", "callable", "done", "exhausted"):
            raise Conflict("lead-held", "the CRM status holds this lead: change it in the CRM",
                           message_ru="заказ удерживается статусом в CRM: измените его в CRM")
        before = _audited(lead)
        Lead.update(state="callable", next_call_at=moment, callback=True).where(Lead.id == lead.id).execute()
        lead = Lead.get_by_id(lead.id)
        audit.record(db, "updated", "lead", lead.id, name="lead rescheduled", old=before, new=_audited(lead))
    return {"id": lead.id, "state": lead.state, "next_call_at": f.iso(lead.next_call_at)}


def set_priority(lead_id, priority) -> dict:
    priority = f.integer("priority", priority, *PRIORITY_RANGE)
    db = f.database()
    with db.atomic():
        lead = existing_lead(lead_id, lock=True)
        if lead.priority != priority:
            before = _audited(lead)
            Lead.update(priority=priority).where(Lead.id == lead.id).execute()
            lead = Lead.get_by_id(lead.id)
            audit.record(db, "updated", "lead", lead.id, name="lead priority changed", old=before, new=_audited(lead))
    return {"id": lead.id, "priority": lead.priority}


def do_not_call(lead_id, reason="") -> dict:
    """Put the lead's number on the global do-not-call list (audited by the list itself)."""
    lead = existing_lead(lead_id)
    reason = f.text("reason", reason, max_len=dnc.MAX_REASON)
    added = dnc.add(lead.phone, reason or f"lead {lead.id}", "supervisor")
    return {"id": lead.id, "phone": lead.phone, "added": added}
