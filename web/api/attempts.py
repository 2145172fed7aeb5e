"""Attempts (the call card). The health check is in web/api/health.py."""
from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from peewee import Database

from dialer.db import run
from dialer.services import attempts

from .. import auth


class AttemptController(Controller):
    path = "/api/attempts"
    tags = ["attempts"]

    @get("/", opt={"permission": auth.ATTEMPTS_READ})
    async def list_attempts(self, db: NamedDependency[Database], campaign_id: FromQuery[int | None] = None,
                            operator_id: FromQuery[int | None] = None, outcome: FromQuery[str | None] = None,
                            limit: FromQuery[int] = 100,
                            before_id: FromQuery[int | None] = None) -> list[dict[str, Any]]:
        """Newest first; page with `before_id` = the smallest id already seen."""
        return await run(db, attempts.list_attempts, campaign_id, operator_id, outcome, limit, before_id)

    @get("/{attempt_id:int}", opt={"permission": auth.ATTEMPTS_READ})
    async def get_attempt(self, attempt_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, attempts.get_attempt, attempt_id)
