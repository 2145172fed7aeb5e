"""The engine's state for other processes: one `component_health` row per Asterisk server (dialer/heartbeat.py)
— ARI connected and since when, reconnects today, the database writes waiting — every few seconds and at each
connect or drop of an ARI websocket."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from dialer.heartbeat import Report, Reporter
from dialer.clock import day_start


def reconnects_since(times, since: float) -> int:
    return sum(1 for t in times if t >= since)


def engine_reporter(engine) -> Reporter:
    started = time.time()

    def reports() -> list[Report]:
        now = time.time()
        today = day_start(datetime.fromtimestamp(now, timezone.utc), engine.settings.time_zone).timestamp()
        out = []
        for name, client in engine.clients.items():
            actors = [a for a in engine.actors.values() if a.client is client]
            failing = [a.writes.failing_since for a in actors if a.writes.failing_since is not None]
            out.append(Report(
                "engine", name, started, client.connected.is_set(), client.state_since,
                reconnects_today=reconnects_since(client.reconnects, today),
                write_backlog=sum(len(a.writes) for a in actors),
                detail={"operators": len(actors), "ari_url": client.server.ari_url,
                        "writes_failing_s": round(time.monotonic() - min(failing), 1) if failing else 0,
                        "writes_refused": sum(a.writes.refused for a in actors), "engine_backlog": engine.write_backlog()}))
        return out

    reporter = Reporter(engine.db, reports, "engine")
    for client in engine.clients.values():
        client.on_state = reporter.changed
    return reporter
