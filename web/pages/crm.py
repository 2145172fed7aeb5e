"""The «CRM» section: connection settings and health, status and result mapping, file import with the
column-mapping preview, the import log and result delivery. The services (dialer/crm) validate, audit
and write; these handlers turn form fields into their input and their errors into field messages."""
from __future__ import annotations

import re

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.crm import adapters as adapters_mod
from dialer.crm import connections, generic, health, policy, store, sync, views
from dialer.crm import outbox as outbox_mod
from dialer.crm.adapter import CrmError
from dialer.db import run
from dialer.errors import DomainError, Invalid
from dialer.workers import Workers

from .. import auth, i18n
from .common import form_data, one, page

CRM_READ, CRM_EDIT, CRM_SYNC, LEADS_IMPORT = ({"permission": p} for p in
                                              ("crm.read", "crm.edit", "crm.sync", "leads.import"))
FILE_LIMIT = 20 * 1024 * 1024
SETTINGS_FIELDS = ("name", "base_url", "token", "campaign_id", "pull_interval_s", "alert_after_s",
                   "default_country", "key_field", "order_url_template")
INTEGER_FIELDS = ("campaign_id", "pull_interval_s", "alert_after_s")
FLAGS = ("enabled", "push_enabled")
_INT = re.compile(r"^-?\d{1,12}$")
_FIELD_INDEX = re.compile(r"^\w+\[(\d+)\]\.(\w+)$")


def _db(request: Request):
    return request.app.state.db


def _workers(request: Request) -> Workers:
    return request.app.state.workers


def _user_id(request: Request) -> int | None:
    principal = auth.principal_of(request)
    return principal.user_id if principal else None


def _int_or_raw(value: str):
    """Digits become an int; anything else goes to the service as written, which names the problem."""
    value = value.strip()
    return int(value) if _INT.match(value) else value


def _reason(reason: str) -> str:
    return i18n.pick(views.reason_ru(reason), reason)


def field_errors(error: DomainError) -> dict[str, str]:
    """{field: message in the user's language} from a service's per-field problems (or its one message)."""
    d = error.as_dict()
    problems = d.get("problems") or ([{"field": d["field"], "message": d["message"],
                                        "message_ru": d.get("message_ru", d["message"])}] if d.get("field") else [])
    out: dict[str, str] = {}
    for p in problems:
        text = i18n.pick(p.get("message_ru") or p["message"], p["message"])
        out[p["field"]] = f"{out[p['field']]}; {text}" if p["field"] in out else text
    return out


def _by_index(errors: dict[str, str], keys: list[str]) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """`statuses[3].action` → ((keys[3], "action"): message); the rest stay as whole-form messages."""
    rows, rest = {}, {}
    for field, message in errors.items():
        m = _FIELD_INDEX.match(field)
        if m and int(m.group(1)) < len(keys):
            rows[(keys[int(m.group(1))], m.group(2))] = message
        else:
            rest[field] = message
    return rows, rest


async def _connection(request: Request, connection_id: int) -> dict:
    return await run(_db(request), store.connection, _db(request), connection_id)  # unknown id: 404


# ---- connections and settings -------------------------------------------------------------------

async def _list_page(request: Request, status: int = 200, errors: dict | None = None,
                     draft: dict | None = None) -> Response:
    db = _db(request)
    found = await run(db, connections.list_connections, db)
    alerts = {a["connection_id"]: a for a in await run(db, health.open_alerts, db)}
    return page(request, "crm/connections.html", status_code=status, connections=found, alerts=alerts,
                campaigns=await run(db, views.campaigns, db), errors=errors or {}, draft=draft or {})


@get("/crm", opt=CRM_READ, include_in_schema=False)
async def connections_page(request: Request) -> Response:
    return await _list_page(request)


@post("/crm", opt=CRM_EDIT, include_in_schema=False)
async def create_connection(request: Request) -> Response:
    form = await form_data(request)
    draft = {k: one(form, k) for k in ("kind", "name", "base_url", "campaign_id", "default_country")}
    values = {**draft, "token": one(form, "token"), "campaign_id": _int_or_raw(draft["campaign_id"])}
    values = {k: v for k, v in values.items() if v != "" or k in ("kind", "name", "campaign_id")}
    db = _db(request)
    try:
        created = await run(db, connections.create_connection, db, values)
    except DomainError as e:
        return await _list_page(request, e.status, field_errors(e) or {"_": i18n.error_text(e.as_dict())}, draft)
    return await _settings_page(request, created["id"], inbound_token=created["inbound_token"])


async def _settings_page(request: Request, connection_id: int, status: int = 200, errors: dict | None = None,
                         draft: dict | None = None, inbound_token: str = "") -> Response:
    db = _db(request)
    conn = await _connection(request, connection_id)
    return page(request, "crm/settings.html", status_code=status, c=connections.public(conn),
                health=await run(db, views.health, db, conn), campaigns=await run(db, views.campaigns, db),
                errors=errors or {}, draft=draft or {}, inbound_token=inbound_token,
                saved=request.query_params.get("saved") == "1", tab="settings")


@get("/crm/{connection_id:int}", opt=CRM_READ, include_in_schema=False)
async def settings_page(request: Request, connection_id: FromPath[int]) -> Response:
    return await _settings_page(request, connection_id)


def settings_changes(form: dict[str, list[str]]) -> dict:
    """The settings form as the service's changes: an empty token keeps the stored one."""
    changes = {}
    for key in SETTINGS_FIELDS:
        if key not in form:
            continue
        value = one(form, key)
        changes[key] = _int_or_raw(value) if key in INTEGER_FIELDS else value
    if not changes.get("token"):
        changes.pop("token", None)
    for flag in FLAGS:
        changes[flag] = one(form, flag) == "on"
    return changes


@post("/crm/{connection_id:int}", opt=CRM_EDIT, include_in_schema=False)
async def save_settings(request: Request, connection_id: FromPath[int]) -> Response:
    form = await form_data(request)
    await _connection(request, connection_id)
    changes = settings_changes(form)
    db = _db(request)
    try:
        await run(db, connections.update_connection, db, connection_id, changes)
    except DomainError as e:
        if e.status == 404:
            raise
        draft = {k: one(form, k) for k in SETTINGS_FIELDS if k != "token"}
        draft.update({flag: one(form, flag) == "on" for flag in FLAGS})
        return await _settings_page(request, connection_id, e.status,
                                    field_errors(e) or {"_": i18n.error_text(e.as_dict())}, draft)
    return Redirect(f"/crm/{connection_id}?saved=1")


@post("/crm/{connection_id:int}/sync", opt=CRM_SYNC, include_in_schema=False)
async def sync_now(request: Request, connection_id: FromPath[int]) -> Response:
    db = _db(request)
    conn = await _connection(request, connection_id)
    adapter = adapters_mod.build(conn)
    try:
        result = await sync.pull(db, connection_id, adapter)
    finally:
        await adapter.close()
    return Redirect(f"/crm/{connection_id}/log?pulled={result['id']}")


# ---- status and result mapping ------------------------------------------------------------------

async def _mapping_page(request: Request, connection_id: int, status: int = 200, errors: dict | None = None,
                        message: str = "", draft_statuses: dict | None = None,
                        draft_results: dict | None = None) -> Response:
    db = _db(request)
    conn = await _connection(request, connection_id)
    statuses = await run(db, connections.status_map, db, connection_id)
    mapped = {r["result_code"]: r for r in await run(db, connections.result_map, db, connection_id)}
    results = [{**r, "mapped": mapped.get(r["code"])} for r in await run(db, views.campaign_results, db,
                                                                          conn["campaign_id"])]
    known = {r["code"] for r in results}
    results += [{"code": code, "title": "", "mapped": m, "orphan": True} for code, m in mapped.items()
                if code not in known]
    return page(request, "crm/mapping.html", status_code=status, c=connections.public(conn), statuses=statuses,
                results=results, actions=[(a, i18n.pick(*policy.ACTION_TITLES[a])) for a in policy.ACTIONS],
                fields=policy.TEMPLATE_FIELDS, errors=errors or {}, message=message,
                draft_statuses=draft_statuses or {}, draft_results=draft_results or {},
                saved=request.query_params.get("saved", ""), tab="mapping")


@get("/crm/{connection_id:int}/mapping", opt=CRM_READ, include_in_schema=False)
async def mapping_page(request: Request, connection_id: FromPath[int]) -> Response:
    return await _mapping_page(request, connection_id)


@post("/crm/{connection_id:int}/mapping/statuses", opt=CRM_EDIT, include_in_schema=False)
async def save_statuses(request: Request, connection_id: FromPath[int]) -> Response:
    form = await form_data(request)
    db = _db(request)
    await _connection(request, connection_id)
    known = [s["status_id"] for s in await run(db, connections.status_map, db, connection_id)]
    sids = form.get("status_id", [])
    items, draft = [], {}
    for sid in sids:
        action = one(form, f"action:{sid}")
        minutes = one(form, f"minutes:{sid}", "60")
        draft[sid] = {"action": action, "postpone_minutes": minutes}
        items.append({"status_id": sid, "action": action or None, "postpone_minutes": _int_or_raw(minutes)})
    try:
        if set(sids) != set(known) or len(sids) != len(known):  # a status appeared or vanished meanwhile, or forged
            raise Invalid("stale-statuses", "the list of CRM statuses changed; look at the mapping again",
                          message_ru="список статусов CRM изменился; проверьте соответствие ещё раз")
        await run(db, connections.set_status_map, db, connection_id, items)
    except DomainError as e:
        if e.status == 404:
            raise
        rows, rest = _by_index(field_errors(e), sids)
        message = "; ".join(rest.values()) or ("" if rows else i18n.error_text(e.as_dict()))
        return await _mapping_page(request, connection_id, e.status, rows, message, draft_statuses=draft)
    return Redirect(f"/crm/{connection_id}/mapping?saved=statuses")


@post("/crm/{connection_id:int}/mapping/results", opt=CRM_EDIT, include_in_schema=False)
async def save_results(request: Request, connection_id: FromPath[int]) -> Response:
    form = await form_data(request)
    db = _db(request)
    conn = await _connection(request, connection_id)
    allowed = {r["code"] for r in await run(db, views.campaign_results, db, conn["campaign_id"])}
    allowed |= {r["result_code"] for r in await run(db, connections.result_map, db, connection_id)}
    codes = form.get("result_code", [])
    items, draft = [], {}
    for code in codes:
        sid, template = one(form, f"status:{code}"), one(form, f"template:{code}")
        draft[code] = {"status_id": sid, "comment_template": template}
        if sid == "" and template.strip() == "":
            continue  # not mapped: the CRM gets the default comment and keeps its status
        items.append({"result_code": code, "status_id": sid or None, "comment_template": template})
    try:
        unknown = [c for c in codes if c not in allowed]
        if unknown:
            raise Invalid("unknown-results", f"unknown results: {', '.join(unknown)}",
                          message_ru=f"неизвестные результаты: {', '.join(unknown)}")
        await run(db, connections.set_result_map, db, connection_id, items)
    except DomainError as e:
        if e.status == 404:
            raise
        rows, rest = _by_index(field_errors(e), [i["result_code"] for i in items])
        message = "; ".join(rest.values()) or ("" if rows else i18n.error_text(e.as_dict()))
        return await _mapping_page(request, connection_id, e.status, rows, message, draft_results=draft)
    return Redirect(f"/crm/{connection_id}/mapping?saved=results")


@post("/crm/{connection_id:int}/mapping/refresh", opt=CRM_SYNC, include_in_schema=False)
async def refresh_statuses(request: Request, connection_id: FromPath[int]) -> Response:
    """Read the CRM's status list now through its adapter (new statuses appear unmapped)."""
    db = _db(request)
    conn = await _connection(request, connection_id)
    adapter = adapters_mod.build(conn)
    try:
        statuses = await adapter.statuses()
    except CrmError as e:
        return await _mapping_page(request, connection_id, 502, message=i18n.pick(
            f"CRM не ответила: {e}", f"The CRM did not answer: {e}"))
    finally:
        await adapter.close()
    await run(db, store.save_statuses, db, connection_id, statuses)
    return Redirect(f"/crm/{connection_id}/mapping?saved=refreshed")


# ---- file import ----------------------------------------------------------------------------------

def _uploads(request: Request) -> views.Uploads:
    return views.Uploads(request.app.state.settings.state_dir / "uploads" / "crm")


@get("/crm/{connection_id:int}/import", opt=LEADS_IMPORT, include_in_schema=False)
async def import_page(request: Request, connection_id: FromPath[int]) -> Response:
    conn = await _connection(request, connection_id)
    return page(request, "crm/import.html", c=connections.public(conn), error="", tab="import")


@post("/crm/{connection_id:int}/import/preview", opt=LEADS_IMPORT, request_max_body_size=FILE_LIMIT,
      include_in_schema=False)
async def import_preview(request: Request, connection_id: FromPath[int]) -> Response:
    conn = await _connection(request, connection_id)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page(request, "crm/import.html", status_code=422, c=connections.public(conn), tab="import",
                    error=i18n.pick("Выберите файл CSV или XLSX", "Choose a CSV or XLSX file"))
    data = await upload.read()
    filename = upload.filename[-200:]
    try:
        preview = await _workers(request).run(generic.preview, data, filename)  # CPU-bound: in a worker process
    except DomainError as e:
        return page(request, "crm/import.html", status_code=e.status, c=connections.public(conn), tab="import",
                    error=i18n.error_text(e.as_dict()))
    upload_id = _uploads(request).save(data, filename, connection_id, _user_id(request))
    return _preview_page(request, conn, preview, upload_id, filename)


def _preview_page(request: Request, conn: dict, preview: dict, upload_id: str, filename: str, status: int = 200,
                  errors: dict | None = None, chosen: dict | None = None) -> Response:
    return page(request, "crm/preview.html", status_code=status, c=connections.public(conn), p=preview,
                upload_id=upload_id, filename=filename, errors=errors or {}, chosen=chosen or preview["suggested"],
                tab="import")


@post("/crm/{connection_id:int}/import", opt=LEADS_IMPORT, include_in_schema=False)
async def import_file(request: Request, connection_id: FromPath[int]) -> Response:
    form = await form_data(request)
    conn = await _connection(request, connection_id)
    uploads = _uploads(request)
    upload_id = one(form, "upload_id")
    data, filename = await run(_db(request), uploads.load, upload_id, connection_id, _user_id(request))
    preview = await _workers(request).run(generic.preview, data, filename)
    columns = preview["columns"]
    mapping = {column: one(form, f"col:{i}") for i, column in enumerate(columns)}
    try:
        result = await _workers(request).run_in_db(generic.import_upload, connection_id, data, filename, mapping,
                                                   sync.utcnow())
    except DomainError as e:
        if e.status == 404:
            raise
        errors = field_errors(e) or {"_": i18n.error_text(e.as_dict())}
        return _preview_page(request, conn, preview, upload_id, filename, e.status, errors, mapping)
    uploads.drop(upload_id)
    return page(request, "crm/imported.html", c=connections.public(conn), r=result, filename=filename, tab="import",
                reason=_reason)


# ---- import log and delivery ----------------------------------------------------------------------

@get("/crm/{connection_id:int}/log", opt=CRM_READ, include_in_schema=False)
async def log_page(request: Request, connection_id: FromPath[int]) -> Response:
    db = _db(request)
    conn = await _connection(request, connection_id)
    state = request.query_params.get("state") or None
    if state is not None and state not in views.OUTBOX_STATES:
        raise ClientException(f"state must be one of: {', '.join(views.OUTBOX_STATES)}")
    pulled = request.query_params.get("pulled", "")
    return page(request, "crm/log.html", c=connections.public(conn), imports=await run(db, store.import_log, db,
                connection_id, 30), outbox=await run(db, views.outbox, db, connection_id, state),
                health=await run(db, views.health, db, conn), state=state or "",
                pulled=int(pulled) if pulled.isdigit() and len(pulled) < 19 else None,
                retried=request.query_params.get("retried", ""), tab="log", reason=_reason,
                now=sync.utcnow().isoformat()[:19].replace("T", " ") + " UTC")


@post("/crm/{connection_id:int}/outbox/{outbox_id:int}/retry", opt=CRM_SYNC, include_in_schema=False)
async def retry_delivery(request: Request, connection_id: FromPath[int], outbox_id: FromPath[int]) -> Response:
    db = _db(request)
    await _connection(request, connection_id)
    await run(db, views.outbox_row_of, db, connection_id, outbox_id)
    if not await run(db, outbox_mod.retry_now, db, outbox_id):
        raise Invalid("outbox-delivered", f"result {outbox_id} is already delivered",
                      message_ru=f"результат {outbox_id} уже доставлен")
    return Redirect(f"/crm/{connection_id}/log?retried={outbox_id}")


ROUTES = [connections_page, create_connection, settings_page, save_settings, sync_now, mapping_page, save_statuses,
          save_results, refresh_statuses, import_page, import_preview, import_file, log_page, retry_delivery]
