"""The engine's state for other processes: one `component_health` row per Asterisk server (dialer/heartbeat.py)
— ARI connected and since when, reconnects today, the database writes waiting — every few seconds and at each
connect or drop of an ARI websocket. The row also carries the engine's own figures for `/metrics`
(dialer/metrics.py): each operator's actor keeps `OperatorFigures`, summed per server at each report."""
from __future__ import annotations

import logging
import resource
import time
from datetime import datetime, timezone

from dialer import logs
from dialer.clock import day_start
from dialer.heartbeat import Report, Reporter
from dialer.metrics import BUCKETS, Histogram

from . import events as ev

log = logging.getLogger(__name__)


class OperatorFigures:
    """One operator's latency figures, observed from what their machine is given and what it commands
    (ari_app/runtime.py calls `stepped` after each step), so the runtime needs no timing code of its own:
    - claim: `Claimed.at` is when the claim was asked for; the event is stepped as the claim's answer arrives;
    - answer → bridge: the attempt's `answered_at` and `bridged_at` stamps (Asterisk's event times, the same the
      attempt's timeline and bench.progressive use);
    - Ready → originate: from the event after which the machine asks for a claim or for the operator's leg (the
      operator free: Ready pressed, a wrap-up done, an unanswered attempt over) to the client's `DialStarted`.
      A wait that is not the engine's is not counted: no lead to call (`NothingToCall`), an offer waiting for
      «Ответить», a pause, a failed originate."""

    def __init__(self):
        self.hist = {name: Histogram(bounds) for name, bounds in BUCKETS.items()}
        self._answered: dict[int, float] = {}
        self._free_since: float | None = None

    def stepped(self, event, commands: list, now: float) -> None:
        try:
            self._stepped(event, commands, now)
        except Exception:  # figures must never cost a call: a surprise here is logged and forgotten
            log.debug("figures: %s not observed", type(event).__name__, exc_info=True)

    def _stepped(self, event, commands: list, now: float) -> None:
        match event:
            case ev.Claimed(manual=False, at=at) if at:
                self.hist["claim"].observe(now - at)
            case ev.DialStarted(at=at) if self._free_since is not None:
                self.hist["ready_to_originate"].observe(at - self._free_since)
                self._free_since = None
            case ev.NothingToCall() | ev.OriginateFailed() | ev.PauseRequested():
                self._free_since = None
        for c in commands:
            match c:
                case ev.Record(field="answered_at"):
                    self._answered[c.attempt_id] = c.at
                case ev.Record(field="bridged_at") if c.attempt_id in self._answered:
                    self.hist["answer_to_bridge"].observe(c.at - self._answered.pop(c.attempt_id))
                case ev.EndAttempt():
                    self._answered.pop(c.attempt_id, None)
                case ev.StartOfferTimer():
                    self._free_since = None
                case ev.Claim() | ev.OriginateLeg() if self._free_since is None:
                    self._free_since = getattr(event, "at", 0.0) or now


def observe(actor, before, event, commands: list) -> None:
    """After each step of an operator's machine (`before`: its state before the step): the figures, and the ids
    every log line of the work that follows carries (dialer/logs.py) — the operator, and the attempt and channel
    the step is about (the call it started, goes on with, or just ended)."""
    actor.figures.stepped(event, commands, time.time())
    call = actor.state.call or before.call
    attempt = getattr(event, "attempt_id", None) or (call.attempt_id if call else None)
    channel = call.channel if call and call.attempt_id == attempt else None
    for c in commands:
        attempt = attempt or getattr(c, "attempt_id", None)
        channel = channel or getattr(c, "channel", None)
    logs.bind(operator=actor.oid, attempt=attempt, channel=channel)


def reconnects_since(times, since: float) -> int:
    return sum(1 for t in times if t >= since)


def engine_reporter(engine) -> Reporter:
    started = time.time()

    def reports() -> list[Report]:
        now = time.time()
        process = _process()
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
                        "writes_refused": sum(a.writes.refused for a in actors), "engine_backlog": engine.write_backlog(),
                        "reconnects_total": len(client.reconnects), **process,
                        "figures": {name: Histogram.merged(bounds, [a.figures.hist[name] for a in actors
                                                                    if hasattr(a, "figures")]).wire()
                                    for name, bounds in BUCKETS.items()}}))
        return out

    reporter = Reporter(engine.db, reports, "engine")
    for client in engine.clients.values():
        client.on_state = reporter.changed
    return reporter


def _process() -> dict:
    """This process's CPU seconds and resident memory (Linux: ru_maxrss is the peak; /proc says the current)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        rss = use.ru_maxrss * 1024
    return {"cpu_s": round(use.ru_utime + use.ru_stime, 3), "rss_bytes": rss}
