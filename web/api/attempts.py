"""Attempts (the call card) and the health check."""
from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from peewee import Database

from dialer.db import run
from dialer.services import attempts

from .. import auth

log = logging.getLogger(__name__)


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


@get("/api/health", opt={"permission": auth.PUBLIC}, tags=["health"])
async def health(db: NamedDependency[Database]) -> Response[dict[str, Any]]:
    """200 when PostgreSQL answers, 503 otherwise (for monitoring, SPEC K4)."""
    try:
        await run(db, lambda: db.execute_sql("SELECT 1").fetchone())
    except Exception as e:  # any database failure is "unhealthy", never a 500
        log.warning("health check: database unavailable: %s", e)
        return Response({"status": "error", "database": "unavailable"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
