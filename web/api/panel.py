"""The operator panel's JSON API: the signed-in user's own operator, their state, call card and requests.

The operator is always the one the user is linked to (`app_user.operator_id`); nothing here takes an
operator id from the client, and a call of anyone else is refused with 403 (the use cases check).
"""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody, RawBody

from dialer.db import run
from dialer.services import panel

from .. import auth
from ..schemas import strict

PANEL_USE, PANEL_STATUS = "panel.use", "panel.status"
PANEL_CALL_CONTROL, PANEL_WRAP_UP, PANEL_MANUAL_DIAL = "panel.call_control", "panel.wrap_up", "panel.manual_dial"


class StatusRequest(msgspec.Struct, forbid_unknown_fields=True):
    status: str  # ready | pause | lunch


class AutoAnswer(msgspec.Struct, forbid_unknown_fields=True):
    on: bool


class PanelWrapUp(msgspec.Struct, forbid_unknown_fields=True):
    result: str
    comment: str = ""
    postpone_minutes: int | None = None
    postpone_until: str | None = None  # ISO 8601; without an offset: the client's local time
    do_not_call: bool = False


class ManualDial(msgspec.Struct, forbid_unknown_fields=True):
    phone: str | None = None
    order_id: str | None = None
    campaign_id: int | None = None


def own_operator(request: Request) -> int:
    principal = auth.principal_of(request)
    if principal is None or principal.operator_id is None:
        raise panel.not_an_operator()
    return principal.operator_id


def _db(request: Request):
    return request.app.state.db


@get("/state", opt={"permission": PANEL_USE}, summary="The operator's own status and current call card")
async def panel_state(request: Request) -> dict[str, Any]:
    return await run(_db(request), panel.state, own_operator(request))


@get("/calls/{attempt_id:int}", opt={"permission": PANEL_USE}, summary="The card of one of the operator's calls")
async def call_card(request: Request, attempt_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), panel.call_card, own_operator(request), attempt_id)


@post("/status", status_code=202, opt={"permission": PANEL_STATUS}, summary="Go Ready, Pause or Lunch")
async def set_status(request: Request, data: JSONBody[StatusRequest], body: RawBody) -> dict[str, Any]:
    data = strict(body, StatusRequest)
    return await run(_db(request), panel.set_status, own_operator(request), data.status)


@post("/auto-answer", status_code=202, opt={"permission": PANEL_CALL_CONTROL}, summary="Switch auto-answer")
async def set_auto_answer(request: Request, data: JSONBody[AutoAnswer], body: RawBody) -> dict[str, Any]:
    data = strict(body, AutoAnswer)
    return await run(_db(request), panel.set_auto_answer, own_operator(request), data.on)


@post("/calls/{attempt_id:int}/answer", status_code=202, opt={"permission": PANEL_CALL_CONTROL},
      summary="«Ответить»: accept the offered call")
async def answer(request: Request, attempt_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), panel.answer, own_operator(request), attempt_id)


@post("/calls/{attempt_id:int}/hangup", status_code=202, opt={"permission": PANEL_CALL_CONTROL},
      summary="«Завершить»: hang the call up (an offer is declined)")
async def hang_up(request: Request, attempt_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), panel.hang_up, own_operator(request), attempt_id)


@post("/calls/{attempt_id:int}/wrap-up", status_code=202, opt={"permission": PANEL_WRAP_UP},
      summary="Wrap-up: result, comment, postpone or «Больше не звонить»")
async def wrap_up(request: Request, attempt_id: FromPath[int], data: JSONBody[PanelWrapUp],
                  body: RawBody) -> dict[str, Any]:
    data = strict(body, PanelWrapUp)
    return await run(_db(request), panel.wrap_up, own_operator(request), attempt_id, data.result, data.comment,
                     data.postpone_minutes, data.postpone_until, data.do_not_call)


@post("/dial", status_code=202, opt={"permission": PANEL_MANUAL_DIAL}, summary="Manual dial by number or order id")
async def manual_dial(request: Request, data: JSONBody[ManualDial], body: RawBody) -> dict[str, Any]:
    data = strict(body, ManualDial)
    return await run(_db(request), panel.manual_dial, own_operator(request), data.phone, data.order_id,
                     data.campaign_id)


PANEL_API = Router(path="/api/panel", tags=["panel"], route_handlers=[
    panel_state, call_card, set_status, set_auto_answer, answer, hang_up, wrap_up, manual_dial])
