"""Which lead an operator calls next (SPEC C1, C4–C7, C10): across the campaigns of their pools,
selections in priority order, calling window and limits respected, do-not-call numbers never.

Run inside the caller's transaction: the chosen row is locked `FOR UPDATE SKIP LOCKED`, so concurrent
claimers skip it, and the caller opens the attempt (and counts it) before committing.

Rules are read from the database on every claim (a saved rule is used by the next claim); the SQL
of each distinct rule is built by peewee once and kept, with the moment, the campaign and the
operator as parameters.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import SQL, Value, fn

from dialer.errors import Invalid
from dialer.models import Lead

from . import compile as c
from .evaluate import zones_open
from .model import Rule, validate

log = logging.getLogger(__name__)
BOUND_GRACE = timedelta(minutes=15)  # then anyone in the pool may take another operator's callback


@dataclass(frozen=True)
class Choice:
    lead_id: int
    campaign_id: int
    selection_id: int | None  # None: the campaign has no selections and calls every callable lead


class _Param:
    """A placeholder compiled into the SQL once and replaced by the value on each claim."""

    def __init__(self, name: str):
        self.name = name


NOW, CAMPAIGN, OPERATOR, GRACE_END, OPEN_ZONES = (
    _Param(n) for n in ("now", "campaign", "operator", "grace_end", "open_zones"))


def _param(p: _Param):
    return Value(p, converter=lambda v: v)  # no field conversion: the value comes later


def lead_query(rule: Rule, bound: bool):
    """The next lead of one selection, as a peewee query with parameters NOW, CAMPAIGN, OPERATOR."""
    now = _param(NOW)
    if bound:  # the operator's own due callbacks, before anything else
        whose = Lead.assigned_operator_id == _param(OPERATOR)
    else:
        whose = (Lead.assigned_operator_id.is_null() | (Lead.assigned_operator_id == _param(OPERATOR))
                 | (Lead.next_call_at <= _param(GRACE_END)))
    # the calling window depends only on the lead's zone: the claim passes the zones where it is open
    # now (`evaluate.zones_open`) rather than converting the clock for every row it walks past
    window = SQL("TRUE") if rule.window is None else (Lead.time_zone == fn.ANY(_param(OPEN_ZONES)))
    return (Lead.select(Lead.id)
            .where((Lead.campaign == _param(CAMPAIGN)) & c.callable_now(now) & c.conditions(rule, now)
                   & window & c.limits(rule, now) & whose)
            .order_by(*c.ordering(rule))
            .limit(1)
            .for_update("FOR UPDATE SKIP LOCKED"))


class _Cache:
    """Rules and their SQL by the rule's stored JSON text (jsonb prints it canonically)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self.rules: dict = {}
        self.sql: dict = {}
        self.lock = threading.Lock()

    def rule(self, key, raw) -> Rule:
        found = self.rules.get(key)
        if found is None:
            found = validate(json.loads(raw)) if raw is not None else Rule()
            with self.lock:
                if len(self.rules) >= self.size:
                    self.rules.clear()
                self.rules[key] = found
        return found

    def statement(self, key, rule: Rule, bound: bool):
        found = self.sql.get((key, bound))
        if found is None:
            sql, params = lead_query(rule, bound).sql()
            found = (sql, tuple(params))
            with self.lock:
                if len(self.sql) >= self.size:
                    self.sql.clear()
                self.sql[(key, bound)] = found
        return found


_cache = _Cache()

# the operator's selections in priority order: campaigns of their pools that are active, enabled
# selections whose skill they have; a campaign without any selection calls every callable lead
_SELECTIONS_SQL = """
SELECT cp.id, s.id, s.rule::text,
       EXISTS (SELECT 1 FROM lead b WHERE b.assigned_operator_id = %(op)s AND b.state IN ('new', 'callable')
                                      AND b.next_call_at <= %(now)s)
  FROM operator_campaign oc
  JOIN campaign cp ON cp.id = oc.campaign_id AND cp.active
  LEFT JOIN selection s ON s.campaign_id = cp.id AND s.enabled
 WHERE oc.operator_id = %(op)s
   AND CASE WHEN s.id IS NULL THEN NOT EXISTS (SELECT 1 FROM selection x WHERE x.campaign_id = cp.id)
            ELSE s.skill IS NULL OR EXISTS (SELECT 1 FROM operator_skill k WHERE k.operator_id = %(op)s
                                              AND k.skill = s.skill AND k.level >= s.skill_level) END
 ORDER BY coalesce(s.position, 0), cp.id, s.id"""


def selections(db, operator_id: int, now: datetime) -> tuple[list[tuple], bool]:
    rows = db.execute_sql(_SELECTIONS_SQL, {"op": operator_id, "now": now}).fetchall()
    return [(cid, sid, raw) for cid, sid, raw, _ in rows], bool(rows and rows[0][3])


def next_lead(db, operator_id: int, now: datetime) -> Choice | None:
    """Find and lock the next lead for this operator; None when nothing may be called now."""
    found, any_bound = selections(db, operator_id, now)
    values = {NOW: now, OPERATOR: operator_id, GRACE_END: now - BOUND_GRACE}
    for bound in ((True, False) if any_bound else (False,)):
        for campaign_id, selection_id, raw in found:
            key = raw or ""
            try:
                rule = _cache.rule(key, raw)
            except Invalid as e:  # saved under older rules of validation: skipped, never a failed claim
                log.warning("selection %s skipped: its rule is no longer valid: %s", selection_id, e)
                continue
            if rule.window is not None:
                values[OPEN_ZONES] = sorted(zones_open(rule.window, now))
                if not values[OPEN_ZONES]:
                    continue  # closed everywhere right now: nothing to look at
            sql, params = _cache.statement(key, rule, bound)
            values[CAMPAIGN] = campaign_id
            row = db.execute_sql(sql, [values[p] if isinstance(p, _Param) else p for p in params]).fetchone()
            if row is not None:
                return Choice(row[0], campaign_id, selection_id)
    return None
