""""Why is this lead not being dialled?" (pure): the reasons, in plain Russian and English, from the same
evaluator the property tests hold equal to the claim's SQL (`rules.evaluate`).

The lead is a dict of its columns (as `rules.evaluate` reads it). The answer lists every reason that holds
back the lead right now, the first one being what a supervisor should look at first, and, for each
selection of the campaign, whether it would pick the lead and, if not, why.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import evaluate as ev
from . import window as cw
from .compile import CALLABLE_STATES
from .model import FIELDS, LABELS, OP_LABELS, Condition, Rule


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    message_ru: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "message_ru": self.message_ru}


@dataclass(frozen=True)
class SelectionRule:
    id: int | None
    name: str
    enabled: bool
    rule: Rule


def _local(lead: dict, moment: datetime) -> str:
    """A moment as the client's wall clock, with the zone named (the window is the client's local time)."""
    return moment.astimezone(ev._zone(lead["time_zone"])).strftime("%d.%m.%Y %H:%M")


def _field_label(name: str) -> tuple[str, str]:
    if name in FIELDS:
        ru, en = LABELS[name]
        return ru, en
    key = name.split(".", 1)[1]
    return f"поле CRM «{key}»", f"CRM field “{key}”"


def _value_text(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(_value_text(v) for v in value)
    return "" if value is None else str(value)


def condition_text(cond: Condition) -> tuple[str, str]:
    """One condition in words, e.g. «Регион равно Москва» / "Region equals Москва"."""
    (f_ru, f_en), (o_ru, o_en) = _field_label(cond.field), OP_LABELS[cond.op]
    value = _value_text(cond.value)
    return (f"{f_ru} {o_ru} {value}".strip(), f"{f_en} {o_en} {value}".strip())


def _failed_conditions(lead: dict, rule: Rule, now: datetime) -> list[tuple[str, str]]:
    """The conditions that fail, from the group that comes closest (fewest failures): what to change."""
    best: list[Condition] | None = None
    for group in rule.groups:
        failed = [c for c in group if not ev.condition(lead, c, now)]
        if best is None or len(failed) < len(best):
            best = failed
    return [condition_text(c) for c in best or []]


def selection_verdict(lead: dict, sel: SelectionRule, now: datetime) -> dict:
    """Whether this selection would pick the lead now (ignoring the lead's state and due time, which are
    the same for every selection), and the first thing that stops it."""
    rule = sel.rule
    out = {"id": sel.id, "name": sel.name, "enabled": sel.enabled, "matches": False, "failed": []}
    if not sel.enabled:
        out["reason"] = Reason("selection_disabled", "the selection is disabled", "выборка отключена").as_dict()
        return out
    if not ev.conditions(lead, rule, now):
        failed = _failed_conditions(lead, rule, now)
        out["failed"] = [{"message_ru": ru, "message": en} for ru, en in failed]
        out["reason"] = Reason("conditions", "its conditions do not match: " + "; ".join(en for _, en in failed),
                               "не подходит по условиям: " + "; ".join(ru for ru, _ in failed)).as_dict()
        return out
    w = rule.window
    if not ev.window_open(lead, rule, now):
        span = f"{w.start:%H:%M}–{'24:00' if w.end is None else f'{w.end:%H:%M}'}"
        out["reason"] = Reason(
            "window_closed", f"outside its calling window {span} (now {_local(lead, now)} in {lead['time_zone']})",
            f"вне окна звонков {span} (сейчас {_local(lead, now)} в {lead['time_zone']})").as_dict()
        return out
    limits = rule.limits
    if not ev.attempts_left(lead, rule, now):
        out["reason"] = Reason("selection_attempts", f"its limit of {limits.max_attempts} attempts is reached",
                               f"исчерпан лимит выборки: {limits.max_attempts} попыток").as_dict()
        return out
    if not ev.within_daily_limit(lead, rule, now):
        out["reason"] = Reason("daily_limit", f"its limit of {limits.max_per_day} attempts a day is reached",
                               f"на сегодня исчерпан лимит: {limits.max_per_day} попыток в день").as_dict()
        return out
    if not ev.pause_over(lead, rule, now):
        out["reason"] = Reason("pause", f"its pause of {limits.min_pause_minutes} min between attempts is not over",
                               f"не прошла пауза между попытками ({limits.min_pause_minutes} мин)").as_dict()
        return out
    out["matches"] = True
    return out


def _hours(w) -> str:
    return " / ".join(f"{x.start:%H:%M}–{'24:00' if x.end is None else f'{x.end:%H:%M}'}" for x in w.parts)


def explain(lead: dict, now: datetime, *, campaign_active: bool, selections: list[SelectionRule],
            listed: bool, operators_ready: int | None = None, campaign: cw.CampaignClaim | None = None) -> dict:
    """Every reason the lead is not dialled now; `callable` is what the engine's claim would decide.
    `campaign`: the campaign's own window and limits, which every selection is narrowed by (as in the claim)."""
    campaign = campaign or cw.CampaignClaim(cw.CallingWindow(any_hour=True))
    selections = [SelectionRule(s.id, s.name, s.enabled, cw.narrowed(s.rule, campaign)) for s in selections]
    reasons: list[Reason] = []
    state = lead["state"]
    if state == "in_progress":
        reasons.append(Reason("in_call", "a call to this client is in progress or waiting for its wrap-up",
                              "по заказу идёт звонок или ждёт постобработки"))
    elif state == "done":
        reasons.append(Reason("done", "the lead is closed by a call result", "заказ закрыт результатом звонка"))
    elif state == "exhausted":
        reasons.append(Reason("exhausted", f"attempts are exhausted ({lead['attempts']} made)",
                              f"попытки исчерпаны (сделано {lead['attempts']})"))
    elif state not in CALLABLE_STATES:
        reasons.append(Reason("held", f"the CRM status «{lead.get('crm_status', '')}» says not to call",
                              f"статус в CRM «{lead.get('crm_status', '')}» — не звонить"))
    if listed:
        reasons.append(Reason("do_not_call", "the number is on the do-not-call list",
                              "номер в списке «Больше не звонить»"))
    if not campaign_active:
        reasons.append(Reason("campaign_paused", "the campaign is paused", "кампания на паузе"))
    if state in CALLABLE_STATES and lead["next_call_at"] > now:
        when = _local(lead, lead["next_call_at"])
        if lead.get("callback"):
            reasons.append(Reason("callback", f"a callback is set for {when} (client's time)",
                                  f"назначен перезвон на {when} (время клиента)"))
        else:
            reasons.append(Reason("not_due", f"waiting for the next attempt at {when} (client's time)",
                                  f"ждёт повторного звонка в {when} (время клиента)"))
    if not cw.is_open(campaign.window, lead["time_zone"], now):
        local = _local(lead, now)
        hours = _hours(campaign.window) or "—"
        reasons.append(Reason("campaign_window_closed",
                              f"outside the campaign's calling window {hours} (now {local} in {lead['time_zone']})",
                              f"вне окна звонков кампании {hours} (сейчас {local} в {lead['time_zone']})"))
    verdicts = [selection_verdict(lead, s, now) for s in selections]
    if not selections:  # a campaign without selections calls every callable lead
        verdicts = [{**selection_verdict(lead, SelectionRule(None, "", True, cw.narrowed(Rule(), campaign)), now),
                     "name": ""}]
    if not any(v["matches"] for v in verdicts):
        enabled = [v for v in verdicts if v["enabled"]]
        if not enabled:
            reasons.append(Reason("no_selection", "every selection of the campaign is disabled",
                                  "все выборки кампании отключены"))
        else:
            first = enabled[0]["reason"]
            if len(enabled) == 1:
                reasons.append(Reason(first["code"], first["message"], first["message_ru"]))
            else:
                reasons.append(Reason("no_selection", "no selection picks it (see each selection below)",
                                      "ни одна выборка его не берёт (см. по каждой выборке ниже)"))
    if not reasons and operators_ready == 0:
        reasons.append(Reason("nobody_ready", "nobody in the campaign's pool is Ready",
                              "нет операторов в статусе «Готов» в пуле кампании"))
    callable_now = not [r for r in reasons if r.code != "nobody_ready"]
    return {"callable": callable_now, "reasons": [r.as_dict() for r in reasons], "selections": verdicts,
            "at": now.isoformat()}
