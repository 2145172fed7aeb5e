"""The calls behind a report's figure (SPEC G5): the attempts of a report filter, a page at a time for the screen,
or all of them streamed through a server-side cursor for an export (never the whole result in memory)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from ..access import Principal
from ..validation import database, invalid
from .reports import READ, TALK_SQL, WRAP_SQL, Filter, check_exists, require, where

PAGE = 100
MAX_PAGE = 10_000
FETCH = 2000              # rows per round trip of an export's cursor
COLUMNS = ("id", "ended_at", "campaign", "operator", "client", "order_id", "phone", "outcome", "talk_s",
           "wrap_s", "result", "manual")
# sort keys of the call list → fixed SQL (the id breaks ties, so pages never overlap)
SORTS = {"-ended": "a.ended_at DESC, a.id DESC", "ended": "a.ended_at, a.id",
         "-talk": "talk_s DESC NULLS LAST, a.id DESC", "talk": "talk_s NULLS FIRST, a.id",
         "campaign": "c.name, a.ended_at DESC, a.id DESC", "operator": "o.name NULLS LAST, a.ended_at DESC, a.id DESC"}

_SQL = f"""
SELECT a.id, a.ended_at, c.name, o.name, l.name, l.external_id, a.phone, a.outcome, {TALK_SQL} AS talk_s,
       {WRAP_SQL} AS wrap_s, coalesce(r.title, a.wrap_up_result), a.manual
  FROM attempt a JOIN campaign c ON c.id = a.campaign_id JOIN lead l ON l.id = a.lead_id
  LEFT JOIN operator o ON o.id = a.operator_id
  -- the result as the campaign names it (its code only if the result was removed since)
  LEFT JOIN campaign_result r ON r.campaign_id = a.campaign_id AND r.code = a.wrap_up_result
 WHERE {{where}} ORDER BY {{order}}"""


def sort_key(value: str | None) -> str:
    value = value or "-ended"
    if value not in SORTS:
        raise invalid("sort", "must be one of: " + ", ".join(SORTS), "допустимые значения: " + ", ".join(SORTS))
    return value


def _sql(flt: Filter, sort: str) -> tuple[str, list]:
    clause, params = where(flt)
    return _SQL.format(where=clause, order=SORTS[sort_key(sort)]), params


def _local(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    return at.astimezone(zone) if at else None


def _dict(r, zone: ZoneInfo) -> dict:
    d = dict(zip(COLUMNS, r))
    d["ended_at"] = _local(d["ended_at"], zone)
    d["talk_s"] = float(d["talk_s"]) if d["talk_s"] is not None else None
    d["wrap_s"] = float(d["wrap_s"]) if d["wrap_s"] is not None else None
    return d


def calls(who: Principal, flt: Filter, sort: str = "-ended", page: int = 1) -> dict:
    """One page of the call list (newest first by default) and the number of calls in all."""
    require(who, READ)
    check_exists(flt)
    if not 1 <= page <= MAX_PAGE:
        raise invalid("page", f"must be between 1 and {MAX_PAGE}", f"должно быть от 1 до {MAX_PAGE}")
    sql, params = _sql(flt, sort)
    db = database()
    rows = db.execute_sql(sql + " LIMIT %s OFFSET %s", [*params, PAGE, (page - 1) * PAGE]).fetchall()
    clause, cparams = where(flt)
    (total,) = db.execute_sql(f"SELECT count(*) FROM attempt a WHERE {clause}", cparams).fetchone()
    zone = ZoneInfo(flt.zone)
    return {"rows": [_dict(r, zone) for r in rows], "total": total, "page": page, "pages": max(1, -(-total // PAGE)),
            "sort": sort_key(sort)}


def stream(flt: Filter, sort: str = "-ended", limit: int | None = None) -> Iterator[dict]:
    """Every call of the filter, FETCH rows at a time from a server-side cursor inside one read-only transaction.
    Call it where one connection stays with the generator for its whole life (one thread); the caller has checked
    the permission."""
    sql, params = _sql(flt, sort)
    if limit is not None:
        sql += " LIMIT %s"
        params = [*params, limit]
    db = database()
    zone = ZoneInfo(flt.zone)
    with db.atomic():
        db.execute_sql("SET TRANSACTION READ ONLY")
        # a cursor declared in SQL: peewee's connection is in autocommit mode, where psycopg2's named cursors
        # refuse to work; inside db.atomic() the DECLARE lives as long as the transaction
        db.execute_sql("DECLARE report_calls NO SCROLL CURSOR FOR " + sql, params)
        while True:
            batch = db.execute_sql(f"FETCH {FETCH} FROM report_calls").fetchall()
            if not batch:
                break
            for r in batch:
                yield _dict(r, zone)
        db.execute_sql("CLOSE report_calls")
