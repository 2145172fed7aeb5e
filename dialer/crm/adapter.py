"""The one interface every CRM adapter implements; a new CRM is one new module beside leadvertex.py."""
from __future__ import annotations

import abc
from dataclasses import dataclass


class CrmError(Exception):
    """A call to the CRM failed. `transient`: worth retrying (outage, timeout, 5xx, garbage);
    otherwise the CRM refused the request itself (bad token, unknown order)."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class CrmStatus:
    status_id: str
    name: str
    group: str = ""


@dataclass(frozen=True)
class Push:
    """One wrap-up result as the CRM receives it."""
    external_id: str
    status_id: str | None  # None: leave the order's status
    comment: str
    idempotency_key: str


class CrmAdapter(abc.ABC):
    """Pull new and changed orders, push a result, list statuses, check health."""

    batch_limit = 100  # ids per `orders` call

    @abc.abstractmethod
    async def statuses(self) -> list[CrmStatus]: ...

    @abc.abstractmethod
    async def ids_in_status(self, status_id: str) -> list:
        """Raw id list as the CRM sends it (duplicates possible); orders.unique_ids cleans it."""

    @abc.abstractmethod
    async def orders(self, ids: list[str]) -> dict:
        """{external id: raw order}; at most `batch_limit` ids."""

    @abc.abstractmethod
    async def busy(self, external_id: str) -> bool:
        """Someone is editing the order in the CRM now: write later."""

    @abc.abstractmethod
    async def holds(self, push: Push) -> bool:
        """The CRM already has this result (an earlier send landed but its answer was lost)."""

    @abc.abstractmethod
    async def push(self, push: Push) -> None:
        """Write the result; raises CrmError unless the CRM confirmed it."""

    async def health(self) -> None:
        """Raises CrmError when the CRM cannot be used now."""
        await self.statuses()

    async def close(self) -> None:
        return None
