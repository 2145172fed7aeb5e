"""Time each operator spent in each status today (SPEC F1), from the status history (`operator_status_log`,
sql/010_reports.sql: one row per change, written by a trigger whoever makes the change).

`seconds_by_status` is the whole rule and is pure; `today` reads the rows it needs: today's changes, and for each
operator the last change before the day began (the status the day started in).
"""
from __future__ import annotations

from datetime import datetime

STATUSES = ("ready", "in_call", "wrap_up", "paused", "lunch", "offline")
SIGNED_IN = STATUSES[:-1]  # the shares the screen shows are of the time not offline


def seconds_by_status(changes, start: datetime, end: datetime) -> dict[str, float]:
    """Seconds spent in each status within [start, end), given `changes` = [(since, status), ...] in any order.

    A status lasts from its change until the next one. The last change before `start` gives the status the
    window starts in; without one, the time before the first change is not counted (the operator did not exist
    yet). Changes after `end` are ignored; two changes at the same moment: the later row (order given) wins."""
    out = dict.fromkeys(STATUSES, 0.0)
    ordered = sorted(enumerate(changes), key=lambda p: (p[1][0], p[0]))
    for i, (_, (since, status)) in enumerate(ordered):
        until = ordered[i + 1][1][0] if i + 1 < len(ordered) else end
        lo, hi = max(since, start), min(until, end)
        if hi > lo:
            out[status] = out.get(status, 0.0) + (hi - lo).total_seconds()
    return out


def shares(seconds: dict[str, float]) -> dict[str, float]:
    """Each signed-in status's share of the time signed in (0 … 1; all 0 when the operator was offline all day)."""
    total = sum(seconds.get(s, 0.0) for s in SIGNED_IN)
    return {s: (seconds.get(s, 0.0) / total if total else 0.0) for s in SIGNED_IN}


# per operator, through the log's (operator_id, at) index: the status the day began in, then the day's changes
_TODAY_SQL = """
SELECT o.id, l.status, l.at
  FROM operator o
  CROSS JOIN LATERAL (
      (SELECT id, status, at FROM operator_status_log
        WHERE operator_id = o.id AND at < %(start)s ORDER BY at DESC, id DESC LIMIT 1)
      UNION ALL
      (SELECT id, status, at FROM operator_status_log WHERE operator_id = o.id AND at >= %(start)s AND at <= %(end)s)
  ) l
 ORDER BY o.id, l.at, l.id"""


def today(db, start: datetime, end: datetime) -> dict[int, dict[str, float]]:
    """{operator id: seconds in each status between `start` (the day's beginning) and `end` (now)}."""
    changes: dict[int, list] = {}
    for operator_id, status, since in db.execute_sql(_TODAY_SQL, {"start": start, "end": end}).fetchall():
        changes.setdefault(operator_id, []).append((since, status))
    return {oid: seconds_by_status(rows, start, end) for oid, rows in changes.items()}


def rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {s: round(v, 1) for s, v in seconds.items() if v >= 0.05}

