"""The claim queue: each selection's next eligible leads, found ahead of the claims (SPEC C1, C4).

Without it, a claim walks the campaign's leads in the selection's order until one passes the rule. For a
selection ordered by priority or creation date that matches few leads, that walk passes every lead it
does not match and every lead already called today, and it grows through the day (measured: p99 150 ms
over a million leads after a few minutes). The queue moves the walk off the claim: a job finds each
selection's next `SIZE` eligible leads in its order (`fill`), and the claim takes the first queued lead
that still passes the whole rule, in the statement that locks it (`claim.next_lead`). So:

- the queue decides only the order; the rule, the window, the limits and the do-not-call list are checked
  again at the moment of the claim, and a lead that fails them is not called;
- a claimed lead leaves every queue in the statement that opens its attempt;
- a lead that became eligible after the fill (due for its retry, window opened, fields changed) is queued by
  the next fill, at most `REFRESH` later; a queue half taken is filled again at the next round;
- leads inserted into a campaign make its queues untrusted at once (a trigger), so claims take the direct
  walk and see them until the next fill;
- a saved rule has a new version: the queue of the old one is not used (the direct walk) until it is
  filled again; a queue not filled for `TRUSTED` (the job stopped) is not used either.

`refill` is the job's round (every second in `dialer run`); `fill` one selection's queue.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dialer.errors import Invalid

from . import claim as cl
from . import window as cw

log = logging.getLogger(__name__)

SIZE = 200  # leads queued per selection
REFRESH = timedelta(seconds=10)  # a queue is rebuilt at least this often
TRUSTED = timedelta(seconds=30)  # an older queue is not used: the job is not running
ROUND_S = 1.0  # the job's interval
PER_ROUND = 4  # refreshes per round at least (more when there are many selections): spread over the seconds
_LOCK_CLASS = 7_400_222  # advisory lock (class, selection id): one fill of a selection at a time

# every enabled selection of an active campaign: whether its queue is missing, of an older rule or half
# taken (urgent), or older than the refresh; urgent ones first, then the oldest
_DUE_SQL = """
SELECT s.id, s.campaign_id, s.version, s.rule::text,
       json_build_object('window', cp.calling_window, 'max_per_day', cp.max_per_day,
                         'min_pause_minutes', cp.min_pause_minutes)::text,
       f.selection_id IS NULL OR f.version <> s.version OR (NOT f.complete AND coalesce(q.n, 0) * 2 < f.found),
       f.filled_at < %(stale)s
  FROM selection s
  JOIN campaign cp ON cp.id = s.campaign_id AND cp.active
  LEFT JOIN claim_queue_fill f ON f.selection_id = s.id
  LEFT JOIN (SELECT selection_id, version, count(*) AS n FROM claim_queue GROUP BY 1, 2) q
         ON q.selection_id = s.id AND q.version = s.version
 WHERE s.enabled
 ORDER BY 6 DESC, f.filled_at NULLS FIRST, s.position, s.id"""

# the old queue goes first (a data-modifying WITH would run after the insert and collide with it)
_DROP_SQL = "DELETE FROM claim_queue WHERE selection_id = %(selection)s"
_STORE_SQL = """
WITH queued AS (INSERT INTO claim_queue (selection_id, version, rank, lead_id)
                SELECT %(selection)s, %(version)s, r, id FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS u(id, r))
INSERT INTO claim_queue_fill (selection_id, version, filled_at, found, complete)
VALUES (%(selection)s, %(version)s, %(now)s, %(found)s, %(complete)s)
ON CONFLICT (selection_id) DO UPDATE
   SET version = excluded.version, filled_at = excluded.filled_at, found = excluded.found,
       complete = excluded.complete"""

_FORGET_SQL = """
WITH gone AS (DELETE FROM claim_queue q WHERE NOT EXISTS (
                  SELECT 1 FROM selection s WHERE s.id = q.selection_id AND s.enabled AND s.version = q.version))
DELETE FROM claim_queue_fill f WHERE NOT EXISTS (SELECT 1 FROM selection s WHERE s.id = f.selection_id AND s.enabled)"""


@dataclass
class Round:
    """What one round of the job did."""
    filled: int = 0
    leads: int = 0
    busy: int = 0  # selections another filler was filling
    ms: float = 0.0


def fill(db, selection_id: int, campaign_id: int, version: int, raw: str, now: datetime | None = None,
         size: int = SIZE, campaign_raw: str | None = None) -> int | None:
    """Queue the selection's next `size` eligible leads at `now`, replacing its queue; the number queued,
    or None when another filler holds this selection. One transaction: a claim sees the old queue or the new.
    `campaign_raw`: the campaign's window and limits as the claim reads them (None: the selection's rule alone;
    the queue then holds more than the claim may take, which is still correct: the claim checks again)."""
    campaign = cw.parse_claim(campaign_raw) if campaign_raw is not None else None
    key = raw if campaign is None else raw + "\x00" + campaign_raw
    try:
        rule = cl._cache.rule(key, raw, campaign)
    except Invalid as e:  # skipped by the claim too
        log.warning("selection %s not queued: its rule is no longer valid: %s", selection_id, e)
        return None
    now = now or datetime.now(timezone.utc)
    with db.atomic():
        got = db.execute_sql("SELECT pg_try_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, selection_id)).fetchone()[0]
        if not got:
            return None
        ids: list[int] = []
        windowed = rule.window is not None or (campaign is not None and not campaign.window.any_hour)
        if campaign is None:
            zones = cl.open_zones(rule.window, now) if rule.window is not None else None
        else:
            zones = cw.combined_zones(campaign.window, rule.window, now) if windowed else None
        if zones != []:  # a window closed in every zone right now queues nothing
            values = {cl.NOW: now, cl.CAMPAIGN: campaign_id, cl.GRACE_END: now - cl.BOUND_GRACE,
                      cl.OPEN_ZONES: zones, cl.LIMIT: size}
            ids = [r[0] for r in cl.run(db, cl._cache.statement(key, rule, cl.FILL, windowed), values,
                                        cl.FILL).fetchall()]
        db.execute_sql(_DROP_SQL, {"selection": selection_id})
        db.execute_sql(_STORE_SQL, {"selection": selection_id, "version": version, "ids": ids, "now": now,
                                    "found": len(ids), "complete": len(ids) < size})
    return len(ids)


def refill(db, now: datetime | None = None, size: int = SIZE, refresh: timedelta = REFRESH) -> Round:
    """The job's round: fill every queue that is missing, of an older rule or half taken, then the oldest
    of those older than `refresh` (`PER_ROUND` or more, so that each is rebuilt about once per `refresh`);
    drop the queues of selections deleted, disabled or saved again."""
    t0 = time.perf_counter()
    done = Round()
    db.execute_sql(_FORGET_SQL)
    stale = (now or datetime.now(timezone.utc)) - refresh
    rows = db.execute_sql(_DUE_SQL, {"stale": stale}).fetchall()
    # enough refreshes per round for every queue to be rebuilt about once per `refresh`
    allowed = max(PER_ROUND, math.ceil(len(rows) * ROUND_S / refresh.total_seconds()))
    for selection_id, campaign_id, version, raw, campaign_raw, urgent, stale_fill in rows:
        if not urgent:
            if not stale_fill or allowed == 0:
                break  # ordered: the rest are fresh, or wait for the next round
            allowed -= 1
        n = fill(db, selection_id, campaign_id, version, raw, now, size, campaign_raw)  # each at its own moment
        if n is None:
            done.busy += 1
        else:
            done.filled += 1
            done.leads += n
    done.ms = (time.perf_counter() - t0) * 1000
    return done
