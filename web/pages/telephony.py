"""The «Телефония» section (SPEC A4, F6): SIP devices with their live registration (online, address and port, user
agent, expiry, round-trip time, since when), a device's card (binding, codecs, transport, NAT options, a new
password, deletion), and each Asterisk server's trunk as Asterisk reports it now.

A device saved here is live in Asterisk at once (realtime views, no cache: dialer/services/devices.py); its
password is shown once, on the page that answers the request that set it, and never again."""
from __future__ import annotations

import asyncio
import base64
import logging

import aiohttp
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import devices, operators

from .. import i18n
from .common import form_data, one, page
from .operators import NO_STORE, _int, errors_of

READ, EDIT = {"permission": "sip.read"}, {"permission": "sip.edit"}
ARI_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)


def _db(request: Request):
    return request.app.state.db


def _servers(request: Request) -> tuple[str, ...]:
    return tuple(s.name for s in request.app.state.settings.asterisk_servers)


def device_fields(form: dict[str, list[str]]) -> dict:
    """The device form as the service's fields: unticked boxes are False; the binding is one of three."""
    bind = one(form, "bind", "none")
    fields = {"codecs": one(form, "codecs"), "transport": one(form, "transport", "udp"),
              **{flag: one(form, flag) == "on" for flag in devices.NAT_FLAGS},
              "operator_id": _int(one(form, "operator_id")) if bind == "operator" else None,
              "seat": one(form, "seat") if bind == "seat" else None}
    if "server" in form:
        fields["server"] = one(form, "server")
    return fields


def _draft(form: dict[str, list[str]]) -> dict:
    return {"login": one(form, "login"), "password_mode": one(form, "password_mode", "generate"),
            "bind": one(form, "bind", "none"), **device_fields(form)}


# ---- the trunks, as Asterisk reports them now ---------------------------------------------------------------
async def _trunk(session: aiohttp.ClientSession, server) -> dict:
    out = {"server": server.name, "trunk": server.trunk, "host": "", "state": "", "calls": None, "qualify": None,
           "error": ""}
    token = base64.b64encode(f"{server.ari_user}:{server.ari_password}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    try:
        async with session.get(f"{server.ari_url}/endpoints/PJSIP/{server.trunk}", headers=auth) as r:
            endpoint = await r.json() if r.status == 200 else None
        async with session.get(f"{server.ari_url}/asterisk/config/dynamic/res_pjsip/aor/{server.trunk}",
                               headers=auth) as r:
            aor = {a["attribute"]: a["value"] for a in await r.json()} if r.status == 200 else {}
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
        out["error"] = str(e) or type(e).__name__
        return out
    if endpoint is None:
        out["error"] = i18n.pick("Asterisk не знает этот транк", "Asterisk does not know this trunk")
        return out
    out.update(state=endpoint.get("state", ""), calls=len(endpoint.get("channel_ids", [])),
               host=aor.get("contact", ""), qualify=int(float(aor.get("qualify_frequency", "0") or 0)))
    return out


async def trunks(request: Request) -> list[dict]:
    servers = request.app.state.settings.asterisk_servers
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ARI_TIMEOUT_S)) as session:
        return list(await asyncio.gather(*(_trunk(session, s) for s in servers)))


# ---- the list and a new device -----------------------------------------------------------------------------
async def _list_page(request: Request, status: int = 200, errors: dict | None = None, draft: dict | None = None):
    db = _db(request)
    found = await run(db, devices.list_devices)
    ops = await run(db, operators.list_operators)
    bound = {d["operator_id"] for d in found if d["operator_id"]}
    wanted = request.query_params.get("operator_id", "")
    draft = draft or {"password_mode": "generate", "codecs": ",".join(devices.DEFAULTS["codecs"]), "transport": "udp",
                      **{k: devices.DEFAULTS[k] for k in devices.NAT_FLAGS},
                      "bind": "operator" if wanted.isdigit() else "none",
                      "operator_id": int(wanted) if wanted.isdigit() and len(wanted) < 19 else None}
    return page(request, "telephony/index.html", status_code=status, devices=found, trunks=await trunks(request),
                operators=[o for o in ops if o["id"] not in bound or o["id"] == draft.get("operator_id")],
                servers=_servers(request), codecs=devices.CODECS, transports=devices.TRANSPORTS,
                errors=errors or {}, draft=draft, rule=i18n.pick(devices.PASSWORD_RULE[1], devices.PASSWORD_RULE[0]))


@get("/telephony", opt=READ, include_in_schema=False)
async def list_page(request: Request) -> Response:
    return await _list_page(request)


@post("/telephony/devices", opt=EDIT, include_in_schema=False)
async def create_device(request: Request) -> Response:
    form = await form_data(request)
    draft = _draft(form)
    typed = one(form, "password") if draft["password_mode"] == "type" else None
    try:
        created = await run(_db(request), lambda: devices.create_device(
            draft["login"], typed, servers=_servers(request), **device_fields(form)))
    except DomainError as e:
        return await _list_page(request, e.status, errors_of(e), draft)
    return await _card(request, created["id"], password=created["password"], saved="created")


# ---- one device --------------------------------------------------------------------------------------------
async def _card(request: Request, device_id: int, status: int = 200, errors: dict | None = None,
                password: str = "", saved: str = "", draft: dict | None = None) -> Response:
    db = _db(request)
    d = await run(db, devices.get_device, device_id)
    ops = await run(db, operators.list_operators)
    taken = {x["operator_id"] for x in await run(db, devices.list_devices) if x["operator_id"] and x["id"] != d["id"]}
    bind = "operator" if d["operator_id"] else "seat" if d["seat"] else "none"
    response = page(request, "telephony/device.html", status_code=status, d=d, errors=errors or {},
                    draft=draft or {**d, "codecs": ",".join(d["codecs"]), "bind": bind},
                    operators=[o for o in ops if o["id"] not in taken], servers=_servers(request),
                    codecs=devices.CODECS, transports=devices.TRANSPORTS, password=password,
                    saved=saved or request.query_params.get("saved", ""),
                    rule=i18n.pick(devices.PASSWORD_RULE[1], devices.PASSWORD_RULE[0]))
    if password:
        response.headers.update(NO_STORE)
    return response


@get("/telephony/devices/{device_id:int}", opt=READ, include_in_schema=False)
async def device_page(request: Request, device_id: FromPath[int]) -> Response:
    return await _card(request, device_id)


@post("/telephony/devices/{device_id:int}", opt=EDIT, include_in_schema=False)
async def save_device(request: Request, device_id: FromPath[int]) -> Response:
    form = await form_data(request)
    fields = {**device_fields(form), "active": one(form, "active") == "on"}
    try:
        await run(_db(request), lambda: devices.update_device(device_id, servers=_servers(request), **fields))
    except DomainError as e:
        if e.status == 404 and e.code == "device-not-found":
            raise
        return await _card(request, device_id, e.status, errors_of(e), draft={**_draft(form), "active": fields["active"]})
    return Redirect(f"/telephony/devices/{device_id}?saved=1")


@post("/telephony/devices/{device_id:int}/password", opt=EDIT, include_in_schema=False)
async def new_password(request: Request, device_id: FromPath[int]) -> Response:
    form = await form_data(request)
    typed = one(form, "password") if one(form, "password_mode", "generate") == "type" else None
    try:
        changed = await run(_db(request), devices.set_password, device_id, typed)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _card(request, device_id, e.status, errors_of(e))
    return await _card(request, device_id, password=changed["password"], saved="password")


@post("/telephony/devices/{device_id:int}/delete", opt=EDIT, include_in_schema=False)
async def delete_device(request: Request, device_id: FromPath[int]) -> Response:
    await run(_db(request), devices.delete_device, device_id)  # unknown: 404
    return Redirect("/telephony?deleted=1")


ROUTES = [list_page, create_device, device_page, save_device, new_password, delete_device]
