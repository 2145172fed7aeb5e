"""The supervisor's live screen (SPEC F1–F4, F7): what the screen reads, and what a supervisor forces.

Reading: `board()` is the whole screen at first paint (and after a live `reload`): operators with their current
call and today's figures, campaigns with their queue and today's outcomes. After that the page follows the live
events and only re-counts the queues (`queues()`), which no event carries. `call_detail()` is the call card.

Acting: a forced status, ending a call, releasing a wrap-up, pausing a campaign, acknowledging an alert. Each
checks the principal's permission here too (not only the route's guard), is audited with the supervisor as the
actor, and reaches the engine only through `dialer.commands.enqueue` — the engine stays the only writer of call
and operator state.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import reduce
from operator import or_

from peewee import JOIN

from rules import compile as c
from rules.model import validate

from .. import audit, commands
from ..clock import day_start  # noqa: F401  (also the screen's: "today" begins there)
from . import status_time
from ..access import Principal, allowed
from ..errors import Conflict, Forbidden, NotFound
from ..models import Attempt, Campaign, CampaignResult, Lead, Operator, OperatorCampaign, Selection
from ..outcomes import ORDER, Outcome
from ..validation import choice, database, existing_campaign, existing_operator, is_id, iso

VIEW, OPERATOR_CONTROL, CAMPAIGN_CONTROL = "supervisor.view", "supervisor.operator_control", "supervisor.campaign_control"
ALERTS, CALLS, MONITORING = "supervisor.alerts", "calls.read", "monitoring.read"
STATUSES = {"ready": commands.Ready, "pause": commands.Pause, "lunch": commands.Lunch}
STATUS_RU = {"ready": "Готов", "pause": "Пауза", "lunch": "Обед"}
# the result a wrap-up released by a supervisor records (like the engine's own `wrap_up_timeout`)
RELEASED = "released_by_supervisor"
RECENT = timedelta(minutes=2)  # attempts ended this recently are named in the board (see `board`)
BRIEF_MAX = 100
ALERTS_MAX = 200
EVENTS_MAX = 500


# ---- pure parts ------------------------------------------------------------------------------------------
def rating(answered: int, talk_s: float) -> int:
    """The day's rating, as the page states it: one point per answered call and one per full minute of talk.
    Both only grow during a shift, so the screen can keep it live from the attempt events alone."""
    return answered + int(talk_s // 60)


# the attempt's timeline in its usual order: each stamp starts the stage named beside it
TIMELINE = (("reserved_at", "queued"), ("offered_at", "offered"), ("operator_answered_at", "operator_answered"),
            ("dial_started_at", "dial"), ("ringing_at", "ringing"), ("answered_at", "answered"),
            ("bridged_at", "talk"), ("ended_at", "wrap_up"), ("wrap_up_at", "done"))


def stages(stamps: dict, now: datetime | None = None) -> tuple[list[dict], float]:
    """The call's stages with their durations, and the total they add up to.

    Each present stamp starts a stage that lasts until the next present stamp (by time; the usual order breaks
    ties), so the durations add up to last − first exactly, whatever stamps are missing. A call not over yet
    (no `ended_at`, or ended and still in wrap-up) has its last stage open until `now`. `done` only marks the end.
    """
    order = {key: i for i, (key, _) in enumerate(TIMELINE)}
    present = sorted(((stamps[key], order[key], key, name) for key, name in TIMELINE if stamps.get(key) is not None),
                     key=lambda p: (p[0], p[1]))
    out = []
    for i, (at, _, key, name) in enumerate(present):
        if name == "done":
            continue
        if i + 1 < len(present):
            end, is_open = present[i + 1][0], False
        elif now is not None and not _finished(stamps):
            end, is_open = max(now, at), True
        else:
            continue  # the call's last stamp (it ended with nothing after it): a moment, not a stage
        out.append({"stage": name, "stamp": key, "at": at, "seconds": (end - at).total_seconds(), "open": is_open})
    return out, sum(s["seconds"] for s in out)


def _finished(stamps: dict) -> bool:
    """Nothing more will happen to this call: wrapped up, or ended without a conversation to wrap up."""
    if stamps.get("wrap_up_at") is not None:
        return True
    return stamps.get("ended_at") is not None and stamps.get("outcome") != Outcome.ANSWERED


def _require(who: Principal, permission: str) -> None:
    if not allowed(who, permission):
        raise Forbidden("not-permitted", f"this needs the permission {permission}", permission=permission,
                        message_ru=f"для этого нужно право {permission}")


# ---- reading: the board ----------------------------------------------------------------------------------
def board(who: Principal, now: datetime | None = None, zone: str | None = None) -> dict:
    """Everything the screen shows; "today" begins at midnight in `zone` (the installation's time zone).
    `ended_recent` names the attempts that ended in the last minutes, so the page does not count one twice when
    its `attempt` event arrives after (or while) it read this."""
    _require(who, VIEW)
    now = now or datetime.now(timezone.utc)
    since = day_start(now, zone)
    db = database()
    operators = list(Operator.select(Operator.id, Operator.name, Operator.login, Operator.status,
                                     Operator.status_since, Operator.pause_reason, Operator.attempt_id).order_by(Operator.name, Operator.id))
    pools: dict[int, list[int]] = {o.id: [] for o in operators}
    for oid, cid in OperatorCampaign.select(OperatorCampaign.operator, OperatorCampaign.campaign).tuples():
        pools.setdefault(oid, []).append(cid)
    today = {row[0]: row[1:] for row in db.execute_sql(
        "SELECT operator_id, count(*), count(*) FILTER (WHERE outcome = 'ANSWERED'),"
        "       coalesce(sum(extract(epoch FROM ended_at - answered_at)) FILTER (WHERE outcome = 'ANSWERED'), 0)"
        "  FROM attempt WHERE ended_at >= %s AND operator_id IS NOT NULL GROUP BY operator_id", (since,)).fetchall()}
    held = [o.attempt_id for o in operators if o.attempt_id]
    # the calls in progress (counted per campaign) and the ones operators still hold (wrap-up)
    calls = _calls(Attempt.ended_at.is_null() | Attempt.id.in_(held)) if held else _calls(Attempt.ended_at.is_null())
    campaigns = [{"id": cid, "name": name, "active": active, "outcomes": dict.fromkeys((o.value for o in ORDER), 0),
                  "autostop": None}
                 for cid, name, active in Campaign.select(Campaign.id, Campaign.name, Campaign.active)
                 .order_by(Campaign.name, Campaign.id).tuples()]
    by_id = {cp["id"]: cp for cp in campaigns}
    for cid, outcome, n in db.execute_sql("SELECT campaign_id, outcome, count(*) FROM attempt WHERE ended_at >= %s"
                                          " GROUP BY 1, 2", (since,)).fetchall():
        if cid in by_id:
            by_id[cid]["outcomes"][outcome] = n
    for cid, at, reason in db.execute_sql("SELECT campaign_id, autostopped_at, autostop_reason FROM campaign_pacing"
                                          " WHERE autostopped_at IS NOT NULL").fetchall():
        if cid in by_id:  # stopped by the protective autostop (dialer/services/pacing.py) until a person confirms
            ru, _, en = (reason or "").partition(" / ")  # stored as "ru / en" (pacing.stop_automatically)
            by_id[cid]["autostop"] = {"at": iso(at), "reason_ru": ru, "reason_en": en or ru}
    for cid, n in queues(who, now).items():
        if cid in by_id:
            by_id[cid]["queue"] = n
    recent = [r[0] for r in db.execute_sql("SELECT id FROM attempt WHERE ended_at >= %s", (now - RECENT,)).fetchall()]
    in_status = status_time.today(db, since, now)
    return {"now": iso(now), "day_start": iso(since),
            "operators": with_sip(who, [_operator(o, pools, today, in_status.get(o.id, {})) for o in operators]),
            "campaigns": campaigns, "calls": calls, "ended_recent": recent}


def _operator(o: Operator, pools: dict, today: dict, in_status: dict) -> dict:
    calls, answered, talk_s = today.get(o.id, (0, 0, 0))
    talk_s = float(talk_s)
    return {"id": o.id, "name": o.name, "login": o.login, "status": o.status, "since": iso(o.status_since),
            "pause_reason": o.pause_reason, "attempt_id": o.attempt_id, "campaign_ids": sorted(pools.get(o.id, [])),
            "sip": None,  # the device and its registration: with_sip, below
            "today": {"calls": calls, "answered": answered, "talk_s": round(talk_s, 1),
                      "rating": rating(answered, talk_s), "status_s": status_time.rounded(in_status)}}


def calls_brief(who: Principal, attempt_ids) -> list[dict]:
    """What the screen shows of calls it has just heard of: client, order, campaign, operator, the timeline so
    far (at most BRIEF_MAX; unknown ids are left out)."""
    _require(who, VIEW)
    ids = [i for i in attempt_ids if is_id(i)][:BRIEF_MAX] if isinstance(attempt_ids, (list, tuple)) else []
    return _calls(Attempt.id.in_(ids)) if ids else []


def _calls(where) -> list[dict]:
    rows = (Attempt.select(Attempt.id, Attempt.operator, Attempt.campaign, Attempt.manual, Attempt.reserved_at,
                           Attempt.offer_expires_at, Attempt.offer_accepted_at, Attempt.dial_started_at,
                           Attempt.answered_at, Attempt.ended_at, Attempt.outcome, Attempt.wrap_up_at,
                           Lead.name, Lead.external_id)
            .join(Lead).where(where).order_by(Attempt.id).dicts())
    return [{"id": r["id"], "operator_id": r["operator"], "campaign_id": r["campaign"], "manual": r["manual"],
             "client": r["name"], "order_id": r["external_id"], "reserved_at": iso(r["reserved_at"]),
             "offer": r["offer_expires_at"] is not None and r["offer_accepted_at"] is None,
             "dial_started_at": iso(r["dial_started_at"]), "answered_at": iso(r["answered_at"]),
             "ended_at": iso(r["ended_at"]), "outcome": r["outcome"], "wrap_up_at": iso(r["wrap_up_at"])}
            for r in rows]


def queues(who: Principal, now: datetime | None = None) -> dict[int, int]:
    """Leads each campaign could call this moment (SPEC F2 "queue"), as the claim would find them: the
    selections' whole rules (conditions, calling window, limits, do-not-call), a lead two selections match
    counted once; a campaign without selections calls every callable lead (rules/idle.py says the same)."""
    _require(who, VIEW)
    now = now or datetime.now(timezone.utc)
    out = {}
    for cid, where in callable_now(now).items():
        out[cid] = Lead.select().where(Lead.campaign == cid, where).count() if where is not None else 0
    return out


def callable_now(now: datetime, campaign_ids=None) -> dict[int, object]:
    """{campaign id: the condition a lead of it meets when it could be called at `now`} (None: no enabled
    selection, so nothing is callable). Also the "no leads left" alert's test (dialer/services/alerts.py)."""
    rules: dict[int, list] = {}
    for s in Selection.select().order_by(Selection.campaign, Selection.position, Selection.id):
        rules.setdefault(s.campaign_id, []).append(s)
    query = Campaign.select(Campaign.id)
    if campaign_ids is not None:
        query = query.where(Campaign.id.in_(list(campaign_ids)))
    out = {}
    for (cid,) in query.tuples():
        selections = rules.get(cid)
        if not selections:
            out[cid] = c.callable_now(now)
            continue
        enabled = [validate(s.rule) for s in selections if s.enabled]
        out[cid] = reduce(or_, [c.selects(r, now, c.window_by_zones(r, now)) for r in enabled]) if enabled else None
    return out


# ---- reading: alerts and the call card ------------------------------------------------------------------
_ALERTS_SQL = """
SELECT a.id, a.kind, a.campaign_id, cp.name, a.operator_id, o.name, a.text_ru, a.text_en, a.created_at,
       a.acknowledged_at, a.acknowledged_by_name, a.cleared_at
  FROM alert a LEFT JOIN campaign cp ON cp.id = a.campaign_id LEFT JOIN operator o ON o.id = a.operator_id
 WHERE a.acknowledged_at IS NULL OR a.created_at >= %s
 ORDER BY a.acknowledged_at IS NULL DESC, a.created_at DESC, a.id DESC LIMIT %s"""
_ALERT_KEYS = ("id", "kind", "campaign_id", "campaign", "operator_id", "operator", "text_ru", "text_en", "created_at",
               "acknowledged_at", "acknowledged_by_name", "cleared_at")


def alerts(who: Principal, now: datetime | None = None, zone: str | None = None) -> list[dict]:
    """Every alert not acknowledged yet, and today's acknowledged ones; open ones first, newest first."""
    _require(who, ALERTS)
    since = day_start(now or datetime.now(timezone.utc), zone)
    rows = database().execute_sql(_ALERTS_SQL, (since, ALERTS_MAX)).fetchall()
    return [{k: iso(v) if isinstance(v, datetime) else v for k, v in zip(_ALERT_KEYS, row)} for row in rows]


def call_detail(who: Principal, attempt_id, now: datetime | None = None) -> dict:
    """The call card (SPEC F7): the timeline with each stage's duration, cause, SIP code, outcome, operator,
    result, comment, the CRM delivery, and the engine's raw events for holders of `monitoring.read`."""
    _require(who, CALLS)
    from ..crm.outbox import delivery_state

    a = None
    if is_id(attempt_id):
        a = (Attempt.select(Attempt, Lead, Campaign, Operator).join(Lead).switch(Attempt).join(Campaign)
             .switch(Attempt).join(Operator, JOIN.LEFT_OUTER).where(Attempt.id == attempt_id).first())
    if a is None:
        raise NotFound("attempt-not-found", f"attempt {attempt_id} does not exist",
                       message_ru=f"попытка {attempt_id} не найдена")
    now = now or datetime.now(timezone.utc)
    stamps = {key: getattr(a, key) for key, _ in TIMELINE} | {"outcome": a.outcome}
    parts, total = stages(stamps, now)
    title = (CampaignResult.select(CampaignResult.title)
             .where(CampaignResult.campaign == a.campaign_id, CampaignResult.code == a.wrap_up_result).scalar()
             if a.wrap_up_result else None)
    outcome = Outcome(a.outcome) if a.outcome else None
    card = {
        "id": a.id, "manual": a.manual, "phone": a.phone, "server": a.server,
        "client": a.lead.name, "order_id": a.lead.external_id, "lead_id": a.lead.id,
        "campaign": {"id": a.campaign.id, "name": a.campaign.name},
        "operator": {"id": a.operator.id, "name": a.operator.name} if a.operator_id else None,
        "timeline": {key: iso(getattr(a, key)) for key, _ in TIMELINE},
        "offer_expires_at": iso(a.offer_expires_at), "offer_accepted_at": iso(a.offer_accepted_at),
        "stages": [{**s, "at": iso(s["at"])} for s in parts], "total_s": total,
        "outcome": a.outcome, "outcome_ru": outcome.label_ru if outcome else None,
        "outcome_en": outcome.label_en if outcome else None, "colour": outcome.colour if outcome else None,
        "hangup_cause": a.hangup_cause, "cause_text": a.cause_text, "sip_code": a.sip_code,
        "dial_status": a.dial_status, "error": a.error,
        "result": a.wrap_up_result, "result_title": title, "comment": a.wrap_up_comment or "",
        "crm": delivery_state(database(), a.id), "now": iso(now),
    }
    if allowed(who, MONITORING):
        card["events"] = [{"id": i, "at": iso(at), "kind": kind, "data": data} for i, at, kind, data in database()
                          .execute_sql("SELECT id, at, kind, data FROM attempt_event WHERE attempt_id = %s"
                                       " ORDER BY id LIMIT %s", (a.id, EVENTS_MAX)).fetchall()]
    return card


# ---- acting ------------------------------------------------------------------------------------------------
def force_status(who: Principal, operator_id, status) -> dict:
    """Ready / Pause / Lunch for any operator. During a call or its wrap-up the engine applies it after the
    call (no client is dropped): `after_call` says so."""
    _require(who, OPERATOR_CONTROL)
    status = choice("status", status, tuple(STATUSES))
    with database().atomic():
        o = existing_operator(operator_id, lock=True)
        after_call = o.status in ("in_call", "wrap_up") or o.attempt_id is not None
        command_id = commands.enqueue(o.id, STATUSES[status]())
        audit.record(database(), "custom", "operator", o.id, name=f"Супервайзер: статус «{STATUS_RU[status]}»",
                     old={"status": o.status}, new={"status": status, "command_id": command_id})
    return {"command_id": command_id, "operator_id": o.id, "kind": status, "after_call": after_call}


def force_hangup(who: Principal, operator_id) -> dict:
    """End the operator's call: the engine hangs the client up through ARI (an offer is withdrawn)."""
    _require(who, OPERATOR_CONTROL)
    with database().atomic():
        o = existing_operator(operator_id, lock=True)
        live = (Attempt.select(Attempt.id).where(Attempt.id == o.attempt_id, Attempt.ended_at.is_null()).scalar()
                if o.attempt_id else None)
        if live is None:
            raise Conflict("no-call", f"operator {o.id} has no call to end", operator_id=o.id,
                           message_ru=f"у оператора {o.id} нет звонка, который можно завершить")
        command_id = commands.enqueue(o.id, commands.Hangup())
        audit.record(database(), "custom", "operator", o.id, name="Супервайзер: звонок оператора завершён",
                     new={"attempt_id": live, "command_id": command_id})
    return {"command_id": command_id, "operator_id": o.id, "kind": "hangup", "attempt_id": live}


def force_release(who: Principal, operator_id) -> dict:
    """Release an operator stuck in wrap-up: the wrap-up is finished with the result `released_by_supervisor`
    (the lead is treated as after a wrap-up without a postpone) and the operator goes where they were heading."""
    _require(who, OPERATOR_CONTROL)
    with database().atomic():
        o = existing_operator(operator_id, lock=True)
        if o.status != "wrap_up" or o.attempt_id is None:
            raise Conflict("operator-not-in-wrap-up", f"operator {o.id} is {o.status}, not in wrap-up",
                           operator_id=o.id, status=o.status,
                           message_ru=f"оператор {o.id} не в постобработке (статус {o.status})")
        command_id = commands.enqueue(o.id, commands.WrapUp(attempt_id=o.attempt_id, result=RELEASED))
        audit.record(database(), "custom", "operator", o.id, name="Супервайзер: оператор освобождён из постобработки",
                     new={"attempt_id": o.attempt_id, "result": RELEASED, "command_id": command_id})
    return {"command_id": command_id, "operator_id": o.id, "kind": "wrap_up", "attempt_id": o.attempt_id}


def set_campaign_active(who: Principal, campaign_id, active: bool) -> dict:
    """Pause (calls in progress finish; no new ones start) or resume a campaign. Asking for the state it is
    already in changes nothing and records nothing."""
    _require(who, CAMPAIGN_CONTROL)
    with database().atomic():
        existing_campaign(campaign_id)
        cp = Campaign.select().where(Campaign.id == campaign_id).for_update().get()
        changed = cp.active != active
        if changed:
            Campaign.update(active=active).where(Campaign.id == cp.id).execute()
            audit.record(database(), "updated", "campaign", cp.id,
                         name="Супервайзер: кампания возобновлена" if active else "Супервайзер: кампания приостановлена",
                         old={"active": cp.active}, new={"active": active})
    return {"id": cp.id, "name": cp.name, "active": active, "changed": changed}


def confirm_autostop(who: Principal, campaign_id) -> dict:
    """The supervisor confirms a campaign's protective autostop: it dials again, its alert is cleared; audited with
    the supervisor as actor (dialer/services/pacing.py)."""
    _require(who, CAMPAIGN_CONTROL)
    from . import pacing
    pacing.confirm_autostop(campaign_id)
    cp = Campaign.get_by_id(campaign_id)
    return {"id": cp.id, "name": cp.name, "active": cp.active, "autostop": None}


_ACK_SQL = """
UPDATE alert SET acknowledged_at = clock_timestamp(), acknowledged_by = %s, acknowledged_by_name = %s
 WHERE id = %s AND acknowledged_at IS NULL RETURNING acknowledged_at"""


def acknowledge_alert(who: Principal, alert_id) -> dict:
    """A person takes the alert: who and when are kept on it and in the audit log. Once only (409 after)."""
    _require(who, ALERTS)
    db = database()
    with db.atomic():
        row = db.execute_sql("SELECT acknowledged_at, acknowledged_by_name FROM alert WHERE id = %s FOR UPDATE",
                             (alert_id,)).fetchone() if is_id(alert_id) else None
        if row is None:
            raise NotFound("alert-not-found", f"alert {alert_id} does not exist",
                           message_ru=f"оповещение {alert_id} не найдено")
        if row[0] is not None:
            raise Conflict("alert-acknowledged", f"alert {alert_id} was acknowledged by {row[1]} at {row[0]:%H:%M:%S}",
                           message_ru=f"оповещение {alert_id} уже принято: {row[1]}, {row[0]:%H:%M:%S}")
        name = who.name[:200]
        (at,) = db.execute_sql(_ACK_SQL, (who.user_id, name, alert_id)).fetchone()
        audit.record(db, "updated", "alert", alert_id, name="Оповещение принято",
                     old={"acknowledged_at": None}, new={"acknowledged_at": at, "acknowledged_by": name})
    return {"id": alert_id, "acknowledged_at": iso(at), "acknowledged_by_name": name}


# ---- SIP registration (SPEC F1; issue 14) -------------------------------------------------------------------
def with_sip(who: Principal, rows: list[dict]) -> list[dict]:
    """Each operator's device and its registration ({device_id, login, registration}); None: no device («—»), or
    the viewer may not see SIP devices (`sip.read`, as the live event `sip.registration` it follows after)."""
    from .devices import registrations_by_operator

    if not allowed(who, "sip.read"):
        return rows
    sip = registrations_by_operator()
    for row in rows:
        row["sip"] = sip.get(row["id"])
    return rows
