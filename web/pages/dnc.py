"""«Больше не звонить» (SPEC C10): the do-not-call list — search by number (any written form) or reason, add a
number with a reason, remove one, import a CSV file (all or nothing, wrong lines by number) and export the list.
The service (dialer/services/dnc_admin.py, over rules/dnc.py) checks and audits; these handlers turn form fields
into its input and its errors into messages."""
from __future__ import annotations

from urllib.parse import quote

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import dnc_admin

from .. import i18n
from .common import form_data, one, page
from .operators import errors_of

READ, EDIT = ({"permission": p} for p in ("dnc.read", "dnc.edit"))
# taking a number off the list lets campaigns call a client who asked not to be called: its own route, so that
# the guard (and the audit entry) name it apart from adding, under the catalogue's edit permission (SPEC H1 has
# no separate one)
REMOVE = {"permission": "dnc.edit"}
IMPORT_LIMIT = 5 * 1024 * 1024


def _db(request: Request):
    return request.app.state.db


async def _list_page(request: Request, status: int = 200, errors: dict | None = None, draft: dict | None = None,
                     problems: list | None = None, imported: dict | None = None, q: str | None = None) -> Response:
    q = request.query_params.get("q", "") if q is None else q
    try:
        found = await run(_db(request), dnc_admin.search, q)
    except DomainError as e:
        found = await run(_db(request), dnc_admin.search, "")
        errors, status = {**(errors or {}), "q": errors_of(e).get("q") or i18n.error_text(e.as_dict())}, e.status
    params = request.query_params
    return page(request, "dnc/index.html", status_code=status, found=found, q=q, errors=errors or {},
                draft=draft or {}, problems=problems or [], imported=imported,
                added=params.get("added", ""), removed=params.get("removed", ""))


@get("/dnc", opt=READ, include_in_schema=False)
async def list_page(request: Request) -> Response:
    return await _list_page(request)


@post("/dnc", opt=EDIT, include_in_schema=False)
async def add_number(request: Request) -> Response:
    form = await form_data(request)
    draft = {"phone": one(form, "phone"), "reason": one(form, "reason")}
    try:
        number = await run(_db(request), dnc_admin.add, draft["phone"], draft["reason"])
    except DomainError as e:
        return await _list_page(request, e.status, errors_of(e), draft)
    return Redirect(f"/dnc?added={quote(number)}")


@post("/dnc/remove", opt=REMOVE, include_in_schema=False)
async def remove_number(request: Request) -> Response:
    form = await form_data(request)
    try:
        number = await run(_db(request), dnc_admin.remove, one(form, "phone"))
    except DomainError as e:
        errors = errors_of(e)
        return await _list_page(request, e.status, {"remove": "; ".join(errors.values())})
    return Redirect(f"/dnc?removed={quote(number)}")


@post("/dnc/import", opt=EDIT, request_max_body_size=IMPORT_LIMIT, include_in_schema=False)
async def import_file(request: Request) -> Response:
    form = await request.form()
    upload, text, reason = form.get("file"), form.get("text"), form.get("reason")
    data = await upload.read() if isinstance(upload, UploadFile) and upload.filename else \
        (text if isinstance(text, str) else "")
    if not data or (isinstance(data, str) and not data.strip()):
        return await _list_page(request, 422, {"import": i18n.pick("Выберите файл CSV или вставьте его текст",
                                                                   "Choose a CSV file or paste its text")})
    try:
        result = await run(_db(request), dnc_admin.import_csv, data, reason if isinstance(reason, str) else "")
    except DomainError as e:
        problems = [{**p, "text": i18n.pick(p.get("message_ru") or p["message"], p["message"])}
                    for p in e.as_dict().get("problems", []) if "line" in p]
        return await _list_page(request, e.status, {} if problems else {"import": i18n.error_text(e.as_dict())},
                                problems=problems)
    return await _list_page(request, imported=result, q="")


@get("/dnc/export.csv", opt=READ, include_in_schema=False)
async def export_csv(request: Request) -> Response:
    text = await run(_db(request), dnc_admin.export_csv)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="do-not-call.csv"',
                             "Cache-Control": "no-store"})


ROUTES = [list_page, add_number, remove_number, import_file, export_csv]
