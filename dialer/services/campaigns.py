"""Campaign use cases: create, update, read, list with lead counts by state."""
from __future__ import annotations

import re

from peewee import IntegrityError, fn

from .. import audit
from ..errors import Conflict, Invalid
from ..models import Campaign, CampaignResult, Lead
from . import fields as f

LEAD_STATES = ("new", "callable", "in_progress", "done", "exhausted")


def _check_name(value) -> str:
    return f.text("name", value, min_len=1, max_len=200)


# one checker per editable field; ranges mirror the CHECKs of sql/001_init.sql
CHECKS = {
    "name": _check_name,
    "active": lambda v: f.boolean("active", v),
    "max_attempts": lambda v: f.integer("max_attempts", v, 1, 100),
    "retry_delay_s": lambda v: f.integer("retry_delay_s", v, 0, 2_592_000),
    "ring_timeout_s": lambda v: f.integer("ring_timeout_s", v, 5, 300),
    # shown to clients and put in a SIP header: short, printable
    "caller_id": lambda v: f.text("caller_id", v, max_len=80),
    "wrap_up_limit_s": lambda v: f.integer("wrap_up_limit_s", v, 0, 86_400),
    "auto_ready": lambda v: f.boolean("auto_ready", v),
    # operator panel (sql/006_panel.sql)
    "operator_answer_timeout_s": lambda v: f.integer("operator_answer_timeout_s", v, 3, 600),
    "missed_offers_limit": lambda v: f.integer("missed_offers_limit", v, 1, 100),
    "order_url_template": lambda v: _order_url_template(v),
}


def _order_url_template(value) -> str:
    value = f.text("order_url_template", value, max_len=500)
    if value and not value.startswith(("http://", "https://")):
        raise f.invalid("order_url_template", "must start with http:// or https:// (or be empty)",
                        "должна начинаться с http:// или https:// (или быть пустой)")
    return value


def _name_taken(name: str) -> Conflict:
    return Conflict("campaign-name-taken", f"a campaign named {name!r} already exists",
                    field="name", message_ru=f"кампания с названием «{name}» уже существует")


def _checked(values: dict) -> dict:
    unknown = sorted(set(values) - set(CHECKS))
    if unknown:
        raise Invalid("invalid-field", f"unknown field(s): {', '.join(unknown)}", field=unknown[0],
                      message_ru=f"неизвестные поля: {', '.join(unknown)}")
    return {key: CHECKS[key](value) for key, value in values.items()}


def _save(campaign_id: int | None, values: dict) -> int:
    """Insert or update in one transaction; the unique name is enforced by the table too (races)."""
    db = f.database()
    name = values.get("name")
    try:
        with db.atomic():
            if name is not None and Campaign.select().where(
                    Campaign.name == name, Campaign.id != (campaign_id or 0)).exists():
                raise _name_taken(name)
            if campaign_id is None:
                new_id = Campaign.insert(**values).execute()
                audit.record(db, "created", "campaign", new_id, name="Кампания создана", new=values)
                return new_id
            if values:
                old = Campaign.select(*(getattr(Campaign, k) for k in values)).where(
                    Campaign.id == campaign_id).dicts().get()
                Campaign.update(**values).where(Campaign.id == campaign_id).execute()
                audit.record(db, "updated", "campaign", campaign_id, name="Кампания изменена", old=old, new=values)
            return campaign_id
    except IntegrityError:
        raise _name_taken(name) from None


def create_campaign(name, max_attempts=5, retry_delay_s=1800, ring_timeout_s=30, caller_id="",
                    wrap_up_limit_s=0, auto_ready=True) -> dict:
    values = _checked(dict(name=name, max_attempts=max_attempts, retry_delay_s=retry_delay_s,
                           ring_timeout_s=ring_timeout_s, caller_id=caller_id,
                           wrap_up_limit_s=wrap_up_limit_s, auto_ready=auto_ready))
    return get_campaign(_save(None, values))


def update_campaign(campaign_id, **changes) -> dict:
    """Change only the given fields (name, active, max_attempts, ...); unknown fields are refused."""
    f.existing_campaign(campaign_id)
    _save(campaign_id, _checked(changes))
    return get_campaign(campaign_id)


def _lead_counts(campaign_ids: list[int]) -> dict[int, dict]:
    counts = {cid: dict.fromkeys(LEAD_STATES, 0) for cid in campaign_ids}
    rows = (Lead.select(Lead.campaign, Lead.state, fn.COUNT(Lead.id).alias("n"))
            .where(Lead.campaign.in_(campaign_ids)).group_by(Lead.campaign, Lead.state).tuples())
    for cid, state, n in rows:
        counts[cid][state] = n
    return counts


def _as_dict(c: Campaign, counts: dict) -> dict:
    return {"id": c.id, "name": c.name, "active": c.active, "max_attempts": c.max_attempts,
            "retry_delay_s": c.retry_delay_s, "ring_timeout_s": c.ring_timeout_s,
            "caller_id": c.caller_id, "wrap_up_limit_s": c.wrap_up_limit_s,
            "auto_ready": c.auto_ready, "created_at": f.iso(c.created_at),
            "operator_answer_timeout_s": c.operator_answer_timeout_s, "missed_offers_limit": c.missed_offers_limit,
            "order_url_template": c.order_url_template,
            "leads": counts, "leads_total": sum(counts.values())}


def get_campaign(campaign_id) -> dict:
    c = f.existing_campaign(campaign_id)
    return _as_dict(c, _lead_counts([c.id])[c.id])


def list_campaigns() -> list[dict]:
    campaigns = list(Campaign.select().order_by(Campaign.id))
    counts = _lead_counts([c.id for c in campaigns]) if campaigns else {}
    return [_as_dict(c, counts[c.id]) for c in campaigns]


RESULT_CODE = r"^[a-z0-9_]{1,40}$"
MAX_RESULTS = 50


def _checked_results(results) -> list[dict]:
    if not isinstance(results, list) or not 1 <= len(results) <= MAX_RESULTS:
        raise f.invalid("results", f"must be a list of 1 to {MAX_RESULTS} results",
                        f"должен быть списком из 1–{MAX_RESULTS} результатов")
    out, seen = [], set()
    for i, r in enumerate(results):
        if not isinstance(r, dict) or set(r) - {"code", "title", "closes_lead"}:
            raise f.invalid(f"results[{i}]", "must be an object with code, title and closes_lead",
                            "должен быть объектом с полями code, title, closes_lead")
        code = f.text(f"results[{i}].code", r.get("code"), min_len=1, max_len=40)
        if not re.fullmatch(RESULT_CODE, code):
            raise f.invalid(f"results[{i}].code", "only a-z, 0-9 and _", "только a-z, 0-9 и _")
        if code in seen:
            raise f.invalid(f"results[{i}].code", f"{code!r} is listed twice", f"«{code}» указан дважды")
        seen.add(code)
        out.append({"code": code, "title": f.text(f"results[{i}].title", r.get("title"), min_len=1, max_len=200),
                    "closes_lead": f.boolean(f"results[{i}].closes_lead", r.get("closes_lead", True)),
                    "position": i})
    return out


def list_results(campaign_id) -> list[dict]:
    f.existing_campaign(campaign_id)
    return list(CampaignResult.select(CampaignResult.code, CampaignResult.title, CampaignResult.closes_lead)
                .where(CampaignResult.campaign == campaign_id)
                .order_by(CampaignResult.position, CampaignResult.id).dicts())


def set_results(campaign_id, results) -> list[dict]:
    """Replace the wrap-up results an operator chooses from, in this order (audited as one change)."""
    results = _checked_results(results)
    with f.database().atomic():
        campaign = f.existing_campaign(campaign_id)
        old = list_results(campaign.id)
        CampaignResult.delete().where(CampaignResult.campaign == campaign.id).execute()
        CampaignResult.insert_many([{**r, "campaign": campaign.id} for r in results]).execute()
        new = list_results(campaign.id)
        audit.record(f.database(), "updated", "campaign", campaign.id, name="Результаты кампании изменены",
                     old={"results": old}, new={"results": new})
    return new
