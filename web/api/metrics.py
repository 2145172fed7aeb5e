"""`GET /metrics`: Prometheus text format (dialer/metrics.py) for the installation's monitoring.

Open to the addresses in `metrics_allow` (default: this machine only) and to anyone sending the metrics token
(`Authorization: Bearer <metrics_token>`, when one is set); everyone else gets 403 and nothing is read. The route
is PUBLIC for the session/permission guard (a Prometheus server has no session) and applies its own rule.
A database that does not answer within METRICS_TIMEOUT_S still gives 200 with `dialer_database_up 0`.
"""
from __future__ import annotations

import asyncio
import logging

from litestar import Request, Response, get

from dialer import metrics
from dialer.db import run
from dialer.services.health import short

from .. import auth

log = logging.getLogger(__name__)
METRICS_TIMEOUT_S = 3.0  # below Prometheus's default scrape timeout (10 s)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@get("/metrics", opt={"permission": auth.PUBLIC}, include_in_schema=False)
async def scrape(request: Request) -> Response[bytes]:
    settings = request.app.state.settings
    if not metrics.may_scrape(auth.client_ip(request.scope), metrics.networks(settings.metrics_allow),
                              settings.metrics_token, _bearer(request)):
        log.info("metrics refused to %s (not in metrics_allow, no valid token)", auth.client_ip(request.scope))
        return Response(b"metrics: this address is not allowed (metrics_allow) and no valid token was sent\n",
                        status_code=403, media_type="text/plain", headers={"Cache-Control": "no-store"})
    db = request.app.state.db
    cursor = getattr(getattr(request.app.state, "hub", None), "cursor", None)
    snap, error = None, None
    try:
        snap = await asyncio.wait_for(run(db, metrics.read, db, cursor, _recordings_path(settings)), METRICS_TIMEOUT_S)
    except asyncio.TimeoutError:
        error = f"no answer within {METRICS_TIMEOUT_S:g} s"
    except Exception as e:  # the database away: the scrape says so in a series instead of failing
        error = short(e)
    if error:
        log.warning("metrics: the database did not answer: %s", error)
    body = await asyncio.to_thread(metrics.exposition, snap, error)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _recordings_path(settings):
    return getattr(settings, "recordings_path", None)


ROUTES = [scrape]
