"""Users and the audit log over the JSON API: the same services and permissions as the pages."""
from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, RawBody
from peewee import Database

from dialer.access import SIGNED_IN
from dialer.db import run
from dialer.services import audit_log, users

from .. import auth
from ..schemas import UserCreate, strict


@get("/api/me", opt={"permission": SIGNED_IN}, tags=["access"])
async def me(request: Request) -> dict[str, Any]:
    """Who is calling: the user (or the API token's system principal) and their permissions."""
    p = auth.principal_of(request)
    return {"user_id": p.user_id, "name": p.name, "email": p.email, "roles": list(p.roles),
            "operator_id": p.operator_id, "permissions": sorted(p.permissions)}


@get("/api/users", opt={"permission": "users.read"}, tags=["access"])
async def list_users(db: NamedDependency[Database], q: FromQuery[str] = "") -> list[dict[str, Any]]:
    return await run(db, users.list_users, q)


@get("/api/users/{user_id:int}", opt={"permission": "users.read"}, tags=["access"])
async def get_user(user_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
    return await run(db, users.get_user, user_id)


@post("/api/users", opt={"permission": "users.create"}, tags=["access"])
async def create_user(data: JSONBody[UserCreate], body: RawBody, db: NamedDependency[Database]) -> dict[str, Any]:
    data = strict(body, UserCreate)
    return await run(db, users.create_user, data.email, data.name, data.password, data.role_ids,
                     data.operator_id, data.language)


@get("/api/roles", opt={"permission": "roles.read"}, tags=["access"])
async def list_roles(db: NamedDependency[Database]) -> list[dict[str, Any]]:
    return await run(db, users.list_roles)


@get("/api/audit", opt={"permission": "audit.read"}, tags=["access"])
async def audit_entries(request: Request, db: NamedDependency[Database]) -> list[dict[str, Any]]:
    """Newest first, filtered like the page: from, to, user, user_id, role, action, object_type,
    object_id, text, before_id."""
    flt = audit_log.parse_filter({k: v for k, v in request.query_params.items() if isinstance(v, str)})
    rows = await run(db, audit_log.search, flt)
    return [{**r, "at": r["at"].isoformat()} for r in rows]


USER_API_ROUTES = [me, list_users, get_user, create_user, list_roles, audit_entries]
