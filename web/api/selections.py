"""Selection rules: selections of a campaign (create, edit, disable, reorder, "matches now" for a draft,
"why is nothing dialling"), the do-not-call list, and operator skills.

Bodies are read as plain JSON objects: the services check every field themselves and answer 422 with
one problem per field (English and Russian), which the selection editor shows beside each input.
"""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, RawBody
from peewee import Database

from dialer.db import run
from dialer.errors import Invalid
from dialer.services import fields as f
from dialer.services import selections_admin
from rules import dnc, idle, selections, skills
from rules.model import catalogue

RULES_READ, RULES_EDIT = "rules.read", "rules.edit"
DNC_READ, DNC_EDIT = "dnc.read", "dnc.edit"
OPERATORS_READ, OPERATORS_UPDATE = "operators.read", "operators.update"


def body_object(raw: bytes, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """The JSON body as an object with only `allowed` keys, or 422 naming the key."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        raise Invalid("invalid-request", f"malformed JSON: {e}", message_ru="тело запроса — не JSON") from None
    if not isinstance(data, dict):
        raise f.invalid("body", "must be a JSON object", "должно быть объектом JSON")
    for key in data:
        if key not in allowed:
            raise f.invalid(str(key)[:60], "unknown field", "неизвестное поле")
    for key in required:
        if key not in data:
            raise f.invalid(key, "is required", "обязательное поле")
    return data


class SelectionController(Controller):
    path = "/api"
    tags = ["selections"]

    @get("/selections/fields", opt={"permission": RULES_READ})
    async def fields(self) -> dict[str, Any]:
        """Fields, operators, orders and limits a rule may use, with Russian and English labels."""
        return catalogue()

    @get("/campaigns/{campaign_id:int}/selections", opt={"permission": RULES_READ})
    async def list_selections(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, selections.list_selections, campaign_id)

    @post("/campaigns/{campaign_id:int}/selections", opt={"permission": RULES_EDIT})
    async def create_selection(self, campaign_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                               db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: {name, rule, enabled?}; the new selection goes last in the campaign's order."""
        d = body_object(body, ("name", "rule", "enabled"), ("name", "rule"))
        return await run(db, selections.create_selection, campaign_id, d["name"], d["rule"], d.get("enabled", True))

    @put("/campaigns/{campaign_id:int}/selections/order", opt={"permission": RULES_EDIT})
    async def reorder(self, campaign_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                      db: NamedDependency[Database]) -> list[dict[str, Any]]:
        """Body: {selection_ids: [...]} — every selection of the campaign, highest priority first."""
        d = body_object(body, ("selection_ids",), ("selection_ids",))
        return await run(db, selections.reorder, campaign_id, d["selection_ids"])

    @post("/campaigns/{campaign_id:int}/selections/preview", status_code=200, opt={"permission": RULES_READ})
    async def preview(self, campaign_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                      db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: {rule} — a draft; answers how many leads it matches now, nothing is saved."""
        d = body_object(body, ("rule",), ("rule",))
        return await run(db, selections.preview, campaign_id, d["rule"])

    @get("/campaigns/{campaign_id:int}/selections/catalogue", opt={"permission": RULES_READ})
    async def editor_catalogue(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        """The fields and operators, plus the CRM attributes seen in this campaign's leads (with their types)
        and the skills operators have: what the condition builder offers."""
        return await run(db, selections_admin.editor_catalogue, campaign_id)

    @get("/campaigns/{campaign_id:int}/idle-reasons", opt={"permission": RULES_READ})
    async def idle_reasons(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        """"Why is nothing dialling?": how many leads each reason holds back right now."""
        return await run(db, idle.idle_reasons, campaign_id)

    @get("/selections/{selection_id:int}", opt={"permission": RULES_READ})
    async def get_selection(self, selection_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, selections.get_selection, selection_id)

    @patch("/selections/{selection_id:int}", opt={"permission": RULES_EDIT})
    async def update_selection(self, selection_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                               db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: any of {name, rule, enabled}; `enabled: false` disables the selection."""
        d = body_object(body, ("name", "rule", "enabled"))
        return await run(db, selections.update_selection, selection_id, d.get("name"), d.get("rule"),
                         d.get("enabled"))

    @get("/selections/{selection_id:int}/versions", opt={"permission": RULES_READ})
    async def versions(self, selection_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, selections.versions, selection_id)


class DoNotCallController(Controller):
    path = "/api/do-not-call"
    tags = ["do-not-call"]

    @get("/", opt={"permission": DNC_READ})
    async def list_numbers(self, db: NamedDependency[Database], prefix: FromQuery[str | None] = None,
                           limit: FromQuery[int] = 100, after: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """In number order; page with `after` = the last number already seen."""
        return await run(db, dnc.list_numbers, prefix, limit, after)

    @get("/{phone:str}", opt={"permission": DNC_READ})
    async def check(self, phone: FromPath[str], db: NamedDependency[Database]) -> dict[str, Any]:
        return {"phone": dnc.phone_number(phone), "listed": await run(db, dnc.contains, phone)}

    @post("/", opt={"permission": DNC_EDIT})
    async def add(self, data: JSONBody[dict[str, Any]], body: RawBody, db: NamedDependency[Database]) -> Response:
        """Body: {phone, reason?, source?}; 201 when added, 200 when it was already listed."""
        d = body_object(body, ("phone", "reason", "source"), ("phone",))
        added = await run(db, dnc.add, d["phone"], d.get("reason", ""), d.get("source", "supervisor"))
        return Response({"phone": dnc.phone_number(d["phone"]), "added": added}, status_code=201 if added else 200)

    @delete("/{phone:str}", status_code=200, opt={"permission": DNC_EDIT})
    async def remove(self, phone: FromPath[str], db: NamedDependency[Database]) -> dict[str, Any]:
        return {"phone": dnc.phone_number(phone), "removed": await run(db, dnc.remove, phone)}


class SkillController(Controller):
    path = "/api/operators"
    tags = ["operators"]

    @get("/{operator_id:int}/skills", opt={"permission": OPERATORS_READ})
    async def get_skills(self, operator_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, skills.get_skills, operator_id)

    @put("/{operator_id:int}/skills", opt={"permission": OPERATORS_UPDATE})
    async def set_skills(self, operator_id: FromPath[int], data: JSONBody[dict[str, Any]], body: RawBody,
                         db: NamedDependency[Database]) -> dict[str, Any]:
        """Body: {skills: [{skill, level 1..10}, ...]} — replaces the operator's skills."""
        d = body_object(body, ("skills",), ("skills",))
        return await run(db, skills.set_skills, operator_id, d["skills"])


ROUTES = [SelectionController, DoNotCallController, SkillController]
