"""A campaign's «Режим набора» tab (SPEC B2, B3, B4): progressive or predictive, the maximum lead ratio, the abandon
cap and its window, grace, wait-for-operator timeout, the safe-harbour message, autostop N errors in T seconds,
and the autostop's state with «Подтвердить автостоп». The service (dialer/services/pacing.py) checks and audits."""
from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import campaigns, pacing

from .common import form_data, one, page
from .operators import errors_of

READ, UPDATE = ({"permission": p} for p in ("campaigns.read", "campaigns.update"))
INT_FIELDS = ("wait_timeout_s", "min_sample_calls", "autostop_errors", "autostop_window_s")
NUMBER_FIELDS = ("max_ratio", "abandon_cap_percent", "grace_s")


def _int(value: str, empty=None):
    value = value.strip()
    if not value:
        return empty
    return int(value) if value.lstrip("-").isdigit() and len(value) < 19 else value


def pacing_of(form: dict[str, list[str]]) -> dict:
    """The form as the service's input; numbers go on as typed (the service reads "2,5" and names bad ones)."""
    values = {"mode": one(form, "mode"), "window_day": one(form, "window_day") == "on",
              "safe_harbour_message": one(form, "safe_harbour_message") == "on",
              "window_answered": _int(one(form, "window_answered"))}
    values.update({k: _int(one(form, k), "") for k in INT_FIELDS})
    values.update({k: one(form, k) for k in NUMBER_FIELDS})
    return values


async def _page(request: Request, campaign_id: int, status: int = 200, errors: dict | None = None,
                draft: dict | None = None) -> Response:
    db = request.app.state.db
    c = await run(db, campaigns.get_campaign, campaign_id)
    s = await run(db, pacing.get_pacing, campaign_id)
    return page(request, "campaigns/dialling.html", status_code=status, campaign=c, s={**s, **(draft or {})},
                autostop=s["autostop"], errors=errors or {}, saved=request.query_params.get("saved", ""),
                tab="dialling")


@get("/campaigns/{campaign_id:int}/dialling", opt=READ, include_in_schema=False)
async def dialling_page(request: Request, campaign_id: FromPath[int]) -> Response:
    return await _page(request, campaign_id)


@post("/campaigns/{campaign_id:int}/dialling", opt=UPDATE, include_in_schema=False)
async def save_dialling(request: Request, campaign_id: FromPath[int]) -> Response:
    values = pacing_of(await form_data(request))
    try:
        await run(request.app.state.db, pacing.update_pacing, campaign_id, **values)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _page(request, campaign_id, e.status, errors_of(e), values)
    return Redirect(f"/campaigns/{campaign_id}/dialling?saved=1", status_code=303)


@post("/campaigns/{campaign_id:int}/dialling/confirm-autostop", opt=UPDATE, include_in_schema=False)
async def confirm_autostop(request: Request, campaign_id: FromPath[int]) -> Response:
    await form_data(request)
    try:
        await run(request.app.state.db, pacing.confirm_autostop, campaign_id)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _page(request, campaign_id, e.status, errors_of(e))
    return Redirect(f"/campaigns/{campaign_id}/dialling?saved=resumed", status_code=303)


ROUTES = [dialling_page, save_dialling, confirm_autostop]
