"""Operators: accounts, pools, and commands to the engine (ready, pause, lunch, hang up, wrap-up)."""
from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, RawBody
from peewee import Database

from dialer.db import run
from dialer.services import operators

from .. import auth
from ..schemas import OperatorCampaigns, OperatorCreate, WrapUp, strict


def _command_route(kind: str):
    """POST /{id}/<kind>: the engine acts on it asynchronously, hence 202. Own operator or supervisor (403)."""
    @post(f"/{{operator_id:int}}/{kind}", status_code=202, opt={"permission": auth.OPERATORS_CONTROL},
          name=f"operator-{kind}", operation_id=f"operator_{kind}", summary=f"Ask the engine: {kind}")
    async def handler(request: Request, operator_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, operators.request, auth.acting_of(request), operator_id, kind)
    return handler


class OperatorController(Controller):
    path = "/api/operators"
    tags = ["operators"]

    @post("/", opt={"permission": auth.OPERATORS_CREATE})
    async def create_operator(self, data: JSONBody[OperatorCreate], body: RawBody,
                              db: NamedDependency[Database]) -> dict[str, Any]:
        """The answer carries the SIP password (generated if not given) once."""
        data = strict(body, OperatorCreate)
        return await run(db, operators.create_operator, data.name, data.login, data.sip_password,
                         data.campaign_ids)

    @get("/", opt={"permission": auth.OPERATORS_READ})
    async def list_operators(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, operators.list_operators)

    @get("/{operator_id:int}", opt={"permission": auth.OPERATORS_READ})
    async def get_operator(self, operator_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, operators.get_operator, operator_id)

    @put("/{operator_id:int}/campaigns", opt={"permission": auth.OPERATORS_POOLS})
    async def set_campaigns(self, operator_id: FromPath[int], data: JSONBody[OperatorCampaigns],
                            body: RawBody, db: NamedDependency[Database]) -> dict[str, Any]:
        data = strict(body, OperatorCampaigns)
        return await run(db, operators.set_campaigns, operator_id, data.campaign_ids)

    @post("/{operator_id:int}/wrap-up", status_code=202, opt={"permission": auth.OPERATORS_WRAP_UP})
    async def wrap_up(self, request: Request, operator_id: FromPath[int], data: JSONBody[WrapUp], body: RawBody,
                      db: NamedDependency[Database]) -> dict[str, Any]:
        """The operator's own call, or anyone's with the supervisor permission (403); a result of the campaign."""
        data = strict(body, WrapUp)
        return await run(db, operators.submit_wrap_up, auth.acting_of(request), operator_id, data.result,
                         data.comment, data.postpone_minutes, data.postpone_until, data.do_not_call)


COMMAND_ROUTES = [_command_route(kind) for kind in operators.REQUESTS]
