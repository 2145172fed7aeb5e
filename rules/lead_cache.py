"""Each campaign's rule fields held in memory (`rules.columns`), read whole once and then only what changed
(sql/028_lead_changes.sql): «Подходит сейчас» counts a draft over them instead of testing every lead in SQL.

Exact, not "fresh enough": every count first reads, in one snapshot, the leads written by any transaction its
last read could not see (`changed_xid >= ` that read's snapshot xmin) and the leads that left the campaign
since, so the copy is the campaign as that snapshot sees it. A copy is read whole again when the database is
another (a restore, a restart, a switch to the standby), after a TRUNCATE, and at least every STALE_AFTER
seconds (what no trigger sees — rows written with triggers switched off — is then picked up).

Used for rules on the fields the columns hold (`columns.countable`) and campaigns up to MAX_LEADS; the others
are counted in SQL (`rules.selections.preview_query`). Memory: ~180 bytes a lead, at most MAX_HELD leads and
MAX_COPIES campaigns in all (the least recently counted campaigns are dropped first).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime

from dialer import validation as f

from . import columns as cl
from .model import Rule

STALE_AFTER = 3600.0
MAX_LEADS = 1_000_000
MAX_HELD = 2_000_000
MAX_COPIES = 64  # each holds room for 1,024 leads at least (~200 KB)

# the fields as rules.compile reads them, computed by PostgreSQL (its clock conversions, its decimals)
ROW_SQL = """
SELECT id, state IN ('new', 'callable'), listed,
       (extract(epoch FROM next_call_at) * 1000000)::int8, (extract(epoch FROM last_attempt_at) * 1000000)::int8,
       timezone(time_zone, created_at)::date - DATE '0001-01-01' + 1,
       timezone(time_zone, next_call_at)::date - DATE '0001-01-01' + 1,
       timezone(time_zone, last_attempt_at)::date - DATE '0001-01-01' + 1,
       attempts, attempts_today, attempts_day - DATE '0001-01-01' + 1, priority,
       birth_date - DATE '0001-01-01' + 1, extract(year FROM birth_date)::int,
       (extract(month FROM birth_date) * 100 + extract(day FROM birth_date))::int,
       (amount * 100)::int8, time_zone, region, city, country, product, crm_status
  FROM lead WHERE campaign_id = %s"""
# the snapshot's xmin, and what says the database is the same one as at the last read
SNAPSHOT_SQL = """SELECT pg_snapshot_xmin(pg_current_snapshot())::text,
                         (SELECT oid FROM pg_database WHERE datname = current_database()), pg_postmaster_start_time()"""


class _Copy:
    def __init__(self):
        self.lock = threading.Lock()
        self.cols: cl.LeadColumns | None = None
        self.xmin: int | None = None
        self.read_at = 0.0


_copies: OrderedDict = OrderedDict()  # (database, campaign) → _Copy, the least recently counted first
_copies_lock = threading.Lock()


def counts(campaign, rule: Rule, effective: Rule, zones: list[str] | None, now: datetime) -> tuple[int, int] | None:
    """`rules.selections.preview`'s two counts from the campaign's copy; None when it must be counted in SQL."""
    if not cl.countable(rule):
        return None
    db = f.database()
    with db.atomic():
        if db.transaction_depth() == 1:  # a transaction of its own: all the reads below see one snapshot
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        xmin, oid, started = db.execute_sql(SNAPSHOT_SQL).fetchone()
        copy = _copy((oid, started, campaign.id, campaign.created_at))
        with copy.lock:
            if not _refresh(db, copy, campaign.id, int(xmin)):
                return None
            zone_list = copy.cols.categories["time_zone"]
            today = dict(db.execute_sql("SELECT z, timezone(z, %s)::date FROM unnest(%s::text[]) AS z",
                                        (now, zone_list)).fetchall()) if zone_list else {}
            found = cl.count(copy.cols, rule, effective, zones, cl.Clock(now, today))
    _held()
    return found


def forget() -> None:
    """Drop every copy (the next count reads its campaign whole)."""
    with _copies_lock:
        _copies.clear()


def _copy(key) -> _Copy:
    with _copies_lock:
        copy = _copies.get(key)
        if copy is None:
            copy = _copies[key] = _Copy()
        _copies.move_to_end(key)
        return copy


def _held() -> None:
    """Keep at most MAX_HELD leads and MAX_COPIES campaigns in memory: the least recently counted go first."""
    with _copies_lock:
        total = sum(len(c.cols) for c in _copies.values() if c.cols is not None)
        for key in list(_copies):
            if (total <= MAX_HELD and len(_copies) <= MAX_COPIES) or len(_copies) == 1:
                break
            gone = _copies.pop(key)
            total -= len(gone.cols) if gone.cols is not None else 0


def _refresh(db, copy: _Copy, campaign_id: int, xmin: int) -> bool:
    """Bring the copy to the transaction's snapshot; False: the campaign is too big to hold."""
    whole = copy.cols is None or time.monotonic() - copy.read_at > STALE_AFTER
    if not whole:
        gone = db.execute_sql("SELECT campaign_id, lead_id FROM lead_gone WHERE xid >= %s::text::xid8",
                              (str(copy.xmin),)).fetchall()
        whole = any(c is None for c, _ in gone)  # a TRUNCATE
    if whole:
        # the campaign's size from its counts by state (sql/020) first: a campaign too big is not read at all
        size = db.execute_sql("SELECT coalesce(sum(leads), 0) FROM campaign_lead_count WHERE campaign_id = %s",
                              (campaign_id,)).fetchone()[0]
        if size > MAX_LEADS:
            copy.cols = None
            return False
        rows = db.execute_sql(ROW_SQL + " LIMIT %s", (campaign_id, MAX_LEADS + 1)).fetchall()
        if len(rows) > MAX_LEADS:
            copy.cols = None
            return False
        cols = cl.LeadColumns()
        cols.write(rows)
        copy.cols, copy.read_at = cols, time.monotonic()
    else:
        # the leads that left first, then the campaign's leads as they are now: a lead that left and came back
        # is in the second read
        copy.cols.remove([lead for c, lead in gone if c == campaign_id])
        copy.cols.write(db.execute_sql(ROW_SQL + " AND changed_xid >= %s::text::xid8",
                                       (campaign_id, str(copy.xmin))).fetchall())
    copy.xmin = xmin
    return True
