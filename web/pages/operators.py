"""The «Операторы» section (SPEC F5, F6, C7): the list with live status and registration, one operator's card
(name, account, skills, pools, deactivate, delete), a new operator with their device in one form, the pools grid
(operators × campaigns, saved at once) and the bulk CSV import. The services check and audit; these handlers
turn form fields into their input and their errors into messages beside the fields."""
from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import operator_admin as admin
from dialer.services import operators

from .. import auth, i18n
from .common import form_data, ids, one, page

READ, CREATE, UPDATE, DELETE, POOLS = ({"permission": p} for p in (
    "operators.read", "operators.create", "operators.update", "operators.delete", "operators.pools"))
IMPORT_LIMIT = 2 * 1024 * 1024
SKILL_ROWS = 3  # empty rows offered for new skills
NO_STORE = {"Cache-Control": "no-store"}  # pages that show a SIP password once


def _db(request: Request):
    return request.app.state.db


def _who(request: Request):
    return auth.principal_of(request)


def errors_of(e: DomainError) -> dict[str, str]:
    """{field: message in the user's language}; "_" holds a message that names no field."""
    d = e.as_dict()
    problems = d.get("problems") or []
    if problems and all("line" in p for p in problems):
        return {"_": i18n.error_text(d)}
    out = {p["field"]: i18n.pick(p.get("message_ru") or p["message"], p["message"]) for p in problems}
    if d.get("field") and not out:
        out[d["field"]] = i18n.error_text(d)
    return out or {"_": i18n.error_text(d)}


def _int(value: str):
    """Digits become an int; anything else goes on as written, and the service names the problem."""
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else value


def skills_of(form: dict[str, list[str]]) -> list[dict]:
    names, levels = form.get("skill", []), form.get("level", [])
    return [{"skill": name.strip().lower(), "level": _int(levels[i]) if i < len(levels) else ""}
            for i, name in enumerate(names) if name.strip()]


# ---- the list ------------------------------------------------------------------------------------------------
@get("/operators", opt=READ, include_in_schema=False)
async def list_page(request: Request) -> Response:
    data = await run(_db(request), admin.overview)
    campaigns = {c["id"]: c["name"] for c in data["campaigns"]}
    return page(request, "operators/list.html", operators=data["operators"], campaigns=campaigns, tab="list")


# ---- a new operator ----------------------------------------------------------------------------------------
async def _new_page(request: Request, status: int = 200, errors: dict | None = None, draft: dict | None = None):
    data = await run(_db(request), admin.overview)
    free_users = await run(_db(request), _free_users)
    return page(request, "operators/new.html", status_code=status, campaigns=data["campaigns"], errors=errors or {},
                draft=draft or {"create_device": True, "password_mode": "generate", "account_mode": "none"},
                free_users=free_users, skill_rows=SKILL_ROWS, tab="new")


def _free_users() -> list[dict]:
    from dialer.validation import database
    return [{"id": i, "email": e, "name": n} for i, e, n in database().execute_sql(
        "SELECT id, email, name FROM app_user WHERE operator_id IS NULL ORDER BY email").fetchall()]


@get("/operators/new", opt=CREATE, include_in_schema=False)
async def new_page(request: Request) -> Response:
    return await _new_page(request)


@post("/operators", opt=CREATE, include_in_schema=False)
async def create_operator(request: Request) -> Response:
    form = await form_data(request)
    draft = {"name": one(form, "name"), "login": one(form, "login"), "create_device": one(form, "create_device") == "on",
             "password_mode": one(form, "password_mode", "generate"), "campaign_ids": ids(form, "campaign_ids"),
             "skills": skills_of(form), "account_mode": one(form, "account_mode", "none"),
             "user_id": _int(one(form, "user_id")), "email": one(form, "email"), "language": one(form, "language", "ru")}
    typed = one(form, "sip_password") if draft["password_mode"] == "type" else None
    account = {"mode": draft["account_mode"]}
    if draft["account_mode"] == "link":
        account["user_id"] = draft["user_id"] if draft["user_id"] != "" else None
    elif draft["account_mode"] == "create":
        account.update(email=draft["email"], password=one(form, "account_password"), language=draft["language"])
    try:
        created = await run(_db(request), admin.create, _who(request), draft["name"], draft["login"],
                            device=draft["create_device"], sip_password=typed, campaign_ids=draft["campaign_ids"],
                            skills=draft["skills"], account=account)
    except DomainError as e:
        if e.status == 404 and e.code == "operator-not-found":
            raise
        return await _new_page(request, e.status, errors_of(e), draft)
    return await _card(request, created["id"], sip_password=created.get("sip_password") or "", saved="created")


# ---- one operator --------------------------------------------------------------------------------------------
async def _card(request: Request, operator_id: int, status: int = 200, errors: dict | None = None,
                sip_password: str = "", saved: str = "") -> Response:
    db = _db(request)
    card = await run(db, admin.operator_card, operator_id)
    data = await run(db, admin.overview)
    response = page(request, "operators/card.html", status_code=status, o=card, campaigns=data["campaigns"],
                    errors=errors or {}, sip_password=sip_password, saved=saved or request.query_params.get("saved", ""),
                    skill_rows=SKILL_ROWS, tab="list")
    if sip_password:
        response.headers.update(NO_STORE)
    return response


@get("/operators/{operator_id:int}", opt=READ, include_in_schema=False)
async def card_page(request: Request, operator_id: FromPath[int]) -> Response:
    return await _card(request, operator_id)


async def _change(request: Request, operator_id: int, fn, *args, anchor: str = "", **kwargs) -> Response:
    try:
        await run(_db(request), fn, *args, **kwargs)
    except DomainError as e:
        if e.status == 404 and e.code == "operator-not-found":
            raise
        return await _card(request, operator_id, e.status, errors_of(e))
    return Redirect(f"/operators/{operator_id}?saved=1{anchor}")


@post("/operators/{operator_id:int}", opt=UPDATE, include_in_schema=False)
async def save_operator(request: Request, operator_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, operator_id, operators.update_operator, operator_id, name=one(form, "name"))


@post("/operators/{operator_id:int}/skills", opt=UPDATE, include_in_schema=False)
async def save_skills(request: Request, operator_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, operator_id, admin.set_skills, _who(request), operator_id, skills_of(form),
                         anchor="#skills")


@post("/operators/{operator_id:int}/pools", opt=POOLS, include_in_schema=False)
async def save_pools(request: Request, operator_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, operator_id, operators.set_campaigns, operator_id, ids(form, "campaign_ids"),
                         anchor="#pools")


@post("/operators/{operator_id:int}/account", opt={"permission": "users.update"}, include_in_schema=False)
async def link_account(request: Request, operator_id: FromPath[int]) -> Response:
    form = await form_data(request)
    user = one(form, "user_id")
    return await _change(request, operator_id, admin.link_account, _who(request), operator_id,
                         None if user == "" else _int(user), anchor="#account")


@post("/operators/{operator_id:int}/account/new", opt={"permission": "users.create"}, include_in_schema=False)
async def new_account(request: Request, operator_id: FromPath[int]) -> Response:
    form = await form_data(request)
    return await _change(request, operator_id, admin.create_account, _who(request), operator_id, one(form, "email"),
                         one(form, "account_password"), one(form, "language", "ru"), anchor="#account")


@post("/operators/{operator_id:int}/deactivate", opt=UPDATE, include_in_schema=False)
async def deactivate(request: Request, operator_id: FromPath[int]) -> Response:
    return await _change(request, operator_id, operators.set_active, operator_id, False)


@post("/operators/{operator_id:int}/activate", opt=UPDATE, include_in_schema=False)
async def activate(request: Request, operator_id: FromPath[int]) -> Response:
    return await _change(request, operator_id, operators.set_active, operator_id, True)


@post("/operators/{operator_id:int}/delete", opt=DELETE, include_in_schema=False)
async def delete(request: Request, operator_id: FromPath[int]) -> Response:
    try:
        await run(_db(request), operators.delete_operator, operator_id)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _card(request, operator_id, e.status, errors_of(e))
    return Redirect("/operators?deleted=1")


# ---- the pools grid ----------------------------------------------------------------------------------------
async def _pools_page(request: Request, status: int = 200, error: str = "", draft: dict | None = None) -> Response:
    data = await run(_db(request), admin.overview)
    pools = draft if draft is not None else {o["id"]: o["campaign_ids"] for o in data["operators"]}
    return page(request, "operators/pools.html", status_code=status, operators=data["operators"],
                campaigns=data["campaigns"], pools=pools, error=error,
                saved=request.query_params.get("saved", ""), tab="pools")


@get("/operators/pools", opt=READ, include_in_schema=False)
async def pools_page(request: Request) -> Response:
    return await _pools_page(request)


def grid_of(form: dict[str, list[str]]) -> dict:
    """Checkbox `pool` values `<operator>:<campaign>`; `row` lists the operators shown (an operator with every box
    unchecked sends none). Anything that is not a pair of numbers goes to the service, which refuses it."""
    grid: dict = {}
    for row in form.get("row", []):
        grid.setdefault(_int(row), [])
    for cell in form.get("pool", []):
        oid, _, cid = cell.partition(":")
        grid.setdefault(_int(oid), []).append(_int(cid))
    return grid


@post("/operators/pools", opt=POOLS, include_in_schema=False)
async def save_pools_grid(request: Request) -> Response:
    form = await form_data(request)
    grid = grid_of(form)
    try:
        result = await run(_db(request), operators.set_pools, grid)
    except DomainError as e:
        draft = {k: v for k, v in grid.items() if isinstance(k, int)}
        return await _pools_page(request, e.status, i18n.error_text(e.as_dict()), draft)
    return Redirect(f"/operators/pools?saved={result['changed']}")


# ---- bulk import -------------------------------------------------------------------------------------------
@get("/operators/import", opt=CREATE, include_in_schema=False)
async def import_page(request: Request) -> Response:
    return page(request, "operators/import.html", problems=[], error="", result=None, text="", tab="import")


@post("/operators/import", opt=CREATE, request_max_body_size=IMPORT_LIMIT, include_in_schema=False)
async def import_file(request: Request) -> Response:
    form = await request.form()
    upload, text = form.get("file"), form.get("text")
    data = await upload.read() if isinstance(upload, UploadFile) and upload.filename else \
        (text if isinstance(text, str) else "")
    servers = tuple(s.name for s in request.app.state.settings.asterisk_servers)
    if not data or (isinstance(data, str) and not data.strip()):
        return page(request, "operators/import.html", status_code=422, problems=[], result=None, tab="import",
                    text="", error=i18n.pick("Выберите файл CSV или вставьте его текст", "Choose a CSV file or paste its text"))
    try:
        result = await run(_db(request), admin.import_csv, _who(request), data, servers=servers)
    except DomainError as e:
        problems = [{**p, "text": i18n.pick(p.get("message_ru") or p["message"], p["message"])}
                    for p in e.as_dict().get("problems", []) if "line" in p]
        return page(request, "operators/import.html", status_code=e.status, problems=problems, result=None,
                    tab="import", text=text if isinstance(text, str) else "",
                    error="" if problems else i18n.error_text(e.as_dict()))
    response = page(request, "operators/import.html", problems=[], error="", result=result, text="", tab="import")
    response.headers.update(NO_STORE)
    return response


ROUTES = [list_page, new_page, create_operator, pools_page, save_pools_grid, import_page, import_file, card_page,
          save_operator, save_skills, save_pools, link_account, new_account, deactivate, activate, delete]
