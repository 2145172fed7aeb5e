"""Adapter per connection kind, reused across job runs (one HTTP session per connection settings)."""
from __future__ import annotations

from .adapter import CrmAdapter
from .generic import GenericWebhook
from .leadvertex import LeadVertex

KINDS = ("leadvertex", "generic")


def build(conn: dict) -> CrmAdapter:
    match conn["kind"]:
        case "leadvertex":
            return LeadVertex(conn["base_url"], conn["token"], conn["key_field"])
        case "generic":
            return GenericWebhook(conn["base_url"], conn["token"])
    raise ValueError(f"unknown CRM kind {conn['kind']!r}")


class Adapters:
    """`adapters(conn)` gives the adapter for a connection row; a changed URL or token builds a new one."""

    def __init__(self, factory=build):
        self.factory = factory
        self._cache: dict[int, tuple[tuple, CrmAdapter]] = {}
        self.stale: list[CrmAdapter] = []

    def __call__(self, conn: dict) -> CrmAdapter:
        key = (conn["kind"], conn["base_url"], conn["token"], conn["key_field"])
        cached = self._cache.get(conn["id"])
        if cached and cached[0] == key:
            return cached[1]
        if cached:
            self.stale.append(cached[1])
        adapter = self.factory(conn)
        self._cache[conn["id"]] = (key, adapter)
        return adapter

    async def close(self) -> None:
        for adapter in self.stale + [a for _, a in self._cache.values()]:
            await adapter.close()
        self._cache.clear()
        self.stale.clear()
