"""«Поиск» over the API: find leads by phone (any written form), order id, lead number or name; one lead's card
with its attempts and why it is not being dialled; a supervisor's reschedule, priority and do-not-call."""
from __future__ import annotations

from typing import Any

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, RawBody
from peewee import Database

from dialer.db import run
from dialer.services import lead_search

from .selections import body_object

LEADS_READ, LEADS_UPDATE, DNC_EDIT = "leads.read", "leads.update", "dnc.edit"


class LeadController(Controller):
    path = "/api/leads"
    tags = ["leads"]

    @get("/search", opt={"permission": LEADS_READ})
    async def search(self, db: NamedDependency[Database], q: FromQuery[str] = "",
                     campaign_id: FromQuery[int | None] = None, limit: FromQuery[int] = 50) -> dict[str, Any]:
        """Exact matches (number, order id) first, then the newest; at most 50."""
        return await run(db, lead_search.search, q, campaign_id, limit)

    @get("/{lead_id:int}", opt={"permission": LEADS_READ})
    async def card(self, lead_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, lead_search.lead_card, lead_id)

    @post("/{lead_id:int}/reschedule", status_code=200, opt={"permission": LEADS_UPDATE})
    async def reschedule(self, lead_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                         db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: {next_call_at: "YYYY-MM-DDTHH:MM"} in the client's local time; the lead becomes a callback."""
        d = body_object(body, ("next_call_at",), ("next_call_at",))
        return await run(db, lead_search.reschedule, lead_id, d["next_call_at"])

    @put("/{lead_id:int}/priority", opt={"permission": LEADS_UPDATE})
    async def priority(self, lead_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                       db: NamedDependency[Database]) -> dict[str, Any]:
        d = body_object(body, ("priority",), ("priority",))
        return await run(db, lead_search.set_priority, lead_id, d["priority"])

    @post("/{lead_id:int}/do-not-call", status_code=200, opt={"permission": DNC_EDIT})
    async def do_not_call(self, lead_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                          db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: {reason?}; the lead's number goes on the global list."""
        d = body_object(body, ("reason",))
        return await run(db, lead_search.do_not_call, lead_id, d.get("reason", ""))


ROUTES = [LeadController]
