"""The reports' JSON API (SPEC G1–G5, G7): the report, the call list, and saved views.

The filter is the page's query string: `period=today|yesterday|7d|month|custom`, `from`/`to` (YYYY-MM-DD, local days
of the installation's time zone), and repeatable `campaign`, `operator`, `selection`, `outcome`.
"""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, RawBody

from dialer.db import run
from dialer.services import report_calls, report_views, reports

from .. import auth
from ..pages.reports import filter_of, today_in, zone_of
from ..schemas import strict

READ = {"permission": reports.READ}


class ViewIn(msgspec.Struct, forbid_unknown_fields=True):
    table: str                      # report | calls
    name: str
    state: dict[str, Any]           # {"query": "...", "hidden": {table: [column]}, "sort": {table: "column:asc"}}
    shared_role_id: int | None = None


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@get("/summary", opt=READ, summary="The report: KPIs, by day, by hour, by campaign, by operator")
async def summary(request: Request) -> dict[str, Any]:
    """`part` (repeatable: kpis, by_day, by_hour, campaigns, operators) narrows the answer to those parts."""
    flt = filter_of(request)
    parts = tuple(request.query_params.getall("part", [])) or tuple(reports.PARTS)
    return _plain(await run(request.app.state.db, reports.report, auth.principal_of(request), flt, None, parts))


@get("/calls", opt=READ, summary="The calls of a report filter, a page (100) at a time")
async def calls(request: Request, sort: FromQuery[str] = "-ended", page: FromQuery[int] = 1) -> dict[str, Any]:
    flt = filter_of(request)
    return _plain(await run(request.app.state.db, report_calls.calls, auth.principal_of(request), flt, sort, page))


@get("/views", opt=READ, summary="Saved views of a page (own, and shared with one of the user's roles)")
async def list_views(request: Request, table: FromQuery[str] = "report") -> list[dict[str, Any]]:
    return await run(request.app.state.db, report_views.list_views, auth.principal_of(request), table)


@post("/views", status_code=200, opt=READ, summary="Save a view (saving under an existing name replaces it)")
async def save_view(request: Request, data: JSONBody[ViewIn], body: RawBody) -> dict[str, Any]:
    data = strict(body, ViewIn)
    zone = zone_of(request)
    return await run(request.app.state.db, lambda: report_views.save_view(
        auth.principal_of(request), data.table, data.name, data.state, data.shared_role_id, zone=zone,
        today=today_in(zone)))


@delete("/views/{view_id:int}", status_code=200, opt=READ, summary="Delete one of the user's own views")
async def delete_view(request: Request, view_id: FromPath[int]) -> dict[str, Any]:
    return await run(request.app.state.db, report_views.delete_view, auth.principal_of(request), view_id)


REPORTS_API = Router(path="/api/reports", tags=["reports"], route_handlers=[summary, calls, list_views, save_view,
                                                                              delete_view])
