"""Campaign use cases: create, update, read, list with lead counts by state and today's live counters,
the wrap-up results with their CRM status, and the settings the claim and the engine read (rules/window.py)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from peewee import IntegrityError

from rules import window as calling

from .. import audit
from ..clock import day_start
from ..errors import Conflict, Invalid
from ..models import Campaign, CampaignResult
from ..outcomes import ORDER
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
    # sql/013_campaign_settings.sql
    "calling_window": lambda v: _calling_window(v),
    "max_per_day": lambda v: f.optional_integer("max_per_day", v, 1, 50),
    "min_pause_minutes": lambda v: f.optional_integer("min_pause_minutes", v, 0, 525_600),
    "retry_delays": lambda v: _retry_delays(v),
    "exhausted_status": lambda v: f.text("exhausted_status", v, max_len=100),
}
RETRY_OUTCOMES = ("NO_ANSWER", "BUSY", "REJECTED", "LOST", "ERROR")  # an answered call waits for its wrap-up


def _calling_window(value) -> dict:
    """The window's canonical JSON; its mistakes keep their own paths (window.from, window.weekend.to)."""
    return calling.to_json(calling.validate(value))


def _retry_delays(value) -> dict:
    """{outcome: seconds}; an outcome left out (or null) waits the campaign's retry_delay_s."""
    if not isinstance(value, dict):
        raise f.invalid("retry_delays", "must be an object {outcome: seconds}", "должно быть объектом {исход: секунды}")
    out = {}
    for key, seconds in value.items():
        if key not in RETRY_OUTCOMES:
            raise f.invalid("retry_delays", f"unknown outcome {str(key)[:40]!r} (one of: {', '.join(RETRY_OUTCOMES)})",
                            f"неизвестный исход {str(key)[:40]!r} (допустимы: {', '.join(RETRY_OUTCOMES)})")
        if seconds is not None:
            out[key] = f.integer(f"retry_delays.{key}", seconds, 0, 2_592_000)
    return out


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


def _forget_queues(db, campaign_id: int) -> None:
    """The claim queues were filled under the old window and limits: the next claims walk, the job refills."""
    db.execute_sql("DELETE FROM claim_queue_fill WHERE selection_id IN (SELECT id FROM selection WHERE campaign_id = %s)",
                   (campaign_id,))


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
                if {"calling_window", "max_per_day", "min_pause_minutes"} & set(values):
                    _forget_queues(db, campaign_id)
                audit.record(db, "updated", "campaign", campaign_id, name="Кампания изменена", old=old, new=values)
            return campaign_id
    except IntegrityError:
        raise _name_taken(name) from None


def create_campaign(name, max_attempts=5, retry_delay_s=1800, ring_timeout_s=30, caller_id="",
                    wrap_up_limit_s=0, auto_ready=True, **more) -> dict:
    """A new campaign; without `calling_window` it gets the default window (`rules.window.DEFAULT`): calling at
    any hour is only ever an explicit `{"any_hour": true}`."""
    values = _checked(dict(name=name, max_attempts=max_attempts, retry_delay_s=retry_delay_s,
                           ring_timeout_s=ring_timeout_s, caller_id=caller_id,
                           wrap_up_limit_s=wrap_up_limit_s, auto_ready=auto_ready,
                           **{"calling_window": calling.DEFAULT, **more}))
    return get_campaign(_save(None, values))


def update_campaign(campaign_id, **changes) -> dict:
    """Change only the given fields (name, active, max_attempts, ...); unknown fields are refused."""
    f.existing_campaign(campaign_id)
    _save(campaign_id, _checked(changes))
    return get_campaign(campaign_id)


# the leads by state, from the rows the lead's triggers keep (sql/020_campaign_counts.sql): a few rows per
# campaign, where counting the leads themselves read all of them (612 ms at 1,000,000, bench.campaign_pages)
_LEAD_COUNTS_SQL = """
SELECT campaign_id, state, sum(leads) FROM campaign_lead_count WHERE campaign_id = ANY(%(ids)s) GROUP BY 1, 2"""


def _lead_counts(campaign_ids: list[int]) -> dict[int, dict]:
    counts = {cid: dict.fromkeys(LEAD_STATES, 0) for cid in campaign_ids}
    for cid, state, n in f.database().execute_sql(_LEAD_COUNTS_SQL, {"ids": list(campaign_ids)}).fetchall():
        if n or state in LEAD_STATES:  # a state no lead is in any more is left out, as a count of the leads would
            counts[cid][state] = int(n)
    return counts


def _as_dict(c: Campaign, counts: dict) -> dict:
    return {"id": c.id, "name": c.name, "active": c.active, "max_attempts": c.max_attempts,
            "retry_delay_s": c.retry_delay_s, "ring_timeout_s": c.ring_timeout_s,
            "caller_id": c.caller_id, "wrap_up_limit_s": c.wrap_up_limit_s,
            "auto_ready": c.auto_ready, "created_at": f.iso(c.created_at),
            "operator_answer_timeout_s": c.operator_answer_timeout_s, "missed_offers_limit": c.missed_offers_limit,
            "order_url_template": c.order_url_template,
            "calling_window": calling.to_json(calling.parse_stored(c.calling_window)),
            "max_per_day": c.max_per_day, "min_pause_minutes": c.min_pause_minutes,
            "retry_delays": dict(c.retry_delays or {}), "exhausted_status": c.exhausted_status,
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
        if not isinstance(r, dict) or set(r) - {"code", "title", "closes_lead", "crm_status"}:
            raise f.invalid(f"results[{i}]", "must be an object with code, title, closes_lead (and crm_status)",
                            "должен быть объектом с полями code, title, closes_lead (и crm_status)")
        code = f.text(f"results[{i}].code", r.get("code"), min_len=1, max_len=40)
        if not re.fullmatch(RESULT_CODE, code):
            raise f.invalid(f"results[{i}].code", "only a-z, 0-9 and _", "только a-z, 0-9 и _")
        if code in seen:
            raise f.invalid(f"results[{i}].code", f"{code!r} is listed twice", f"«{code}» указан дважды")
        seen.add(code)
        out.append({"code": code, "title": f.text(f"results[{i}].title", r.get("title"), min_len=1, max_len=200),
                    "closes_lead": f.boolean(f"results[{i}].closes_lead", r.get("closes_lead", True)),
                    "position": i})
        if "crm_status" in r:  # absent: the CRM mapping of this result is left as it is
            out[-1]["crm_status"] = f.text(f"results[{i}].crm_status", r["crm_status"] or "", max_len=100) or None
    return out


def _connections(campaign_id: int) -> list[int]:
    return [row[0] for row in f.database().execute_sql(
        "SELECT id FROM crm_connection WHERE campaign_id = %s ORDER BY id", (campaign_id,)).fetchall()]


def crm_statuses(campaign_id) -> list[dict]:
    """The CRM statuses a result may set: those of the campaign's CRM connections (their status mapping)."""
    rows = f.database().execute_sql(
        "SELECT DISTINCT ON (m.status_id) m.status_id, m.name FROM crm_status_map m"
        " JOIN crm_connection c ON c.id = m.connection_id WHERE c.campaign_id = %s ORDER BY m.status_id",
        (campaign_id,)).fetchall()
    return [{"status_id": sid, "name": name or sid} for sid, name in rows]


def _check_crm_statuses(campaign_id: int, results: list[dict]) -> None:
    known = {s["status_id"] for s in crm_statuses(campaign_id)}
    for i, r in enumerate(results):
        status = r.get("crm_status")
        if status and status not in known:
            raise f.invalid(f"results[{i}].crm_status",
                            f"{status!r} is not a status of this campaign's CRM (see the CRM status mapping)",
                            f"«{status}» — не статус CRM этой кампании (см. соответствие статусов CRM)")


def _set_crm_statuses(campaign_id: int, results: list[dict]) -> None:
    """A result's CRM status is the CRM mapping's (crm_result_map), for every CRM connection of the campaign."""
    db = f.database()
    for conn in _connections(campaign_id):
        for r in results:
            if "crm_status" in r:
                db.execute_sql("INSERT INTO crm_result_map (connection_id, result_code, status_id) VALUES (%s, %s, %s)"
                               " ON CONFLICT (connection_id, result_code) DO UPDATE SET status_id = excluded.status_id",
                               (conn, r["code"], r["crm_status"]))


def list_results(campaign_id) -> list[dict]:
    """The results in order, each with the CRM status it sets (the first CRM connection's mapping; None: none)."""
    f.existing_campaign(campaign_id)
    rows = f.database().execute_sql(
        "SELECT r.code, r.title, r.closes_lead, (SELECT m.status_id FROM crm_result_map m JOIN crm_connection c"
        "  ON c.id = m.connection_id WHERE c.campaign_id = r.campaign_id AND m.result_code = r.code"
        "  ORDER BY c.id LIMIT 1) FROM campaign_result r WHERE r.campaign_id = %s ORDER BY r.position, r.id",
        (campaign_id,)).fetchall()
    return [{"code": code, "title": title, "closes_lead": closes, "crm_status": status}
            for code, title, closes, status in rows]


def set_results(campaign_id, results) -> list[dict]:
    """Replace the wrap-up results an operator chooses from, in this order (audited as one change)."""
    results = _checked_results(results)
    with f.database().atomic():
        campaign = f.existing_campaign(campaign_id)
        old = list_results(campaign.id)
        _check_crm_statuses(campaign.id, results)
        CampaignResult.delete().where(CampaignResult.campaign == campaign.id).execute()
        CampaignResult.insert_many([{k: v for k, v in r.items() if k != "crm_status"} | {"campaign": campaign.id}
                                    for r in results]).execute()
        _set_crm_statuses(campaign.id, results)
        new = list_results(campaign.id)
        audit.record(f.database(), "updated", "campaign", campaign.id, name="Результаты кампании изменены",
                     old={"results": old}, new={"results": new})
    return new


# ---- the list's live counters --------------------------------------------------------------------------------
# Today's attempts by outcome: those that ended since the local midnight, read from the hourly report rollup
# (sql/017_report_rollup.sql, kept by the attempt's triggers) for whole UTC hours — a few rows per campaign and
# hour, however many attempts a busy day has — and counted from `attempt` (its ended_at index) only for the part
# of an hour before the first whole one, where the zone's midnight is not on a UTC hour (Asia/Kolkata).
_TODAY_SQL = """
SELECT campaign_id, outcome, sum(n)::bigint FROM (
    SELECT r.campaign_id, x.outcome, x.n FROM report_rollup r
     CROSS JOIN LATERAL (VALUES ('ANSWERED', r.n_answered), ('NO_ANSWER', r.n_no_answer), ('BUSY', r.n_busy),
                                ('REJECTED', r.n_rejected), ('LOST', r.n_lost), ('ERROR', r.n_error)) AS x (outcome, n)
     WHERE r.hour >= %(hour)s AND r.campaign_id = ANY(%(ids)s)
    UNION ALL
    SELECT campaign_id, outcome, count(*) FROM attempt
     WHERE ended_at >= %(since)s AND ended_at < %(hour)s AND campaign_id = ANY(%(ids)s) GROUP BY 1, 2
) today GROUP BY 1, 2 HAVING sum(n) <> 0"""
_LIVE_SQL = """
SELECT campaign_id, array_agg(id ORDER BY id) FROM attempt WHERE ended_at IS NULL AND campaign_id = ANY(%(ids)s)
 GROUP BY 1"""
_POOL_SQL = """
SELECT oc.campaign_id, o.status, count(*) FROM operator_campaign oc JOIN operator o ON o.id = oc.operator_id
 WHERE o.active AND oc.campaign_id = ANY(%(ids)s) GROUP BY 1, 2"""


# the four in one statement (one round trip: the list page's time was mostly its statements' waits on a busy machine)
_COUNTERS_SQL = f"""
SELECT 'leads', campaign_id, state, sum(leads)::bigint, NULL::bigint[] FROM campaign_lead_count
 WHERE campaign_id = ANY(%(ids)s) GROUP BY 2, 3
UNION ALL SELECT 'today', t.*, NULL FROM ({_TODAY_SQL}) t
UNION ALL SELECT 'live', l.campaign_id, NULL, NULL, l.ids FROM ({_LIVE_SQL}) l (campaign_id, ids)
UNION ALL SELECT 'pool', p.* , NULL FROM ({_POOL_SQL}) p"""


def _next_whole_hour(moment: datetime) -> datetime:
    """The first whole UTC hour at or after `moment` (the report rollup's rows are UTC hours)."""
    utc = moment.astimezone(timezone.utc)
    floor = utc.replace(minute=0, second=0, microsecond=0)
    return floor if floor == utc else floor + timedelta(hours=1)


def counters(campaign_ids: list[int], now: datetime | None = None, zone: str | None = None) -> dict[int, dict]:
    """Per campaign: leads by state, today's attempts by outcome (SPEC A2 order), calls in progress, the pool's
    operators by status. One statement of four grouped parts, whatever the number of campaigns."""
    now = now or datetime.now(timezone.utc)
    out = {cid: {"leads": dict.fromkeys(LEAD_STATES + ("held",), 0), "today": {o.value: 0 for o in ORDER},
                 "in_progress": 0, "live_attempts": [], "pool": {}, "pool_total": 0} for cid in campaign_ids}
    if not campaign_ids:
        return out
    since = day_start(now, zone)
    args = {"ids": list(campaign_ids), "since": since, "hour": _next_whole_hour(since)}
    for part, cid, key, n, live in f.database().execute_sql(_COUNTERS_SQL, args).fetchall():
        if part == "leads":
            if n or key in LEAD_STATES:  # a state no lead is in any more is left out, as a count of the leads would
                out[cid]["leads"][key] = int(n)
        elif part == "today":
            out[cid]["today"][key] = n
        elif part == "live":
            out[cid]["in_progress"] = len(live)
            out[cid]["live_attempts"] = live  # the page follows them by id: an event seen twice changes nothing
        else:
            out[cid]["pool"][key] = n
            out[cid]["pool_total"] += n
    for c in out.values():
        c["today_total"] = sum(c["today"].values())
        c["leads_total"] = sum(c["leads"].values())
    return out


def overview(now: datetime | None = None, zone: str | None = None) -> list[dict]:
    """Every campaign with its state and live counters (the «Кампании» list)."""
    campaigns = list(Campaign.select(Campaign.id, Campaign.name, Campaign.active, Campaign.calling_window)
                     .order_by(Campaign.id))
    found = counters([c.id for c in campaigns], now, zone)
    return [{"id": c.id, "name": c.name, "active": c.active,
             "calling_window": calling.to_json(calling.parse_stored(c.calling_window)), **found[c.id]}
            for c in campaigns]


# The page's picture to follow live (web/static/js/campaigns.js): besides the rows, the pools' operators with their
# status (an `operator.status` event names the operator only), the attempts that ended lately (an attempt's end is
# counted once, even when a later event of it comes), and where today ends.
_LIST_EXTRAS_SQL = """
SELECT (SELECT jsonb_object_agg(id, jsonb_build_object('status', status, 'campaign_ids', cids, 'since', since))
          FROM (SELECT o.id, o.status, array_agg(oc.campaign_id ORDER BY oc.campaign_id) AS cids, o.status_since AS since
                  FROM operator o JOIN operator_campaign oc ON oc.operator_id = o.id WHERE o.active GROUP BY o.id) p),
       ARRAY(SELECT id FROM attempt WHERE ended_at >= %s ORDER BY id)"""
ENDED_LATELY = timedelta(minutes=10)


def list_state(now: datetime | None = None, zone: str | None = None) -> dict:
    """`overview` and what the page needs to apply each live event's facts to it. Read it in one snapshot with
    the live-event cursor (web/pages/campaigns.py), so that every change is either in it or an event after it."""
    now = now or datetime.now(timezone.utc)
    since = day_start(now, zone)
    operators, lately = f.database().execute_sql(_LIST_EXTRAS_SQL, (now - ENDED_LATELY,)).fetchone()
    return {"campaigns": overview(now, zone), "operators": operators or {}, "ended_lately": lately, "now": f.iso(now),
            "day_start": f.iso(since), "day_end": f.iso(day_start(since + timedelta(hours=26), zone))}


# ---- «Почему не звоним?» ---------------------------------------------------------------------------------------
def _reason(code: str, ru: str, en: str, n: int | None = None) -> dict:
    return {"code": code, "count": n, "text_ru": ru, "text_en": en}


def _hours(w: dict) -> str:
    return "круглосуточно" if w.get("any_hour") else f"{w.get('from')}–{w.get('to')}"


def why_idle(campaign_id, now: datetime | None = None) -> dict:
    """The reasons nothing of this campaign is dialled now, in plain words (most decisive first), from the
    counts of `rules.idle` (which counts the campaign's window and limits the way the claim applies them)."""
    from zoneinfo import ZoneInfo

    from rules import idle

    now = now or datetime.now(timezone.utc)
    counts = idle.idle_reasons(campaign_id, now)
    leads, sels = counts["leads"], [s for s in counts["selections"] if s.get("enabled")]
    db = f.database()
    ready = db.execute_sql("SELECT count(*) FROM operator_campaign oc JOIN operator o ON o.id = oc.operator_id"
                           " WHERE oc.campaign_id = %s AND o.status = 'ready' AND o.active", (campaign_id,)).fetchone()[0]
    reasons = []
    if not counts["campaign_active"]:
        reasons.append(_reason("paused", "кампания на паузе", "the campaign is paused"))
    if ready == 0:
        reasons.append(_reason("nobody_ready", "нет операторов в статусе «Готов»", "no operator is Ready"))
    if not sels:
        reasons.append(_reason("no_selection", "все выборки выключены", "every selection is disabled"))
    closed = max((s.get("window_closed", 0) for s in sels), default=0)
    if closed:
        zone, = db.execute_sql(
            "SELECT time_zone FROM lead WHERE campaign_id = %s AND state IN ('new', 'callable')"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", (campaign_id,)).fetchone() or ("Europe/Moscow",)
        local = now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        w = counts["calling_window"]
        reasons.append(_reason("window_closed", f"{closed} лидов вне окна звонков (сейчас {local} в {zone}, окно {_hours(w)})",
                               f"{closed} leads outside the calling window (now {local} in {zone}, window {_hours(w)})",
                               closed))
    if leads["do_not_call"]:
        n = leads["do_not_call"]
        reasons.append(_reason("do_not_call", f"{n} лидов в списке «Не звонить»", f"{n} leads on the do-not-call list", n))
    if leads["in_queue"] and leads["not_due_yet"] == leads["in_queue"]:
        first = db.execute_sql("SELECT min(next_call_at) FROM lead WHERE campaign_id = %s AND state IN ('new', 'callable')",
                               (campaign_id,)).fetchone()[0]
        at = first.astimezone(ZoneInfo(counts.get("zone") or "Europe/Moscow")).strftime("%d.%m %H:%M") if first else "—"
        reasons.append(_reason("waiting_retry", f"все лиды ждут повторного звонка (ближайший в {at})",
                               f"every lead waits for its retry (the next at {at})", leads["in_queue"]))
    if not leads["in_queue"]:
        reasons.append(_reason("no_leads", "нет лидов для звонка", "no leads to call"))
    return {"campaign_id": counts["campaign_id"], "at": counts["at"], "callable_now": counts["callable_now"],
            "ready_operators": ready, "reasons": reasons, "counts": counts}
