"""«Отчёты» (SPEC G1–G7): the report page, the call list behind its figures, exports and the daily shift summary.

The filter travels in the query string (a link, an export and a saved view carry the same one). Exports stream:
the rows are produced in a worker thread that keeps one database connection for the export's whole life and
hands chunks over through a small bounded queue, so memory stays flat and the event loop never blocks.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from datetime import date, datetime, timezone
from dataclasses import replace
from typing import AsyncIterator, Callable, Iterator
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Response, Stream, Template

from dialer.db import run
from dialer.errors import DomainError
from dialer.outcomes import ORDER
from dialer.services import report_calls, report_files, report_views, reports, reports_export, reports_pdf
from dialer.validation import invalid

from .. import auth, i18n
from ..i18n import N_
from .common import page

log = logging.getLogger(__name__)
READ, EXPORT = {"permission": reports.READ}, {"permission": reports.EXPORT}
FORMATS = ("csv", "xlsx", "pdf")
EXPORT_TABLES = ("report", "kpis", "days", "hours", "campaigns", "operators", "calls")


def zone_of(request: Request) -> str:
    return reports.zone_or_default(request.app.state.settings.time_zone)


def today_in(zone: str) -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(zone)).date()


def params_of(request: Request) -> dict[str, list[str]]:
    q = request.query_params
    # an empty value is no value (a form's "—" option, a cleared date)
    return {key: [v[:200] for v in q.getall(key) if v.strip()][:reports.MAX_IDS + 1] for key in q.keys()}


def filter_of(request: Request) -> reports.Filter:
    zone = zone_of(request)
    return reports.parse_filter(params_of(request), zone, today_in(zone))


def outcome_meta() -> list[dict]:
    return [{"code": o.value, "label": i18n.pick(o.label_ru, o.label_en), "colour": o.colour} for o in ORDER]


def _columns(table: str) -> list[dict]:
    return [{"key": c.key, "title": c.title(i18n.language()), "kind": c.kind} for c in reports_export.TABLES[table][2]]


async def _common(request: Request, table_key: str) -> dict:
    db = request.app.state.db
    who = auth.principal_of(request)
    choices = await run(db, reports.choices)
    views = await run(db, report_views.list_views, who, table_key)
    roles, files = [], []
    if who.may(reports.EXPORT):
        files = await run(db, report_files.list_files, who, 60)
        from dialer.services import users
        roles = [{"id": r["id"], "title": i18n.pick(r["title_ru"], r["title_en"])}
                 for r in await run(db, users.list_roles) if reports.READ in r["permissions"]]
    view = None
    if request.query_params.get("view", "").isdigit():
        try:
            view = await run(db, report_views.get_view, who, int(request.query_params["view"]))
        except DomainError:
            view = None
    return {"choices": choices, "views": views, "view": view, "share_roles": roles, "zone": zone_of(request),
            "shift_files": files, "shift_at": request.app.state.settings.shift_report_at,
            "outcomes": outcome_meta(), "presets": PRESETS, "table_key": table_key}


PRESETS = [("today", "Today"), ("yesterday", "Yesterday"), ("7d", "7 days"), ("month", "Month"), ("custom", "Period")]


COMPARE_MAX = 15


def compared(rep: dict) -> list[dict]:
    """The operators on the comparison chart (G4): those with calls, most calls first, at most COMPARE_MAX."""
    rows = [r for r in rep["operators"] if r["id"] is not None and r["attempts"]]
    rows.sort(key=lambda r: (-r["attempts"], r["name"]))
    return [{k: r[k] for k in ("id", "name", "attempts", "outcomes", "talk_min_per_hour", "calls_per_hour")}
            for r in rows[:COMPARE_MAX]]


@get("/reports", opt=READ, include_in_schema=False)
async def reports_page(request: Request) -> Template:
    common = await _common(request, "report")
    try:
        flt = filter_of(request)
        rep = await run(request.app.state.db, reports.report, auth.principal_of(request), flt)
    except DomainError as e:
        if e.status != 422:
            raise
        flt = reports.Filter(today_in(common["zone"]), today_in(common["zone"]), common["zone"], "today")
        return page(request, "reports/index.html", status_code=422, error=i18n.error_text(e.as_dict()), rep=None, compare=[],
                    flt=flt, query=_query(flt), columns={t: _columns(t) for t in ("campaigns", "operators")},
                    **_urls(flt), **common)
    return page(request, "reports/index.html", rep=rep, flt=flt, query=_query(flt), error="", compare=compared(rep),
                columns={t: _columns(t) for t in ("campaigns", "operators")}, **_urls(flt), **common)


@get("/reports/calls", opt=READ, include_in_schema=False)
async def calls_page(request: Request) -> Template:
    common = await _common(request, "calls")
    sort = request.query_params.get("sort", "-ended")
    page_no = request.query_params.get("page", "1")
    try:
        flt = filter_of(request)
        if not (page_no.isdigit() and len(page_no) < 7):
            raise invalid("page", "must be a whole number", "должно быть целым числом")
        found = await run(request.app.state.db, report_calls.calls, auth.principal_of(request), flt, sort, int(page_no))
        error, status = "", 200
    except DomainError as e:
        if e.status != 422:
            raise
        flt = reports.Filter(today_in(common["zone"]), today_in(common["zone"]), common["zone"], "today")
        found, error, status = None, i18n.error_text(e.as_dict()), 422
    return page(request, "reports/calls.html", status_code=status, found=found, flt=flt, query=_query(flt),
                error=error, sorts=list(report_calls.SORTS), columns=_columns("calls"),
                **_urls(flt, found["sort"] if found else None), **common)


def _query(flt: reports.Filter) -> str:
    return urlencode(flt.query())


def _urls(flt: reports.Filter, sort: str | None = None) -> dict:
    """Links the templates build from the page's filter: the calls behind a figure, the exports."""
    def calls_url(campaign: int | None = None, operator: int | None = None, outcome: str | None = None) -> str:
        f = flt
        if campaign is not None:
            f = replace(f, campaigns=(campaign,))
        if operator is not None:
            f = replace(f, operators=(operator,))
        if outcome is not None:
            f = replace(f, outcomes=(outcome,))
        return "/reports/calls?" + urlencode(f.query())

    def export_url(table: str, kind: str, sep: str | None = None) -> str:
        extra = [("table", table), ("format", kind)] + ([("sep", sep)] if sep else []) + ([("sort", sort)] if sort else [])
        return "/reports/export?" + urlencode(flt.query() + extra)

    return {"calls_url": calls_url, "export_url": export_url, "words": {k: i18n.gettext(v) for k, v in WORDS.items()}}


WORDS = {"total": N_("Total"), "attempts": N_("attempts"), "saved": N_("Saved"), "name_needed": N_("Give the view a name"),
         "delete_confirm": N_("Delete this view?"), "hour": N_("h"), "mix": N_("Outcomes, % of the operator's calls"),
         "talk_per_hour": N_("Talk minutes per hour signed in")}


# ---- exports ----------------------------------------------------------------------------------------------
async def streamed(db, make: Callable[[], Iterator[bytes]]) -> AsyncIterator[bytes]:
    """Chunks of `make()` produced in one worker thread (one pooled connection for its whole life), at most
    four chunks ahead of the client. A client that goes away stops the producer."""
    chunks: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with db.connection_context():
                chunks_of = make()
                try:
                    for chunk in chunks_of:
                        if chunk and not put(chunk):
                            return
                finally:  # a client gone: end the export's transaction here, before the connection goes back
                    chunks_of.close()
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which logs and ends the download
            put(e)
            return
        put(end)

    def take():
        # a bounded wait: a consumer cancelled (the client left) must not leave a worker thread waiting for ever
        try:
            return chunks.get(timeout=0.5)
        except queue.Empty:
            return None

    threading.Thread(target=produce, name="report-export", daemon=True).start()
    try:
        while True:
            item = await asyncio.to_thread(take)
            if item is None:
                continue
            if item is end:
                return
            if isinstance(item, BaseException):
                log.error("report export failed after it began", exc_info=item)
                return
            yield item
    finally:
        stop.set()


def _choice(request: Request, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(key, default)
    if value not in allowed:
        raise invalid(key, "must be one of: " + ", ".join(allowed), "допустимые значения: " + ", ".join(allowed))
    return value


def _sections(table: str, flt: reports.Filter, who, lang: str, sort: str):
    """What an export holds, built lazily inside the export's thread."""
    def build():
        if table == "calls":
            cols = reports_export.TABLES["calls"][2]
            return [("", cols, (reports_export.call_row(r, lang) for r in report_calls.stream(flt, sort)))]
        tables = reports_export.report_tables(reports.report(who, flt), lang)
        keys = reports_export.SHEETS if table == "report" else (table,)
        return [tables[k] for k in keys]
    return build


@get("/reports/export", opt=EXPORT, include_in_schema=False)
async def export(request: Request) -> Response | Stream:
    """`?table=report|kpis|days|hours|campaigns|operators|calls&format=csv|xlsx|pdf[&sep=semicolon]` + the filter."""
    db, who, lang = request.app.state.db, auth.principal_of(request), i18n.language()
    table = _choice(request, "table", EXPORT_TABLES, "report")
    kind = _choice(request, "format", FORMATS, "csv")
    sep = ";" if _choice(request, "sep", ("comma", "semicolon"), "comma") == "semicolon" else ","
    sort = report_calls.sort_key(request.query_params.get("sort"))
    flt = filter_of(request)
    await run(db, lambda: (reports.require(who, reports.EXPORT), reports.check_exists(flt)))  # 403/422 before the stream

    def pdf() -> bytes:
        if table == "calls":
            rows = list(report_calls.stream(flt, sort, limit=reports_export.PDF_MAX_CALLS))
            total = report_calls.calls(who, flt, sort)["total"]
            return reports_pdf.calls_pdf(rows, total, flt, lang)
        return reports_pdf.report_pdf(reports.report(who, flt), flt, lang)

    def make() -> Iterator[bytes]:
        preface = reports_export.describe(flt, lang)
        return reports_export.export(kind, _sections(table, flt, who, lang, sort), lang, sep, preface, pdf)

    name = f"{'calls' if table == 'calls' else 'report'}-{flt.start}-{flt.end}.{kind}"
    return Stream(streamed(db, make), media_type=reports_export.MEDIA[kind],
                  headers={"Content-Disposition": f'attachment; filename="{name}"'})


@get("/reports/shift", opt=EXPORT, include_in_schema=False)
async def shift_summary(request: Request) -> Response:
    """The printable daily shift summary (PDF) of one campaign or one operator: `?day=YYYY-MM-DD&campaign=ID` or
    `&operator=ID` (the day defaults to today)."""
    db, who, lang = request.app.state.db, auth.principal_of(request), i18n.language()
    zone = zone_of(request)
    params = params_of(request)
    day = (params.get("day") or [today_in(zone).isoformat()])[0]
    campaign, operator = params.get("campaign") or [], params.get("operator") or []
    if len(campaign) + len(operator) != 1:
        raise invalid("campaign", "name one campaign or one operator", "укажите одну кампанию или одного оператора")
    flt = reports.parse_filter({"from": [day], "to": [day], "campaign": campaign, "operator": operator}, zone,
                               today_in(zone))

    def build() -> tuple[bytes, str]:
        reports.require(who, reports.EXPORT)
        rep = reports.report(who, flt)
        subject = (reports.names("campaign", flt.campaigns) or reports.names("operator", flt.operators)).popitem()[1]
        return reports_pdf.shift_pdf(rep, flt, lang, subject, per_operator=bool(flt.operators)), subject

    body, _ = await run(db, build)
    what = f"campaign-{flt.campaigns[0]}" if flt.campaigns else f"operator-{flt.operators[0]}"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="shift-{what}-{flt.start}.pdf"'})


@get("/reports/files/{file_id:int}", opt=EXPORT, include_in_schema=False)
async def kept_file(request: Request, file_id: FromPath[int]) -> Response:
    """A shift summary PDF the scheduled job wrote and kept (dialer/services/report_files.py)."""
    name, body = await run(request.app.state.db, report_files.get_file, auth.principal_of(request), file_id)
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [reports_page, calls_page, export, shift_summary, kept_file]
