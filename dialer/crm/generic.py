"""CRMs without an adapter: CSV/XLSX files with a column mapping (preview first), an inbound JSON push,
and results written back to a webhook URL. Parsing is pure; `import_file`/`push_orders` write."""
from __future__ import annotations

import json
from datetime import datetime

import aiohttp

from .. import tables, validation
from ..errors import Conflict, Invalid
from . import orders as om
from . import store
from .adapter import CrmAdapter, CrmError, CrmStatus, Push

TARGETS = ("external_id", "phone", "name", "country", "region", "city", "amount", "product", "crm_status",
           "attr", "skip")
SUGGEST = {"external_id": "external_id", "order_id": "external_id", "id": "external_id", "номер": "external_id",
           "номер заказа": "external_id", "phone": "phone", "телефон": "phone", "name": "name", "fio": "name",
           "фио": "name", "имя": "name", "country": "country", "страна": "country", "region": "region",
           "регион": "region", "city": "city", "город": "city", "amount": "amount", "total": "amount",
           "сумма": "amount", "product": "product", "товар": "product", "status": "crm_status",
           "статус": "crm_status"}
PREVIEW_ROWS = 10
MAX_PUSH = 1000


def _file_error(reason: str, reason_ru: str) -> Invalid:
    return Invalid("invalid-file", reason, message_ru=reason_ru)


def read_table(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, cells)]) of a CSV (UTF-8, `;` `,` or TAB) or XLSX file (first sheet), blank rows left out.
    Limits (size, rows, columns, cells) are enforced while reading (`dialer.tables`): blocking and CPU-bound,
    so the web calls it in a worker process (`dialer.workers`)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        rows = tables.xlsx_rows(data)
    else:
        tables.check_size(data)
        text = tables.decode(data)
        rows = tables.csv_rows(text, tables.sniff_delimiter(tables.first_line(text)))
    found = []
    for line, cells in rows:
        if isinstance(cells, str):  # a malformed CSV record refuses the file: a mapping is built on its columns
            reason = cells.removeprefix("malformed CSV: ")
            raise _file_error(f"line {line}: malformed CSV: {reason}", f"строка {line}: ошибка CSV: {reason}")
        found.append((line, cells))
    if not found:
        raise _file_error("the file is empty or has no header row", "файл пуст или без строки заголовка")
    return [str(c).strip() for c in found[0][1]], found[1:]


def preview(data: bytes, filename: str) -> dict:
    header, rows = read_table(data, filename)
    return {"columns": header, "rows": len(rows), "targets": list(TARGETS),
            "suggested": {c: SUGGEST.get(c.lower(), "attr") for c in header},
            "sample": [{"line": n, "cells": cells[:len(header)]} for n, cells in rows[:PREVIEW_ROWS]]}


def check_mapping(header: list[str], mapping) -> dict[str, str]:
    """Every column mapped to a known target, external_id and phone exactly once (errors per field)."""
    if not isinstance(mapping, dict):
        raise Invalid("invalid-mapping", "mapping must be an object {column: target}",
                      message_ru="соответствие столбцов должно быть объектом {столбец: поле}")
    problems = []
    for column, target in mapping.items():
        if column not in header:
            problems.append({"field": column, "message": "no such column in the file",
                             "message_ru": "такого столбца нет в файле"})
        elif target not in TARGETS:
            problems.append({"field": column, "message": f"target must be one of: {', '.join(TARGETS)}",
                             "message_ru": f"допустимые поля: {', '.join(TARGETS)}"})
    full = {c: mapping.get(c, SUGGEST.get(c.lower(), "attr")) for c in header}
    for required in ("external_id", "phone"):
        count = list(full.values()).count(required)
        if count != 1:
            problems.append({"field": required, "message": f"exactly one column must be {required} (found {count})",
                             "message_ru": f"ровно один столбец должен быть {required} (найдено {count})"})
    for target in TARGETS[:9]:
        if list(full.values()).count(target) > 1 and target not in ("external_id", "phone"):
            problems.append({"field": target, "message": "mapped from more than one column",
                             "message_ru": "назначено нескольким столбцам"})
    if problems:
        raise Invalid("invalid-mapping", "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                      message_ru="; ".join(f"{p['field']}: {p['message_ru']}" for p in problems), problems=problems)
    return full


def order_from_row(values: dict[str, str], attrs: dict[str, str], default_country: str) -> om.Order:
    raw = {"fio": values.get("name", ""), "phone": values.get("phone", ""), "country": values.get("country", ""),
           "region": values.get("region", ""), "city": values.get("city", ""),
           "total": values.get("amount", ""), "status": values.get("crm_status", ""), **attrs}
    order = om.parse_order(values.get("external_id", ""), raw, default_country)
    product = values.get("product", "").strip()[:om.MAX_TEXT]
    return om.Order(**{**order.__dict__, "product": product}) if product else order


def parse_rows(header, rows, mapping: dict[str, str], default_country: str):
    """→ (orders, rejects by line); a repeated external id is reported at its second line."""
    orders, rejects, first = [], [], {}
    for line, cells in rows:
        cells = [str(c) for c in cells]
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header):]):
            cells = cells[:len(header)]
        if len(cells) != len(header):
            rejects.append({"line": line, "reason": f"expected {len(header)} columns, got {len(cells)}"})
            continue
        values, attrs = {}, {}
        for column, cell in zip(header, cells):
            target = mapping[column]
            if target == "attr":
                attrs[column[:100]] = cell.strip()[:om.MAX_ATTR_VALUE]
            elif target != "skip":
                values[target] = cell
        try:
            order = order_from_row(values, attrs, default_country)
        except om.Rejected as e:
            rejects.append({"line": line, "reason": str(e)})
            continue
        if order.external_id in first:
            rejects.append({"line": line, "reason": f"duplicate external_id {order.external_id!r} "
                                                    f"(first on line {first[order.external_id]})"})
            continue
        first[order.external_id] = line
        orders.append(order)
    return orders, rejects


def with_default_call(actions: dict) -> dict:
    """Orders from files and pushes without a status are to be called."""
    return {**actions, "": actions.get("", ("call", 60))}


def import_file(db, connection_id: int, data: bytes, filename: str, mapping, now: datetime) -> dict:
    conn = store.connection(db, connection_id)
    header, rows = read_table(data, filename)
    full = check_mapping(header, mapping or {})
    orders, rejects = parse_rows(header, rows, full, conn["default_country"])
    return _upsert_and_log(db, conn, "file", orders, rejects, len(rows), now)


def import_upload(connection_id: int, data: bytes, filename: str, mapping, now: datetime) -> dict:
    """`import_file` on the database the models are bound to: what the web's worker process runs
    (`dialer.workers`), so the file is read and its orders written outside the web's own process."""
    return import_file(validation.database(), connection_id, data, filename, mapping, now)


def push_orders(db, connection_id: int, body, now: datetime) -> dict:
    """Inbound JSON: {"orders": [{"id", "phone", "fio"|"name", "country", "status", ...}]} (≤ 1000).
    A disabled connection takes nothing in (409), as its pull job takes nothing."""
    conn = store.connection(db, connection_id)
    if not conn["enabled"]:
        raise Conflict("crm-connection-disabled", f"CRM connection {connection_id} is disabled: orders are not "
                       "accepted until it is enabled again", connection_id=connection_id,
                       message_ru=f"подключение CRM {connection_id} отключено: заказы не принимаются, пока его "
                       "не включат снова")
    items = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PUSH:
        raise Invalid("invalid-field", f"orders: must be a list of 1 to {MAX_PUSH} orders", field="orders",
                      message_ru=f"orders: должен быть списком от 1 до {MAX_PUSH} заказов")
    orders, rejects, seen = [], [], set()
    for index, item in enumerate(items):
        try:
            order = om.parse_order(item.get("id") if isinstance(item, dict) else None, item, conn["default_country"])
        except om.Rejected as e:
            rejects.append({"index": index, "reason": str(e)})
            continue
        if order.external_id not in seen:
            seen.add(order.external_id)
            orders.append(order)
    return _upsert_and_log(db, conn, "push", orders, rejects, len(items), now)


def _upsert_and_log(db, conn, source, orders, rejects, seen, now) -> dict:
    actions = with_default_call(store.status_actions(db, conn["id"]))
    counts = store.upsert_orders(db, conn, orders, actions, now)
    counts["rejects"] = rejects + counts["rejects"]
    log_id = store.log_import(db, conn["id"], source, now, now, seen, counts)
    return {"import_id": log_id, "seen": seen, "imported": counts["imported"], "updated": counts["updated"],
            "unchanged": counts["unchanged"], "rejected": len(counts["rejects"]), "rejects": counts["rejects"]}


class GenericWebhook(CrmAdapter):
    """Results go to the CRM's webhook as JSON with an Idempotency-Key header; orders come by push/file."""

    def __init__(self, url: str, token: str = ""):
        self.url = url
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def statuses(self) -> list[CrmStatus]:
        return []

    async def ids_in_status(self, status_id: str) -> list:
        return []

    async def orders(self, ids: list[str]) -> dict:
        return {}

    async def busy(self, external_id: str) -> bool:
        return False

    async def holds(self, push: Push) -> bool:
        return False  # the receiver deduplicates on the Idempotency-Key header

    async def push(self, push: Push) -> None:
        if not self.url:
            raise CrmError("no webhook URL configured for results", transient=False)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        headers = {"Idempotency-Key": push.idempotency_key, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"external_id": push.external_id, "status": push.status_id, "comment": push.comment,
                           "idempotency_key": push.idempotency_key}, ensure_ascii=False)
        try:
            async with self._session.post(self.url, data=body, headers=headers) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise CrmError(f"webhook: connection failed ({type(e).__name__})", transient=True) from None
        if status >= 300:
            raise CrmError(f"webhook: HTTP {status}", transient=status >= 500 or status == 429)

    async def health(self) -> None:
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
