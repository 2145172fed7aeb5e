"""The supervisor screen's JSON API (SPEC F1–F4, F7): the board, the queues, calls, alerts and forced actions.

Each route declares its permission; the use cases in `dialer.services.supervisor` check it again and audit
every action with the signed-in supervisor as the actor.
"""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, RawBody

from dialer.db import run
from dialer.services import supervisor as sv

from .. import auth
from ..schemas import strict


class ForcedStatus(msgspec.Struct, forbid_unknown_fields=True):
    status: str  # ready | pause | lunch


def _db(request: Request):
    return request.app.state.db


def _who(request: Request):
    return auth.principal_of(request)


def _zone(request: Request) -> str:
    """The installation's time zone: where the screen's "today" begins."""
    return request.app.state.settings.time_zone


def _ids(text: str) -> list[int]:
    """`1,2,3` → [1, 2, 3]; anything that is not an id is left out (the use case caps the count)."""
    return [int(p) for p in text.split(",")[:sv.BRIEF_MAX] if p.isdigit() and len(p) < 19]


@get("/board", opt={"permission": sv.VIEW}, summary="The whole screen: operators, campaigns, calls in progress")
async def board(request: Request) -> dict[str, Any]:
    return await run(_db(request), sv.board, _who(request), None, _zone(request))


@get("/queues", opt={"permission": sv.VIEW}, summary="Leads each campaign could call now")
async def queues(request: Request) -> dict[str, int]:
    counts = await run(_db(request), sv.queues, _who(request))
    return {str(k): v for k, v in counts.items()}


@get("/calls", opt={"permission": sv.VIEW}, summary="Client, order and timeline of calls by id (`?ids=1,2`)")
async def calls(request: Request, ids: FromQuery[str] = "") -> list[dict[str, Any]]:
    return await run(_db(request), sv.calls_brief, _who(request), _ids(ids))


@get("/calls/{attempt_id:int}", opt={"permission": sv.CALLS}, summary="The call card: stages, cause, result, CRM")
async def call_card(request: Request, attempt_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.call_detail, _who(request), attempt_id)


@get("/alerts", opt={"permission": sv.ALERTS}, summary="Alerts not acknowledged, and today's acknowledged ones")
async def alerts(request: Request) -> list[dict[str, Any]]:
    return await run(_db(request), sv.alerts, _who(request), None, _zone(request))


@post("/alerts/{alert_id:int}/acknowledge", status_code=200, opt={"permission": sv.ALERTS},
      summary="Acknowledge an alert")
async def acknowledge(request: Request, alert_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.acknowledge_alert, _who(request), alert_id)


@post("/operators/{operator_id:int}/status", status_code=202, opt={"permission": sv.OPERATOR_CONTROL},
      summary="Force an operator's status: ready, pause or lunch (after the call, when in one)")
async def force_status(request: Request, operator_id: FromPath[int], data: JSONBody[ForcedStatus],
                       body: RawBody) -> dict[str, Any]:
    data = strict(body, ForcedStatus)
    return await run(_db(request), sv.force_status, _who(request), operator_id, data.status)


@post("/operators/{operator_id:int}/hangup", status_code=202, opt={"permission": sv.OPERATOR_CONTROL},
      summary="End the operator's call")
async def force_hangup(request: Request, operator_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.force_hangup, _who(request), operator_id)


@post("/operators/{operator_id:int}/release", status_code=202, opt={"permission": sv.OPERATOR_CONTROL},
      summary="Release an operator from wrap-up")
async def force_release(request: Request, operator_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.force_release, _who(request), operator_id)


@post("/campaigns/{campaign_id:int}/pause", status_code=200, opt={"permission": sv.CAMPAIGN_CONTROL},
      summary="Pause a campaign: calls in progress finish, no new ones start")
async def pause_campaign(request: Request, campaign_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.set_campaign_active, _who(request), campaign_id, False)


@post("/campaigns/{campaign_id:int}/resume", status_code=200, opt={"permission": sv.CAMPAIGN_CONTROL},
      summary="Resume a campaign")
async def resume_campaign(request: Request, campaign_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.set_campaign_active, _who(request), campaign_id, True)


@post("/campaigns/{campaign_id:int}/confirm-autostop", status_code=200, opt={"permission": sv.CAMPAIGN_CONTROL},
      summary="Confirm a campaign's protective autostop: it dials again")
async def confirm_autostop(request: Request, campaign_id: FromPath[int]) -> dict[str, Any]:
    return await run(_db(request), sv.confirm_autostop, _who(request), campaign_id)


SUPERVISOR_API = Router(path="/api/supervisor", tags=["supervisor"], route_handlers=[
    board, queues, calls, call_card, alerts, acknowledge, force_status, force_hangup, force_release,
    pause_campaign, resume_campaign, confirm_autostop])
