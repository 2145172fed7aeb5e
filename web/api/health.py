"""The health check (SPEC K4) and «Мониторинг»'s data.

- `GET /api/health` — the whole installation (dialer/services/health.py): 200 when all is well, 503 otherwise.
  Open without sign-in, for a load balancer or a monitoring check: then it says only `status` and the reasons'
  codes. A signed-in holder of `monitoring.read` (or the API token) also gets each reason's message in English
  and Russian and what was read.
- `GET /api/health/web` — this web process and its database only: for a load balancer in front of several web
  processes, which should not take a web process out of rotation because an Asterisk is down.
- `GET /api/monitoring` (`monitoring.read`) — everything «Мониторинг» shows.
Every answer comes within HEALTH_TIMEOUT_S: a database that does not answer by then is the reason.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from litestar import Request, Response, get

from dialer.access import allowed
from dialer.clock import day_start
from dialer.db import UNAVAILABLE, run
from dialer.services import health as hs
from dialer.services import monitoring as ms

from .. import auth

log = logging.getLogger(__name__)
HEALTH_TIMEOUT_S = 2.0  # a connection from the pool, then statements of at most health.STATEMENT_TIMEOUT_MS each


def servers(request: Request) -> list[str]:
    return [s.name for s in request.app.state.settings.asterisk_servers]


def today(request: Request):
    return day_start(datetime.now(timezone.utc), request.app.state.settings.time_zone).date()


async def installation_health(request: Request) -> dict:
    """{"snapshot", "reasons"}, the database's silence past HEALTH_TIMEOUT_S included."""
    db = request.app.state.db
    try:
        return await asyncio.wait_for(run(db, hs.check, db, servers(request), today(request)), HEALTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return _unanswered(request, f"no answer within {HEALTH_TIMEOUT_S:g} s")
    except Exception as e:  # no connection to be had (hs.check catches what happens once connected)
        return _unanswered(request, hs.short(e))


def _unanswered(request: Request, why: str) -> dict:
    snap = {"database_error": why, "servers": servers(request)}
    return {"snapshot": snap, "reasons": hs.assess(snap)}


@get("/api/health", opt={"permission": auth.PUBLIC}, tags=["health"],
     summary="The installation's health: 200 when all is well, 503 with the reasons otherwise")
async def health(request: Request) -> Response[dict[str, Any]]:
    result = await installation_health(request)
    reasons = result["reasons"]
    if reasons:
        log.info("health check: %s", ", ".join(r.code for r in reasons))
    body: dict[str, Any] = {"status": "error" if reasons else "ok", "reasons": [r.code for r in reasons]}
    if allowed(auth.principal_of(request), ms.MONITORING):
        body["details"] = [r.wire() for r in reasons]
        body["snapshot"] = ms.jsonable(result["snapshot"])
    return Response(body, status_code=503 if reasons else 200, headers={"Cache-Control": "no-store"})


@get("/api/health/web", opt={"permission": auth.PUBLIC}, tags=["health"],
     summary="This web process and its database: 200 when PostgreSQL answers, 503 otherwise")
async def web_health(request: Request) -> Response[dict[str, Any]]:
    db = request.app.state.db
    try:
        await asyncio.wait_for(run(db, lambda: db.execute_sql("SELECT 1").fetchone()), HEALTH_TIMEOUT_S)
    except Exception as e:  # any database failure is "unhealthy", never a 500
        log.warning("health check: database unavailable: %s", e or type(e).__name__)
        return Response({"status": "error", "database": "unavailable"}, status_code=503,
                        headers={"Cache-Control": "no-store"})
    return Response({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})


async def monitoring_data(request: Request) -> dict:
    db = request.app.state.db
    hub = getattr(request.app.state, "hub", None)
    cursor = getattr(hub, "cursor", None)
    who = auth.principal_of(request)
    try:
        data = await asyncio.wait_for(run(db, ms.overview, who, db, servers(request), today(request), cursor),
                                      HEALTH_TIMEOUT_S * 2)
    except (asyncio.TimeoutError, *UNAVAILABLE) as e:
        bad = _unanswered(request, f"no answer within {HEALTH_TIMEOUT_S * 2:g} s"
                          if isinstance(e, asyncio.TimeoutError) else hs.short(e))
        data = {"healthy": False, "reasons": [r.wire() for r in bad["reasons"]], "snapshot": bad["snapshot"]}
    return ms.jsonable(data)


@get("/api/monitoring", opt={"permission": ms.MONITORING}, tags=["health"],
     summary="«Мониторинг»: the health check's parts in detail, PostgreSQL, the CRM outbox, live-event lag")
async def monitoring(request: Request) -> dict[str, Any]:
    return await monitoring_data(request)


ROUTES = [health, web_health, monitoring]
