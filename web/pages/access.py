"""The «Доступ» section: users, roles and permissions, the audit log (pages and exports)."""
from __future__ import annotations

from datetime import date

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import audit_log, users

from .. import i18n
from .common import form_data, ids, one, page, permission_groups

USERS_READ = {"permission": "users.read"}


def _db(request: Request):
    return request.app.state.db


async def _users_page(request: Request, status: int = 200, error: str = "", draft: dict | None = None) -> Response:
    q = request.query_params.get("q", "")[:200]
    db = _db(request)
    try:
        found = await run(db, users.list_users, q)
    except DomainError as e:
        found, error = [], i18n.error_text(e.as_dict())
    roles = await run(db, users.list_roles)
    ops = await run(db, users.operators_for_select)
    return page(request, "access/users.html", status_code=status, users=found, q=q, roles=roles, operators=ops,
                error=error, draft=draft or {})


@get("/access/users", opt=USERS_READ, include_in_schema=False)
async def users_page(request: Request) -> Response:
    return await _users_page(request)


def _operator(form) -> int | None | str:
    value = one(form, "operator_id")
    return None if value == "" else (int(value) if value.isdigit() and len(value) < 19 else value)


@post("/access/users", opt={"permission": "users.create"}, include_in_schema=False)
async def create_user(request: Request) -> Response:
    form = await form_data(request)
    draft = {"email": one(form, "email"), "name": one(form, "name"), "language": one(form, "language", "ru"),
             "role_ids": ids(form, "role_ids"), "operator_id": _operator(form)}
    try:
        user = await run(_db(request), users.create_user, draft["email"], draft["name"], one(form, "password"),
                         draft["role_ids"], draft["operator_id"], draft["language"])
    except DomainError as e:
        return await _users_page(request, e.status, i18n.error_text(e.as_dict()), draft)
    return Redirect(f"/access/users/{user['id']}?saved=1")


async def _user_page(request: Request, user_id: int, status: int = 200, error: str = "") -> Response:
    db = _db(request)
    user = await run(db, users.get_user, user_id)
    roles = await run(db, users.list_roles)
    ops = await run(db, users.operators_for_select)
    return page(request, "access/user.html", status_code=status, u=user, roles=roles, operators=ops, error=error,
                groups=permission_groups(), saved=request.query_params.get("saved") == "1")


@get("/access/users/{user_id:int}", opt=USERS_READ, include_in_schema=False)
async def user_page(request: Request, user_id: FromPath[int]) -> Response:
    return await _user_page(request, user_id)


async def _change(request: Request, user_id: int, fn, *args, **kwargs) -> Response:
    try:
        await run(_db(request), fn, user_id, *args, **kwargs)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _user_page(request, user_id, e.status, i18n.error_text(e.as_dict()))
    return Redirect(f"/access/users/{user_id}?saved=1")


@post("/access/users/{user_id:int}", opt={"permission": "users.update"}, include_in_schema=False)
async def update_user(request: Request, user_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, user_id, users.update_user, email=one(form, "email"), name=one(form, "name"),
                         language=one(form, "language", "ru"), role_ids=ids(form, "role_ids"),
                         operator_id=_operator(form), password=one(form, "password") or None)


@post("/access/users/{user_id:int}/permissions", opt={"permission": "roles.edit"}, include_in_schema=False)
async def user_permissions(request: Request, user_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, user_id, users.update_user, extra_permissions=form.get("permissions", []))


@post("/access/users/{user_id:int}/deactivate", opt={"permission": "users.deactivate"}, include_in_schema=False)
async def deactivate_user(request: Request, user_id: FromPath[int]) -> Response:
    return await _change(request, user_id, users.set_active, False)


@post("/access/users/{user_id:int}/activate", opt={"permission": "users.deactivate"}, include_in_schema=False)
async def activate_user(request: Request, user_id: FromPath[int]) -> Response:
    return await _change(request, user_id, users.set_active, True)


@post("/access/users/{user_id:int}/delete", opt={"permission": "users.delete"}, include_in_schema=False)
async def delete_user(request: Request, user_id: FromPath[int]) -> Response:
    await run(_db(request), users.delete_user, user_id)
    return Redirect("/access/users")


@get("/access/roles", opt={"permission": "roles.read"}, include_in_schema=False)
async def roles_page(request: Request) -> Response:
    roles = await run(_db(request), users.list_roles)
    return page(request, "access/roles.html", roles=roles, groups=permission_groups(),
                saved=request.query_params.get("saved") == "1", error="")


@post("/access/roles/{role_id:int}", opt={"permission": "roles.edit"}, include_in_schema=False)
async def edit_role(request: Request, role_id: FromPath[int]) -> Response:
    form = await form_data(request)
    try:
        await run(_db(request), users.set_role_permissions, role_id, form.get("permissions", []))
    except DomainError as e:
        if e.status == 404:
            raise
        roles = await run(_db(request), users.list_roles)
        return page(request, "access/roles.html", status_code=e.status, roles=roles, groups=permission_groups(),
                    saved=False, error=i18n.error_text(e.as_dict()))
    return Redirect(f"/access/roles?saved=1#role-{role_id}")


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if isinstance(v, str)}


@get("/access/audit", opt={"permission": "audit.read"}, include_in_schema=False)
async def audit_page(request: Request) -> Response:
    params = _params(request)
    error, rows = "", []
    try:
        flt = audit_log.parse_filter(params)
        rows = await run(_db(request), audit_log.search, flt)
    except DomainError as e:
        error = i18n.error_text(e.as_dict())
    more = {k: v for k, v in params.items() if k != "before_id"}
    return page(request, "access/audit.html", status_code=422 if error else 200, rows=rows, f=params, error=error,
                more=more, page_size=audit_log.PAGE, today=date.today().isoformat(),
                month_start=date.today().replace(day=1).isoformat())


@get("/access/audit/export", opt={"permission": "audit.export"}, include_in_schema=False)
async def audit_export(request: Request) -> Response:
    params = _params(request)
    kind = params.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        kind = "csv"
    flt = audit_log.parse_filter(params)  # a DomainError becomes a 422 page
    fn = audit_log.export_xlsx if kind == "xlsx" else audit_log.export_csv
    body = await run(_db(request), fn, flt)
    name = f"audit-{params.get('from', '')}-{params.get('to', '')}.{kind}"
    media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if kind == "xlsx"
             else "text/csv")
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [users_page, create_user, user_page, update_user, user_permissions, deactivate_user, activate_user,
          delete_user, roles_page, edit_role, audit_page, audit_export]
