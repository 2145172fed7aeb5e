"""CRM connections, status and result mapping, import log, delivery state, file import and the inbound
push — the JSON the settings, mapping and import pages (and the call card) are built on."""
from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter, RawBody
from peewee import Database

from dialer.crm import adapters as adapters_mod
from dialer.crm import connections, generic, health, outbox, store, sync
from dialer.db import run
from dialer.errors import DomainError, NotFound
from dialer.permissions import PUBLIC
from dialer.workers import Workers

CRM_READ, CRM_EDIT, CRM_SYNC, LEADS_IMPORT = "crm.read", "crm.edit", "crm.sync", "leads.import"
FILE_LIMIT = 20 * 1024 * 1024
PUSH_LIMIT = 5 * 1024 * 1024


class Unauthorised(DomainError):
    status = 401


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError as e:
        raise ValidationException(f"malformed JSON: {e}") from None


def _object(body: bytes) -> dict:
    value = _json(body)
    if not isinstance(value, dict):
        raise ValidationException("the request body must be a JSON object")
    return value


async def _with_adapter(db, connection_id: int, fn):
    conn = await run(db, store.connection, db, connection_id)
    adapter = adapters_mod.build(conn)
    try:
        return await fn(adapter)
    finally:
        await adapter.close()


class CrmController(Controller):
    path = "/api/crm"
    tags = ["crm"]

    @get("/connections", opt={"permission": CRM_READ})
    async def list_connections(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, connections.list_connections, db)

    @post("/connections", opt={"permission": CRM_EDIT})
    async def create_connection(self, body: RawBody, db: NamedDependency[Database]) -> dict[str, Any]:
        """Answers once with `inbound_token` (the push endpoint's token); never again."""
        return await run(db, connections.create_connection, db, _object(body))

    @get("/connections/{connection_id:int}", opt={"permission": CRM_READ})
    async def get_connection(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return connections.public(await run(db, store.connection, db, connection_id))

    @patch("/connections/{connection_id:int}", opt={"permission": CRM_EDIT})
    async def update_connection(self, connection_id: FromPath[int], body: RawBody,
                                db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, connections.update_connection, db, connection_id, _object(body))

    @post("/connections/{connection_id:int}/inbound-token", status_code=200, opt={"permission": CRM_EDIT})
    async def rotate_inbound_token(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, connections.rotate_inbound_token, db, connection_id)

    @get("/connections/{connection_id:int}/statuses", opt={"permission": CRM_READ})
    async def status_map(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, connections.status_map, db, connection_id)

    @put("/connections/{connection_id:int}/statuses", opt={"permission": CRM_EDIT})
    async def set_status_map(self, connection_id: FromPath[int], body: RawBody,
                             db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, connections.set_status_map, db, connection_id, _json(body))

    @post("/connections/{connection_id:int}/statuses/refresh", status_code=200, opt={"permission": CRM_SYNC})
    async def refresh_statuses(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        """Load the CRM's status list now (new statuses appear unmapped)."""
        statuses = await _with_adapter(db, connection_id, lambda a: a.statuses())
        await run(db, store.save_statuses, db, connection_id, statuses)
        return await run(db, connections.status_map, db, connection_id)

    @get("/connections/{connection_id:int}/results", opt={"permission": CRM_READ})
    async def result_map(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, connections.result_map, db, connection_id)

    @put("/connections/{connection_id:int}/results", opt={"permission": CRM_EDIT})
    async def set_result_map(self, connection_id: FromPath[int], body: RawBody,
                             db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, connections.set_result_map, db, connection_id, _json(body))

    @post("/connections/{connection_id:int}/pull", status_code=200, opt={"permission": CRM_SYNC})
    async def pull_now(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await _with_adapter(db, connection_id, lambda a: sync.pull(db, connection_id, a))

    @get("/connections/{connection_id:int}/health", opt={"permission": CRM_READ})
    async def probe(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        conn = await run(db, store.connection, db, connection_id)
        adapter = adapters_mod.build(conn)
        try:
            return await health.probe(db, lambda _: adapter, connection_id, sync.utcnow())
        finally:
            await adapter.close()

    @get("/connections/{connection_id:int}/imports", opt={"permission": CRM_READ})
    async def import_log(self, connection_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        await run(db, store.connection, db, connection_id)
        return await run(db, store.import_log, db, connection_id)

    @post("/connections/{connection_id:int}/file/preview", status_code=200, request_max_body_size=FILE_LIMIT,
          opt={"permission": LEADS_IMPORT})
    async def preview_file(self, connection_id: FromPath[int], body: RawBody, db: NamedDependency[Database],
                           workers: NamedDependency[Workers],
                           filename: Annotated[str, QueryParameter(description="name.csv or name.xlsx")] = "upload.csv",
                           ) -> dict[str, Any]:
        await run(db, store.connection, db, connection_id)
        return await workers.run(generic.preview, body, filename)  # CPU-bound: in a worker process

    @post("/connections/{connection_id:int}/file/import", status_code=200, request_max_body_size=FILE_LIMIT,
          opt={"permission": LEADS_IMPORT})
    async def import_file(self, connection_id: FromPath[int], body: RawBody, workers: NamedDependency[Workers],
                          mapping: Annotated[str, QueryParameter(description='JSON {"column": "target"}')] = "{}",
                          filename: Annotated[str, QueryParameter(description="name.csv or name.xlsx")] = "upload.csv",
                          ) -> dict[str, Any]:
        """Bad rows are reported by line (still 200); the rest are upserted by external id."""
        return await workers.run_in_db(generic.import_upload, connection_id, body, filename,
                                       _json(mapping.encode()), sync.utcnow())

    @get("/alerts", opt={"permission": CRM_READ})
    async def alerts(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, health.open_alerts, db)

    @get("/attempts/{attempt_id:int}/delivery", opt={"permission": CRM_READ})
    async def delivery(self, attempt_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        """The call card's "result in the CRM" line."""
        return await run(db, outbox.delivery_state, db, attempt_id)

    @get("/leads/{lead_id:int}/order-link", opt={"permission": CRM_READ})
    async def order_link(self, lead_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        """The order card's link to the order in the CRM (url null when not configured)."""
        return await run(db, connections.lead_order_link, db, lead_id)

    @post("/outbox/{outbox_id:int}/retry", status_code=200, opt={"permission": CRM_SYNC})
    async def retry(self, outbox_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        if not await run(db, outbox.retry_now, db, outbox_id):
            raise NotFound("outbox-not-found", f"no undelivered result {outbox_id}",
                           message_ru=f"недоставленный результат {outbox_id} не найден")
        return {"outbox_id": outbox_id, "state": "pending"}


def _check_inbound(db, connection_id: int, token: str | None) -> None:
    row = db.execute_sql("SELECT inbound_token FROM crm_connection WHERE id = %s", (connection_id,)).fetchone()
    if row is None or not token or not hmac.compare_digest(token.encode(), row[0].encode()):
        raise Unauthorised("unauthorised", "a valid 'Authorization: Bearer <inbound token>' of this connection "
                           "is required", message_ru="нужен верный токен входящего API этого подключения")


@post("/api/crm/inbound/{connection_id:int}/orders", status_code=200, request_max_body_size=PUSH_LIMIT,
      opt={"permission": PUBLIC, "authenticated_by": "the connection's inbound token"}, tags=["crm"])
async def push_orders(connection_id: FromPath[int], request: Request, body: RawBody,
                      db: NamedDependency[Database]) -> dict[str, Any]:
    """A CRM without an adapter pushes orders: {"orders": [{"id", "phone", "fio", "country", "status", ...}]}.

    Authenticated by the connection's own inbound token, not the installation's."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    await run(db, _check_inbound, db, connection_id, token.strip() if scheme.lower() == "bearer" else None)
    return await run(db, generic.push_orders, db, connection_id, _json(body), sync.utcnow())
