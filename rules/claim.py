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
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import SQL, Value, fn

from dialer import prepared
from dialer.errors import Invalid
from dialer.models import ClaimQueue, Lead

from . import compile as c
from .evaluate import zone_names, zones_open
from . import window as cw
from .model import Rule, validate

log = logging.getLogger(__name__)
BOUND_GRACE = timedelta(minutes=15)  # then anyone in the pool may take another operator's callback


@dataclass(frozen=True)
class Pick:
    """One way of finding the next lead of one selection, for a caller that wraps it in its own statement
    (the engine opens the attempt in the same statement): `sql` selects and locks at most one lead id, with
    named parameters `pick0`, `pick1`, … given in `values`, typed by `types`. `prepare`: whether to prepare
    it on the server (see `PREPARED`)."""
    sql: str
    values: dict
    types: dict
    campaign_id: int
    selection_id: int | None
    prepare: bool


@dataclass(frozen=True)
class Choice:
    lead_id: int
    campaign_id: int
    selection_id: int | None  # None: the campaign has no selections and calls every callable lead


class _Param:
    """A placeholder compiled into the SQL once and replaced by the value on each claim."""

    def __init__(self, name: str, pg_type: str):
        self.name, self.pg_type = name, pg_type


NOW, CAMPAIGN, OPERATOR, GRACE_END, OPEN_ZONES, SELECTION, VERSION, LIMIT = (
    _Param(n, t) for n, t in (("now", "timestamptz"), ("campaign", "bigint"), ("operator", "bigint"),
                              ("grace_end", "timestamptz"), ("open_zones", "text[]"), ("selection", "bigint"),
                              ("version", "integer"), ("limit", "bigint")))
QUEUE_WINDOW = 16  # the queued claim looks at the first this many queued leads, then at the whole queue

# how a statement finds its lead:
BOUND = "bound"  # the operator's own due callbacks, before anything else
DIRECT = "direct"  # walk the campaign's leads in the selection's order
QUEUED = "queued"  # take the first lead of the selection's claim queue that still passes the rule
FILL = "fill"  # the job's search for the queue: the next LIMIT eligible leads any operator of the pool may take


def _param(p: _Param):
    return Value(p, converter=lambda v: v)  # no field conversion: the value comes later


def open_zones(window, now: datetime) -> list[str] | None:
    """The zones where the window is open at `now`, sorted ([]: none); None when it is open in every zone."""
    found = zones_open(window, now)
    return None if len(found) == len(zone_names()) else sorted(found)


# Only the queued claim is prepared: its plan does not depend on the values (a few queue rows by key, the rule
# checked on each). The direct walk's plan does — which index to walk, given the campaign and the open zones —
# and a generic plan of it walked whole campaigns (seconds); it is planned for its values on each call.
PREPARED = {QUEUED}


def bind(params: tuple, values: dict, key=lambda i: i) -> tuple[dict, dict]:
    """A compiled statement's parameters with this claim's values, and the declared types of the placeholders,
    both keyed by `key(position)`."""
    args = {key(i): values[p] if isinstance(p, _Param) else p for i, p in enumerate(params)}
    return args, {key(i): p.pg_type for i, p in enumerate(params) if isinstance(p, _Param)}


def run(db, statement: tuple, values: dict, how: str):
    """Execute a compiled statement with this claim's values (prepared on the session when `how` is)."""
    sql, params = statement
    args, types = bind(params, values)
    return prepared.execute(db, sql, [args[i] for i in range(len(params))], types, prepare=how in PREPARED)


def lead_query(rule: Rule, how: str, windowed: bool | None = None):
    """The next lead of one selection, as a peewee query with parameters NOW, CAMPAIGN, OPERATOR, ...

    `windowed`: whether the statement checks OPEN_ZONES (by default when the rule has a window; the claim
    also when the campaign's own calling window applies, rules/window.py)."""
    now = _param(NOW)
    if how == BOUND:
        whose = Lead.assigned_operator_id == _param(OPERATOR)
    elif how == FILL:  # callbacks bound to an operator stay theirs until the grace ends
        whose = Lead.assigned_operator_id.is_null() | (Lead.next_call_at <= _param(GRACE_END))
    else:
        whose = (Lead.assigned_operator_id.is_null() | (Lead.assigned_operator_id == _param(OPERATOR))
                 | (Lead.next_call_at <= _param(GRACE_END)))
    # the calling window depends only on the lead's zone: the claim passes the zones where it is open
    # now (`evaluate.zones_open`; NULL: open in every zone) rather than converting the clock for every row
    zones = _param(OPEN_ZONES)
    if windowed is None:
        windowed = rule.window is not None
    window = ((Lead.time_zone == fn.ANY(zones)) | zones.is_null()) if windowed else SQL("TRUE")
    where = ((Lead.campaign == _param(CAMPAIGN)) & c.callable_now(now) & c.conditions(rule, now)
             & window & c.limits(rule, now) & whose)
    if how == FILL:
        return Lead.select(Lead.id).where(where).order_by(*c.ordering(rule)).limit(_param(LIMIT))
    if how == QUEUED:  # the first LIMIT queued leads in their order; the rule checked on each again
        q = ClaimQueue
        first = (q.select(q.lead_id, q.rank)
                 .where((q.selection_id == _param(SELECTION)) & (q.version == _param(VERSION)))
                 .order_by(q.rank)
                 .limit(_param(LIMIT))
                 .alias("q"))
        return (Lead.select(Lead.id)
                .join(first, on=(first.c.lead_id == Lead.id))
                .where(where)
                .order_by(first.c.rank)
                .limit(1)
                .for_update("FOR UPDATE OF t1 SKIP LOCKED"))  # peewee names the first table t1: the lead
    return (Lead.select(Lead.id)
            .where(where)
            .order_by(*c.ordering(rule))
            .limit(1)
            .for_update("FOR UPDATE SKIP LOCKED"))


_PLACEHOLDER = re.compile(r"%%|%s")


class _Cache:
    """Rules and their SQL by the rule's stored JSON text (jsonb prints it canonically)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self.rules: dict = {}
        self.sql: dict = {}
        self.lock = threading.Lock()

    def rule(self, key, raw, campaign: cw.CampaignClaim | None = None) -> Rule:
        """The rule of `raw` (None: every lead), under the campaign's limits when given (`key` names both)."""
        found = self.rules.get(key)
        if found is None:
            found = validate(json.loads(raw)) if raw is not None else Rule()
            if campaign is not None:
                found = cw.narrowed(found, campaign)
            with self.lock:
                if len(self.rules) >= self.size:
                    self.rules.clear()
                self.rules[key] = found
        return found

    def named(self, key, rule: Rule, how: str, windowed: bool | None = None):
        """The statement with named placeholders (pick0, pick1, …), to sit inside another statement."""
        found = self.sql.get((key, how, "named"))
        if found is None:
            sql, params = self.statement(key, rule, how, windowed)
            count = iter(range(len(params)))
            found = (_PLACEHOLDER.sub(lambda m: m.group(0) if m.group(0) == "%%" else f"%(pick{next(count)})s", sql),
                     params)
            with self.lock:
                self.sql[(key, how, "named")] = found
        return found

    def statement(self, key, rule: Rule, how: str, windowed: bool | None = None):
        found = self.sql.get((key, how))
        if found is None:
            sql, params = lead_query(rule, how, windowed).sql()
            found = (sql, tuple(params))
            with self.lock:
                if len(self.sql) >= self.size:
                    self.sql.clear()
                self.sql[(key, how)] = found
        return found


_cache = _Cache()


class _Ways:
    """How claims found their lead, per way (BOUND, QUEUED, DIRECT), since the process started."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {BOUND: 0, QUEUED: 0, DIRECT: 0}

    def count(self, how: str) -> None:
        with self.lock:
            self.counts[how] += 1

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.counts)


ways_taken = _Ways()

# the operator's selections in priority order: campaigns of their pools that are active, enabled
# selections whose skill they have; a campaign without any selection calls every callable lead.
# With each selection, its claim queue's fill when it may be used: of this version of the rule, and recent.
_SELECTIONS_SQL = """
SELECT cp.id, s.id, s.rule::text, s.version, f.selection_id IS NOT NULL, coalesce(f.complete, false),
       json_build_object('window', cp.calling_window, 'max_per_day', cp.max_per_day,
                         'min_pause_minutes', cp.min_pause_minutes)::text,
       EXISTS (SELECT 1 FROM lead b WHERE b.assigned_operator_id = %(op)s AND b.state IN ('new', 'callable')
                                      AND b.next_call_at <= %(now)s)
  FROM operator_campaign oc
  JOIN campaign cp ON cp.id = oc.campaign_id AND cp.active
  LEFT JOIN selection s ON s.campaign_id = cp.id AND s.enabled
  LEFT JOIN claim_queue_fill f ON f.selection_id = s.id AND f.version = s.version AND f.filled_at >= %(trusted)s
 WHERE oc.operator_id = %(op)s
   AND CASE WHEN s.id IS NULL THEN NOT EXISTS (SELECT 1 FROM selection x WHERE x.campaign_id = cp.id)
            ELSE s.skill IS NULL OR EXISTS (SELECT 1 FROM operator_skill k WHERE k.operator_id = %(op)s
                                              AND k.skill = s.skill AND k.level >= s.skill_level) END
 ORDER BY coalesce(s.position, 0), cp.id, s.id"""


@dataclass(frozen=True)
class Candidate:
    """One selection the operator may take a lead from, in the order they are tried."""
    campaign_id: int
    selection_id: int | None
    raw: str | None  # the rule as stored (None: the campaign has no selections)
    version: int | None
    queued: bool  # its claim queue was filled recently under this version of the rule
    complete: bool  # ... and every lead eligible then fitted in it
    campaign_raw: str = '{"window": {"any_hour": true}}'  # the campaign's window and limits (rules/window.py)


def selections(db, operator_id: int, now: datetime) -> tuple[list[Candidate], bool]:
    """The operator's selections in the order they are tried, and whether a callback of theirs is due."""
    from .queue import TRUSTED  # the queue module builds on this one

    rows = prepared.execute(db, _SELECTIONS_SQL, {"op": operator_id, "now": now, "trusted": now - TRUSTED},
                            types={"op": "bigint", "now": "timestamptz", "trusted": "timestamptz"}).fetchall()
    return [Candidate(*row[:7]) for row in rows], bool(rows and rows[0][7])


def next_lead(db, operator_id: int, now: datetime, take=None):
    """Find and lock the next lead for this operator; None when nothing may be called now.

    Without `take`, the lead is locked in the caller's transaction and returned as a `Choice`. With it, each
    way of finding a lead is handed over as a `Pick` and `take(pick)` runs it inside its own statement; the
    first answer that is not None is returned.

    The operator's own due callbacks come first, then each selection in turn: from its claim queue when the
    job keeps one for it (rules/queue.py), else by walking the campaign's leads. A queue only orders: its
    leads are checked against the whole rule again here. A queue that held every eligible lead when it was
    filled and has none left means the selection has nothing now; one cut at its size sends the claim on
    the direct walk."""
    candidates, any_bound = selections(db, operator_id, now)
    values = {NOW: now, OPERATOR: operator_id, GRACE_END: now - BOUND_GRACE}
    # a due callback of the operator's own may still be one no selection lets them call (its campaign paused,
    # its number listed, its window closed, a limit reached): then the second pass looks at everything else
    for bound in ((True, False) if any_bound else (False,)):
        for cand in candidates:
            campaign = cw.parse_claim(cand.campaign_raw)
            key = (cand.raw or "") + "\x00" + cand.campaign_raw  # the rule under this campaign's settings
            try:
                rule = _cache.rule(key, cand.raw, campaign)
            except Invalid as e:  # saved under older rules of validation: skipped, never a failed claim
                log.warning("selection %s skipped: its rule is no longer valid: %s", cand.selection_id, e)
                continue
            # the campaign's window and the selection's both apply: the zones where both are open now
            windowed = rule.window is not None or not campaign.window.any_hour
            values[OPEN_ZONES] = cw.combined_zones(campaign.window, rule.window, now) if windowed else None
            if values[OPEN_ZONES] == []:
                continue  # closed everywhere right now: nothing to look at
            values[CAMPAIGN] = cand.campaign_id
            if bound:
                ways = [(BOUND, None)]
            elif cand.queued:  # the first few queued leads, the whole queue, and the walk if it was cut
                ways = [(QUEUED, QUEUE_WINDOW), (QUEUED, 2 ** 31 - 1)] + ([] if cand.complete else [(DIRECT, None)])
            else:
                ways = [(DIRECT, None)]
            values[SELECTION], values[VERSION] = cand.selection_id, cand.version
            for how, limit in ways:
                values[LIMIT] = limit
                if take is None:
                    row = run(db, _cache.statement(key, rule, how, windowed), values, how).fetchone()
                    taken = None if row is None else Choice(row[0], cand.campaign_id, cand.selection_id)
                else:
                    sql, params = _cache.named(key, rule, how, windowed)
                    args, types = bind(params, values, key=lambda i: f"pick{i}")
                    taken = take(Pick(sql, args, types, cand.campaign_id, cand.selection_id, how in PREPARED))
                if taken is not None:
                    ways_taken.count(how)
                    return taken
    return None
