"""«Поиск» (SPEC E3, D5, F7): find an order by phone (any written form), order id, lead number or name; the lead
card — fields and CRM attributes, the CRM link, the attempts with their outcomes in the six colours, callbacks,
state and why it is not being dialled — and, for those allowed, reschedule, priority and do-not-call. The
services check and audit; these handlers turn form fields into their input and errors into messages."""
from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.outcomes import Outcome
from dialer.services import lead_search

from .. import i18n

from .common import form_data, one, page
from .operators import errors_of

READ, UPDATE, DNC = ({"permission": p} for p in ("leads.read", "leads.update", "dnc.edit"))


def _db(request: Request):
    return request.app.state.db


def _outcomes() -> dict[str, str]:
    return {o.value: i18n.pick(o.label_ru, o.label_en) for o in Outcome}


@get("/search", opt=READ, include_in_schema=False)
async def search_page(request: Request) -> Response:
    q = request.query_params.get("q", "")
    found, errors = None, {}
    if q.strip():
        try:
            found = await run(_db(request), lead_search.search, q)
        except DomainError as e:
            errors = errors_of(e)
    return page(request, "search/index.html", status_code=422 if errors else 200, q=q, found=found, errors=errors,
                outcomes=_outcomes())


async def _card(request: Request, lead_id: int, status: int = 200, errors: dict | None = None) -> Response:
    card = await run(_db(request), lead_search.lead_card, lead_id)
    from dialer.services import recordings  # the attempts' players (web/pages/recordings.py serves the files)
    from .. import auth
    played = await run(_db(request), recordings.playable, auth.principal_of(request),
                       [a["id"] for a in card.get("attempt_list") or []], request.app.state.settings.recordings_operators_own)
    return page(request, "search/lead.html", status_code=status, lead=card, errors=errors or {}, outcomes=_outcomes(),
                recordings=played,
                q=request.query_params.get("q", ""), saved=request.query_params.get("saved", ""))


@get("/search/leads/{lead_id:int}", opt=READ, include_in_schema=False)
async def lead_page(request: Request, lead_id: FromPath[int]) -> Response:
    return await _card(request, lead_id)


async def _change(request: Request, lead_id: int, fn, *args) -> Response:
    try:
        await run(_db(request), fn, lead_id, *args)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _card(request, lead_id, e.status, errors_of(e))
    return Redirect(f"/search/leads/{lead_id}?saved=1")


@post("/search/leads/{lead_id:int}/reschedule", opt=UPDATE, include_in_schema=False)
async def reschedule(request: Request, lead_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, lead_id, lead_search.reschedule, one(form, "next_call_at"))


@post("/search/leads/{lead_id:int}/priority", opt=UPDATE, include_in_schema=False)
async def priority(request: Request, lead_id: FromPath[int]) -> Response:
    form = await form_data(request)
    raw = one(form, "priority").strip()
    value = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 19 else raw
    return await _change(request, lead_id, lead_search.set_priority, value)


@post("/search/leads/{lead_id:int}/do-not-call", opt=DNC, include_in_schema=False)
async def do_not_call(request: Request, lead_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, lead_id, lead_search.do_not_call, one(form, "reason"))


ROUTES = [search_page, lead_page, reschedule, priority, do_not_call]
