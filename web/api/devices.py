"""SIP devices and the operator administration of «Операторы» over the JSON API (skills: web/api/selections.py): the same use cases and
permissions as the pages (dialer/services/devices.py, operators.py, operator_admin.py). A device's password is
in the answer of the call that sets it, and in no other answer."""
from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, RawBody
from peewee import Database

from dialer.db import run
from dialer.services import devices, operator_admin, operators

from .. import auth
from ..schemas import strict

SIP_READ, SIP_EDIT = {"permission": "sip.read"}, {"permission": "sip.edit"}


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A new device (login, and optionally a typed password) or the changes to one (no login, no password)."""
    login: str | None = None
    password: str | None = None  # generated when absent; returned once
    operator_id: int | None | msgspec.UnsetType = msgspec.UNSET
    seat: str | None | msgspec.UnsetType = msgspec.UNSET
    codecs: list[str] | msgspec.UnsetType = msgspec.UNSET
    transport: str | msgspec.UnsetType = msgspec.UNSET
    direct_media: bool | msgspec.UnsetType = msgspec.UNSET
    rtp_symmetric: bool | msgspec.UnsetType = msgspec.UNSET
    force_rport: bool | msgspec.UnsetType = msgspec.UNSET
    rewrite_contact: bool | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    server: str | msgspec.UnsetType = msgspec.UNSET

    def fields(self) -> dict:
        return {k: getattr(self, k) for k in devices.EDITABLE if getattr(self, k) is not msgspec.UNSET}


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    password: str | None = None  # None: generated


class OperatorPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    active: bool | None = None


class PoolsIn(msgspec.Struct, forbid_unknown_fields=True):
    pools: dict[int, list[int]]  # {operator id: campaign ids}, each operator's pools replaced


def _servers(request: Request) -> tuple[str, ...]:
    return tuple(s.name for s in request.app.state.settings.asterisk_servers)


@get("/api/sip/devices", opt=SIP_READ, tags=["telephony"])
async def list_devices(db: NamedDependency[Database]) -> list[dict[str, Any]]:
    """Every device with its binding and live registration (online, address, port, user agent, expiry, RTT)."""
    return await run(db, devices.list_devices)


@get("/api/sip/devices/{device_id:int}", opt=SIP_READ, tags=["telephony"])
async def get_device(device_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
    return await run(db, devices.get_device, device_id)


@post("/api/sip/devices", opt=SIP_EDIT, tags=["telephony"])
async def create_device(request: Request, data: JSONBody[DeviceIn], body: RawBody,
                        db: NamedDependency[Database]) -> dict[str, Any]:
    """Live in Asterisk at once; the answer carries the password (generated if not given), once."""
    data = strict(body, DeviceIn)
    servers = _servers(request)
    return await run(db, lambda: devices.create_device(data.login, data.password, servers=servers, **data.fields()))


@patch("/api/sip/devices/{device_id:int}", opt=SIP_EDIT, tags=["telephony"])
async def update_device(request: Request, device_id: FromPath[int], data: JSONBody[DeviceIn], body: RawBody,
                        db: NamedDependency[Database]) -> dict[str, Any]:
    data = strict(body, DeviceIn)
    fields = data.fields()
    if data.login is not None:
        fields["login"] = data.login  # refused by the service: a login is fixed
    if data.password is not None:
        fields["password"] = data.password  # refused: a password is set with POST …/password
    servers = _servers(request)
    return await run(db, lambda: devices.update_device(device_id, servers=servers, **fields))


@post("/api/sip/devices/{device_id:int}/password", opt=SIP_EDIT, tags=["telephony"])
async def set_password(device_id: FromPath[int], data: JSONBody[PasswordIn], body: RawBody,
                       db: NamedDependency[Database]) -> dict[str, Any]:
    """The old password stops working at once (the registration is dropped); the new one is in this answer only."""
    data = strict(body, PasswordIn)
    return await run(db, devices.set_password, device_id, data.password)


@delete("/api/sip/devices/{device_id:int}", opt=SIP_EDIT, tags=["telephony"], status_code=204)
async def delete_device(device_id: FromPath[int], db: NamedDependency[Database]) -> None:
    await run(db, devices.delete_device, device_id)


@patch("/api/operators/{operator_id:int}", opt={"permission": "operators.update"}, tags=["operators"])
async def update_operator(operator_id: FromPath[int], data: JSONBody[OperatorPatch], body: RawBody,
                          db: NamedDependency[Database]) -> dict[str, Any]:
    """The name, and `active` (deactivating: refused with 409 while Ready, in a call or in wrap-up)."""
    data = strict(body, OperatorPatch)

    def change():
        if data.name is not None:
            operators.update_operator(operator_id, name=data.name)
        if data.active is not None:
            operators.set_active(operator_id, data.active)
        return operators.get_operator(operator_id)
    return await run(db, change)


@delete("/api/operators/{operator_id:int}", opt={"permission": "operators.delete"}, tags=["operators"],
        status_code=204)
async def delete_operator(operator_id: FromPath[int], db: NamedDependency[Database]) -> None:
    """Only an operator without calls in the history (409 otherwise: deactivate instead)."""
    await run(db, operators.delete_operator, operator_id)


@put("/api/operators/pools", opt={"permission": "operators.pools"}, tags=["operators"])
async def set_pools(data: JSONBody[PoolsIn], body: RawBody, db: NamedDependency[Database]) -> dict[str, Any]:
    """The pools grid at once: every operator named gets exactly these campaigns; any bad id changes nothing."""
    data = strict(body, PoolsIn)
    return await run(db, operators.set_pools, data.pools)


@post("/api/operators/import", opt={"permission": "operators.create"}, tags=["operators"],
      request_max_body_size=2 * 1024 * 1024)
async def import_operators(request: Request, body: RawBody, db: NamedDependency[Database]) -> dict[str, Any]:
    """The CSV itself as the body (text/csv): all or nothing; 422 lists every bad line; passwords once."""
    who = auth.principal_of(request)
    return await run(db, operator_admin.import_csv, who, body)


DEVICE_API = [list_devices, get_device, create_device, update_device, set_password, delete_device,
              update_operator, delete_operator, set_pools, import_operators]
