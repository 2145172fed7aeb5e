"""The database work of predictive dialling (ari_app/predictive.py) — synchronous, run in the engine's threads.

- `campaigns`: the predictive campaigns that may dial now, with their settings and operator pool;
- `measures`: what the pacer learns from (answer rate, talk, wrap-up and ring times, the abandon record);
- `claim`: the next lead of one campaign and its attempt, opened with no operator (one is chosen at answer);
- `joined`: the answered client is handed to an operator: the attempt becomes theirs;
- `open_calls`: predictive attempts nobody holds yet, for re-adoption after a restart;
- `check_autostop`: after an attempt ends in ERROR, the campaign's protective autostop (SPEC B3, every mode).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from dialer import prepared
from dialer.errors import Invalid
from dialer.outcomes import LOST_WHILE_AWAY
from rules import claim as rc

from . import pacer
from . import store
from .store import ts

log = logging.getLogger(__name__)
SAMPLES = pacer.MAX_SAMPLES  # the newest calls the pacer measures from
NO_OPERATOR = 0  # no operator has id 0: a campaign's claim takes only leads bound to nobody (or past their grace)


@dataclass(frozen=True)
class CampaignPacing:
    campaign_id: int
    max_ratio: float
    cap: float                       # a share: 0.03 = 3 %
    window_answered: int | None
    window_day: bool
    grace_s: float
    wait_timeout_s: int
    safe_harbour_message: bool
    min_sample_calls: int
    pool: frozenset[int]             # operators of the campaign's pool


_CAMPAIGNS_SQL = """
SELECT c.id, p.max_ratio, p.abandon_cap_percent, p.window_answered, p.window_day, p.grace_s, p.wait_timeout_s,
       p.safe_harbour_message, p.min_sample_calls,
       array(SELECT oc.operator_id FROM operator_campaign oc WHERE oc.campaign_id = c.id ORDER BY 1)
  FROM campaign_pacing p JOIN campaign c ON c.id = p.campaign_id
 WHERE p.mode = 'predictive' AND c.active AND p.autostopped_at IS NULL
 ORDER BY c.id"""


def campaigns(db) -> list[CampaignPacing]:
    """Active predictive campaigns not stopped automatically (progressive ones need nothing from here)."""
    return [CampaignPacing(r[0], float(r[1]), float(r[2]) / 100, r[3], r[4], float(r[5]), r[6], r[7], r[8],
                           frozenset(r[9]))
            for r in db.execute_sql(_CAMPAIGNS_SQL).fetchall()]


# abandoned: answered and not joined to an operator within the grace; an answered client still waiting inside
# the grace is not (yet)
_ABANDONED = ("((bridged_at IS NULL AND (ended_at IS NOT NULL OR answered_at < clock_timestamp() - %(grace)s))"
              " OR bridged_at > answered_at + %(grace)s)")
_MEASURES_SQL = f"""
WITH recent AS (SELECT dial_started_at, answered_at, bridged_at, ended_at, wrap_up_at FROM attempt
                 WHERE campaign_id = %(c)s AND direction = 'outbound' AND dial_started_at IS NOT NULL
                   AND ended_at IS NOT NULL
                 ORDER BY id DESC LIMIT %(n)s),
last AS (SELECT answered_at, bridged_at, ended_at FROM attempt
          WHERE campaign_id = %(c)s AND direction = 'outbound' AND answered_at IS NOT NULL
          ORDER BY answered_at DESC LIMIT %(last)s),
day AS (SELECT answered_at, bridged_at, ended_at FROM attempt
         WHERE campaign_id = %(c)s AND direction = 'outbound' AND answered_at >= date_trunc('day', clock_timestamp()))
SELECT (SELECT count(*) FROM recent), (SELECT count(answered_at) FROM recent),
       (SELECT array_agg(extract(epoch FROM ended_at - bridged_at)::float8) FROM recent WHERE bridged_at IS NOT NULL),
       (SELECT array_agg(extract(epoch FROM wrap_up_at - ended_at)::float8) FROM recent
         WHERE bridged_at IS NOT NULL AND wrap_up_at IS NOT NULL),
       (SELECT array_agg(extract(epoch FROM answered_at - dial_started_at)::float8) FROM recent
         WHERE answered_at IS NOT NULL),
       (SELECT array_agg(extract(epoch FROM ended_at - dial_started_at)::float8) FROM recent WHERE answered_at IS NULL),
       (SELECT count(*) FROM last), (SELECT count(*) FROM last WHERE {_ABANDONED}),
       (SELECT count(*) FROM day), (SELECT count(*) FROM day WHERE {_ABANDONED})"""


@dataclass(frozen=True)
class Measures:
    dialled: int = 0
    answered: int = 0
    talk: tuple[float, ...] = ()
    wrap: tuple[float, ...] = ()
    answer_delays: tuple[float, ...] = ()
    fail_delays: tuple[float, ...] = ()
    windows: tuple[pacer.Abandons, ...] = ()


def measures(db, c: CampaignPacing) -> Measures:
    row = db.execute_sql(_MEASURES_SQL, {"c": c.campaign_id, "n": SAMPLES, "last": c.window_answered or 0,
                                         "grace": timedelta(seconds=c.grace_s)}).fetchone()
    windows = []
    if c.window_answered:
        windows.append(pacer.Abandons(row[6], row[7], c.window_answered))  # the last N: its count stops at N
    if c.window_day:
        windows.append(pacer.Abandons(row[8], row[9]))
    return Measures(row[0], row[1], *(tuple(x or ()) for x in row[2:6]), windows=tuple(windows))


# ---- the claim: one campaign's selections, in priority order (rules/claim.py does it per operator) ---------------
_SELECTIONS_SQL = """
SELECT cp.id, s.id, s.rule::text, s.version, f.selection_id IS NOT NULL, coalesce(f.complete, false),
       json_build_object('window', cp.calling_window, 'max_per_day', cp.max_per_day,
                         'min_pause_minutes', cp.min_pause_minutes)::text
  FROM campaign cp
  LEFT JOIN selection s ON s.campaign_id = cp.id AND s.enabled
  LEFT JOIN claim_queue_fill f ON f.selection_id = s.id AND f.version = s.version AND f.filled_at >= %(trusted)s
 WHERE cp.id = %(c)s AND cp.active
   AND (s.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM selection x WHERE x.campaign_id = cp.id))
 ORDER BY coalesce(s.position, 0), s.id"""


def next_campaign_lead(db, campaign_id: int, now, take):
    """The campaign's next lead by its selections (as rules.claim.next_lead walks an operator's), handed to `take`
    as each `Pick`. No operator is known yet, so a selection's skill is not asked for, and a callback bound to an
    operator is left to them until its grace ends."""
    from rules.queue import TRUSTED

    rows = db.execute_sql(_SELECTIONS_SQL, {"c": campaign_id, "trusted": now - TRUSTED}).fetchall()
    values = {rc.NOW: now, rc.OPERATOR: NO_OPERATOR, rc.GRACE_END: now - rc.BOUND_GRACE, rc.CAMPAIGN: campaign_id}
    for row in rows:
        cand = rc.Candidate(*row)
        campaign = rc.cw.parse_claim(cand.campaign_raw)
        key = (cand.raw or "") + "\x00" + cand.campaign_raw
        try:
            rule = rc._cache.rule(key, cand.raw, campaign)  # the claim's own cache of rules and their SQL
        except Invalid as e:
            log.warning("selection %s skipped: its rule is no longer valid: %s", cand.selection_id, e)
            continue
        windowed = rule.window is not None or not campaign.window.any_hour
        values[rc.OPEN_ZONES] = rc.cw.combined_zones(campaign.window, rule.window, now) if windowed else None
        if values[rc.OPEN_ZONES] == []:
            continue
        values[rc.SELECTION], values[rc.VERSION] = cand.selection_id, cand.version
        queued = [(rc.QUEUED, rc.QUEUE_WINDOW), (rc.QUEUED, 2 ** 31 - 1)]
        ways = (queued + ([] if cand.complete else [(rc.DIRECT, None)])) if cand.queued else [(rc.DIRECT, None)]
        for how, limit in ways:
            values[rc.LIMIT] = limit
            sql, params = rc._cache.named(key, rule, how, windowed)
            args, types = rc.bind(params, values, key=lambda i: f"pick{i}")
            taken = take(rc.Pick(sql, args, types, cand.campaign_id, cand.selection_id, how in rc.PREPARED))
            if taken is not None:
                rc.ways_taken.count(how)
                return taken
    return None


def claim(db, campaign_id: int, server: str, nonce: str, at: float) -> store.ClaimedLead | None:
    """Reserve the campaign's next lead and open its attempt with no operator, in one statement (store.claim's)."""
    now = ts(at)
    fixed = {"now": now, "operator": None, "server": server, "nonce": nonce, "answered": None}

    def take(pick):
        sql = store._open_sql.get(pick.sql)
        if sql is None:
            sql = store._open_sql.setdefault(pick.sql, store._OPEN_ATTEMPT_SQL.replace("{pick}", pick.sql))
        values = {**fixed, "selection": pick.selection_id, "data": json.dumps(
            {"operator_id": None, "selection_id": pick.selection_id, "predictive": True}), **pick.values}
        return prepared.execute(db, sql, values, types={**store._OPEN_ATTEMPT_TYPES, **pick.types},
                                prepare=pick.prepare).fetchone()

    row = next_campaign_lead(db, campaign_id, now, take)
    return None if row is None else store.ClaimedLead(*row)


_JOINED_SQL = """
WITH a AS (UPDATE attempt SET operator_id = %(operator)s, offered_at = %(at)s, operator_answered_at = %(at)s
            WHERE id = %(id)s AND ended_at IS NULL RETURNING id),
o AS (UPDATE operator SET attempt_id = %(id)s WHERE id = %(operator)s)
INSERT INTO attempt_event (attempt_id, at, kind, data) SELECT id, %(at)s, 'offered', %(data)s FROM a"""


def joined(db, attempt_id: int, operator_id: int, at: float, waited_s: float) -> None:
    """The operator takes the answered client: the attempt is theirs from now (panel, wrap-up, re-adoption)."""
    db.execute_sql(_JOINED_SQL, {"id": attempt_id, "operator": operator_id, "at": ts(at),
                                 "data": json.dumps({"operator_id": operator_id, "predictive": True,
                                                     "waited_s": round(waited_s, 3)})})


_OPEN_CALLS_SQL = """
SELECT a.id, a.client_channel, a.campaign_id, a.server, extract(epoch FROM a.dial_started_at)::float8,
       extract(epoch FROM a.ringing_at)::float8, extract(epoch FROM a.answered_at)::float8,
       coalesce(p.wait_timeout_s, 20), c.auto_ready, c.wrap_up_limit_s
  FROM attempt a JOIN campaign c ON c.id = a.campaign_id LEFT JOIN campaign_pacing p ON p.campaign_id = a.campaign_id
 WHERE a.ended_at IS NULL AND a.operator_id IS NULL AND a.direction = 'outbound' AND a.manual IS NOT TRUE
 ORDER BY a.id"""


def open_calls(db) -> list[tuple]:
    """Predictive attempts not ended and not handed to an operator: dialling, ringing or on hold."""
    return db.execute_sql(_OPEN_CALLS_SQL).fetchall()


# a supervisor's confirmation starts the count afresh: errors that ended before it (its alert cleared) are not
# counted again
_LAST_ENDS_SQL = """
SELECT a.id, extract(epoch FROM a.ended_at)::float8, a.outcome, a.error FROM attempt a
 WHERE a.campaign_id = %(c)s AND a.ended_at IS NOT NULL AND a.direction = 'outbound'
   AND a.error IS DISTINCT FROM %(away)s
   AND a.ended_at > coalesce((SELECT max(cleared_at) FROM alert WHERE kind = %(kind)s AND object_key = %(key)s),
                             '-infinity')
 ORDER BY a.ended_at DESC, a.id DESC LIMIT %(n)s"""


_AUTOSTOP_SQL = """
SELECT a.campaign_id, coalesce(p.autostop_errors, %(n)s), coalesce(p.autostop_window_s, %(t)s),
       p.autostopped_at IS NOT NULL
  FROM attempt a LEFT JOIN campaign_pacing p ON p.campaign_id = a.campaign_id WHERE a.id = %(id)s"""


def check_autostop(db, attempt_id: int, rule) -> bool:
    """After an attempt ended in ERROR: do the campaign's last attempts make N errors in a row within T seconds?
    Then the campaign stops automatically. `rule` is dialer/services/pacing.py (given by dialer.run, which composes
    the engine): its `autostop_due` decides and its `stop_automatically` stops, alerts and audits. True: stopped now."""
    row = db.execute_sql(_AUTOSTOP_SQL, {"id": attempt_id, "n": rule.DEFAULTS["autostop_errors"],
                                         "t": rule.DEFAULTS["autostop_window_s"]}).fetchone()
    if row is None or row[3]:
        return False
    campaign_id, errors, window_s = row[:3]
    ends = [rule.Ended(*r) for r in db.execute_sql(_LAST_ENDS_SQL, {
        "c": campaign_id, "n": errors, "kind": rule.AUTOSTOP_ALERT, "key": f"campaign:{campaign_id}",
        "away": LOST_WHILE_AWAY}).fetchall()]
    cause = rule.autostop_due(ends, errors, window_s)
    if cause is None:
        return False
    stopped = rule.stop_automatically(db, campaign_id, cause)
    if stopped:
        log.warning("campaign %s stopped automatically: %d errors in a row within %s s (attempts %s)",
                    campaign_id, len(cause), window_s, [e.attempt_id for e in cause])
    return stopped
