""""Why is nothing dialling?" — for a campaign, how many leads each reason holds back right now.

A lead held back by several reasons is counted under each; `callable_now` is what the engine could
claim this moment. Reasons per selection are counted among the leads its conditions match that are
otherwise callable (callable state, due, not on the do-not-call list).
"""
from __future__ import annotations

from datetime import datetime, timezone

from peewee import SQL, Value, fn

from dialer import validation as f
from dialer.models import Lead, Operator, OperatorCampaign, OperatorSkill, Selection

from . import compile as c
from . import window as cw
from .model import Rule, validate


def _count(expr):
    return fn.COUNT(SQL("*")).filter(expr)  # no column: the counts read `lead_count_idx` alone (sql/027)


def _campaign_counts(campaign_id: int, now) -> dict:
    in_queue = Lead.state.in_(c.CALLABLE_STATES)
    row = (Lead.select(_count(in_queue), _count(in_queue & (Lead.next_call_at > now)),
                       _count(in_queue & Lead.listed), _count(Lead.state == "held"),
                       _count(Lead.state == "exhausted"), _count(Lead.state == "in_progress"),
                       _count(Lead.state == "done"))
           .where(Lead.campaign == campaign_id).tuples().first())
    keys = ("in_queue", "not_due_yet", "do_not_call", "crm_status_not_callable", "attempts_exhausted",
            "in_progress", "done")
    return dict(zip(keys, row))


def _operators_online(campaign_id: int, skill: str | None, level: int | None) -> int:
    query = (Operator.select(fn.COUNT(Operator.id)).join(OperatorCampaign)
             .where(OperatorCampaign.campaign == campaign_id, Operator.status != "offline"))
    if skill is not None:
        query = query.where(fn.EXISTS(OperatorSkill.select(Value(1)).where(
            OperatorSkill.operator == Operator.id, OperatorSkill.skill == skill, OperatorSkill.level >= level)))
    return query.scalar() or 0


def _window(campaign: cw.CampaignClaim, rule: Rule, now):
    """The campaign's window and the selection's together, as the claim applies them (rules/claim.py)."""
    if campaign.window.any_hour and rule.window is None:
        return SQL("TRUE")
    zones = cw.combined_zones(campaign.window, rule.window, now)
    return SQL("TRUE") if zones is None else Lead.time_zone.in_(zones or [""])


def _selection_counts(campaign_id: int, rule: Rule, now, online: int,
                      campaign: cw.CampaignClaim = cw.CampaignClaim(cw.CallingWindow(any_hour=True))) -> dict:
    rule = cw.narrowed(rule, campaign)
    # the do-not-call list from the lead's own flag, as «Подходит сейчас» reads it (sql/027): no look-up per lead
    base = c.due(now) & ~Lead.listed & c.conditions(rule, now)
    window = _window(campaign, rule, now)
    row = (Lead.select(_count(base), _count(base & ~window),
                       _count(base & ~c.within_daily_limit(rule, now)), _count(base & ~c.pause_over(rule, now)),
                       _count(base & ~c.attempts_left(rule, now)), _count(c.selects(rule, now, window, unlisted=~Lead.listed)))
           .where(Lead.campaign == campaign_id).tuples().first())
    counts = dict(zip(("matches", "window_closed", "daily_limit", "pause_between_attempts", "attempts_exhausted",
                       "callable_now"), row))
    counts["operators_online"] = online
    counts["no_operator_with_skill_online"] = counts["callable_now"] if rule.skill and not online else 0
    return counts


def idle_reasons(campaign_id, now: datetime | None = None) -> dict:
    campaign = f.existing_campaign(campaign_id)
    now_dt = now or datetime.now(timezone.utc)
    now = now_dt
    selections = list(Selection.select().where(Selection.campaign == campaign.id)
                      .order_by(Selection.position, Selection.id))
    claim = cw.CampaignClaim(cw.parse_stored(campaign.calling_window), campaign.max_per_day,
                             campaign.min_pause_minutes)
    answer = {"campaign_id": campaign.id, "at": now_dt.isoformat(), "campaign_active": campaign.active,
              "calling_window": cw.to_json(claim.window),
              "operators_online": _operators_online(campaign.id, None, None),
              "leads": _campaign_counts(campaign.id, now), "selections": []}
    if not selections:  # every callable lead is called
        answer["selections"].append({"id": None, "name": "", "enabled": True,
                                     **_selection_counts(campaign.id, Rule(), now, answer["operators_online"], claim)})
    for s in selections:
        rule = validate(s.rule)
        online = _operators_online(campaign.id, rule.skill, rule.skill_level) if rule.skill else answer["operators_online"]
        counts = _selection_counts(campaign.id, rule, now, online, claim) if s.enabled else {}
        answer["selections"].append({"id": s.id, "name": s.name, "enabled": s.enabled, **counts})
    callable_total = sum(x.get("callable_now", 0) for x in answer["selections"] if x["enabled"])
    answer["callable_now"] = callable_total  # a lead two selections match is counted in each
    return answer
