"""LeadVertex admin API adapter on aiohttp (see docs/crm.md for what is known of the API).

The token travels as a query parameter, so no URL ever reaches an error message or a log line:
errors name the method only.
"""
from __future__ import annotations

import asyncio
import json

import aiohttp

from .adapter import CrmAdapter, CrmError, CrmStatus, Push

TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


class LeadVertex(CrmAdapter):
    def __init__(self, base_url: str, token: str, key_field: str = "additional25",
                 session: aiohttp.ClientSession | None = None, timeout: aiohttp.ClientTimeout = TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.key_field = key_field
        self._session = session
        self._own_session = session is None
        self.timeout = timeout

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, params: dict | None = None, form: dict | None = None):
        url = f"{self.base_url}/{method}.html"
        query = {"token": self.token, **(params or {})}
        try:
            async with self.session.request("POST" if form is not None else "GET", url, params=query,
                                            data=form) as resp:
                body = await resp.read()
                status = resp.status
        except asyncio.TimeoutError:
            raise CrmError(f"{method}: timed out", transient=True) from None
        except aiohttp.ClientError as e:
            raise CrmError(f"{method}: connection failed ({type(e).__name__})", transient=True) from None
        return decode_answer(method, status, body)

    async def statuses(self) -> list[CrmStatus]:
        answer = await self.call("getStatusList")
        if not isinstance(answer, dict):
            raise CrmError("getStatusList: not an object", transient=True)
        return [CrmStatus(str(k), str(v.get("name", "")) if isinstance(v, dict) else str(v),
                          str(v.get("group", "")) if isinstance(v, dict) else "") for k, v in answer.items()]

    async def ids_in_status(self, status_id: str) -> list:
        answer = await self.call("getOrdersIdsInStatus", {"status": status_id})
        if not isinstance(answer, list):
            raise CrmError("getOrdersIdsInStatus: not an array", transient=True)
        return answer

    async def orders(self, ids: list[str]) -> dict:
        if len(ids) > self.batch_limit:
            raise ValueError(f"at most {self.batch_limit} ids per call")
        if not ids:
            return {}
        answer = await self.call("getOrdersByIds", {"ids": ",".join(ids)})
        if isinstance(answer, list) and not answer:
            return {}  # PHP's empty array: none of the ids exist
        if not isinstance(answer, dict):
            raise CrmError("getOrdersByIds: not an object", transient=True)
        return answer

    async def busy(self, external_id: str) -> bool:
        answer = await self.call("checkUsedByOrder", {"id": external_id})
        return used_flag(answer)

    async def holds(self, push: Push) -> bool:
        order = (await self.orders([push.external_id])).get(push.external_id)
        return isinstance(order, dict) and str(order.get(self.key_field, "")) == push.idempotency_key

    async def push(self, push: Push) -> None:
        form = {"comment": push.comment, self.key_field: push.idempotency_key}
        if push.status_id is not None:
            form["status"] = push.status_id
        answer = await self.call("updateOrder", {"id": push.external_id}, form)
        if not (isinstance(answer, dict) and str(answer.get(push.external_id, "")).upper() == "OK"):
            raise CrmError(f"updateOrder: unexpected answer {str(answer)[:100]}", transient=True)


def decode_answer(method: str, status: int, body: bytes):
    """An answer body → JSON value; `{"error": ...}` → a refusal (HTTP status is not reliable)."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CrmError(f"{method}: HTTP {status}, not JSON", transient=True) from None
    if isinstance(answer, dict) and "error" in answer:
        raise CrmError(f"{method}: CRM refused: {str(answer['error'])[:200]}", transient=status >= 500)
    if status >= 500:
        raise CrmError(f"{method}: HTTP {status}", transient=True)
    if status >= 400:
        raise CrmError(f"{method}: HTTP {status}", transient=False)
    return answer


def used_flag(answer) -> bool:
    """checkUsedByOrder's answer shapes seen: a bool, 0/1, or an object with a `used`-like key."""
    if isinstance(answer, dict):
        for key in ("used", "isUsed", "result"):
            if key in answer:
                return used_flag(answer[key])
        return False
    if isinstance(answer, str):
        return answer.strip().lower() in ("1", "true", "yes")
    return bool(answer)
