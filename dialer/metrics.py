"""Prometheus metrics (SPEC K4; `/metrics`, web/api/metrics.py): what the installation is doing, as numbers.

Every figure is read from PostgreSQL at the scrape, in one short read-only transaction, by the web process that
serves `/metrics` — the engine's own in-process figures included: the engine writes them every 5 s into its
health row (`component_health.detail`, ari_app/health.py), where the health check already reads it. So there is
one scrape target however the parts are spread over processes and machines, behind one access rule, and a
stopped engine shows as a report that stopped changing (`dialer_engine_report_age_seconds`), not as a target that
vanished. Why this and not the alternatives: docs/operations.md.

`Histogram` is the engine's side (pure, no prometheus_client: a list of bucket counts that goes into JSON);
`read` + `families` are the web side (`families` is pure: a snapshot in, prometheus_client's families out).
"""
from __future__ import annotations

import bisect
import ipaddress
import shutil
from pathlib import Path

# ---- the engine's histograms ---------------------------------------------------------------------------------
# Upper bounds in seconds. Claims take 3–9 ms on the development machine (bench.claim), answer → bridge 2–60 ms,
# Ready → originate 15–600 ms (bench.progressive; the first includes ringing the softphone): the buckets are
# dense where those live and reach far enough to show a stall.
BUCKETS = {
    "claim": (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    "answer_to_bridge": (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    "ready_to_originate": (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
}
HELP = {
    "claim": "Claim of the next lead for a Ready operator, from the request to the lead reserved (engine)",
    "answer_to_bridge": "Client answered (StasisStart) to the client in the operator's bridge, Asterisk's times",
    "ready_to_originate": "Operator free and Ready (or the end of their previous attempt) to the client's originate",
}


class Histogram:
    """Bucket counts (not cumulative; the last one is +Inf), their sum and count. `wire()` is what the engine
    writes; `merged` adds up the operators' histograms of one server."""

    def __init__(self, bounds: tuple[float, ...], counts: list[int] | None = None, total: float = 0.0):
        self.bounds = bounds
        self.counts = list(counts) if counts else [0] * (len(bounds) + 1)
        self.total = total

    def observe(self, seconds: float) -> None:
        if seconds < 0:  # two clocks disagreeing by a hair; a negative wait is no figure
            return
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def wire(self) -> dict:
        return {"counts": self.counts, "sum": round(self.total, 6)}

    @classmethod
    def merged(cls, bounds: tuple[float, ...], histograms) -> "Histogram":
        out = cls(bounds)
        for h in histograms:
            out.counts = [a + b for a, b in zip(out.counts, h.counts)]
            out.total += h.total
        return out

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative, as Prometheus wants them: [("0.001", n), ..., ("+Inf", count)]."""
        out, running = [], 0
        for bound, n in zip([*map(repr, self.bounds), "+Inf"], self.counts):
            running += n
            out.append((bound, running))
        return out


def histogram_from_wire(name: str, wire: dict | None) -> Histogram | None:
    """An engine's histogram back from its JSON; None when it is missing or written with other buckets."""
    bounds = BUCKETS[name]
    if not wire or len(wire.get("counts") or ()) != len(bounds) + 1:
        return None
    return Histogram(bounds, [int(n) for n in wire["counts"]], float(wire.get("sum") or 0))


# ---- who may scrape ------------------------------------------------------------------------------------------
def networks(text: str) -> list:
    """`metrics_allow` ("127.0.0.1/32, 10.0.0.0/8, ::1"): the networks a scrape may come from."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def may_scrape(client_ip: str, allow: list, token: str, offered: str | None) -> bool:
    """From an allowed address, or with the metrics token (when one is set); anything else is refused."""
    import hmac

    if token and offered and hmac.compare_digest(offered.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:  # no address at all (e.g. a unix socket): only the token opens it
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in net for net in allow)


# ---- reading -------------------------------------------------------------------------------------------------
STATEMENT_TIMEOUT_MS = 1000
OPERATOR_STATUSES = ("offline", "paused", "ready", "in_call", "wrap_up", "lunch")
CALL_STATES = ("reserved", "dialing", "ringing", "talking")

_SQL = {
    "attempts": "SELECT campaign_id, outcome, attempts FROM attempt_outcome_count ORDER BY 1, 2",
    "campaigns": "SELECT id, name, active FROM campaign ORDER BY id",
    # the live attempts, through the partial unique index on live attempts
    "calls": """
SELECT server, CASE WHEN answered_at IS NOT NULL THEN 'talking' WHEN ringing_at IS NOT NULL THEN 'ringing'
                    WHEN dial_started_at IS NOT NULL THEN 'dialing' ELSE 'reserved' END, count(*)
  FROM attempt WHERE ended_at IS NULL GROUP BY 1, 2""",
    "operators": "SELECT server, status, count(*) FROM operator GROUP BY 1, 2",
    "engines": """
SELECT name, ok, reconnects_today, write_backlog, detail, host, pid,
       extract(epoch FROM clock_timestamp() - updated_at)::float8 FROM component_health WHERE component = 'engine'""",
    "agi": """
SELECT name, ok, extract(epoch FROM clock_timestamp() - updated_at)::float8
  FROM component_health WHERE component = 'agi'""",
    "commands": """
SELECT (SELECT count(*) FROM engine_command WHERE done_at IS NULL),
       coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at FROM engine_command WHERE done_at IS NULL
                                                         ORDER BY id LIMIT 1))::float8, 0)""",
    "outbox": """
SELECT connection_id, count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed'),
       coalesce(extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE state = 'pending'))::float8, 0)
  FROM crm_outbox WHERE state IN ('pending', 'failed') GROUP BY 1""",
    "crm": "SELECT id, unreachable_since IS NULL FROM crm_connection WHERE enabled ORDER BY id",
    "jobs": """
SELECT job, runs, failures, consecutive_failures, extract(epoch FROM last_success_at)::float8 FROM job_run""",
}
# recordings arrived with issue 18: read only where its table exists
_RECORDINGS_SQL = """
SELECT state, count(*), coalesce(sum(bytes), 0) FROM call_recording GROUP BY 1"""
_LIVE_SQL = """
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(at))::float8, 0)
  FROM live_event WHERE id > %s OR id = ANY(%s::bigint[])"""


def read(db, live_cursor=None, recordings_path: Path | None = None) -> dict:
    """Everything `families` turns into series, in one read-only transaction whose statements give up after
    STATEMENT_TIMEOUT_MS. `live_cursor`: this web process's live-event cursor (web/live.py `Hub.cursor`)."""
    snap: dict = {}
    with db.atomic():
        db.execute_sql("SET TRANSACTION READ ONLY")
        db.execute_sql(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        for key, sql in _SQL.items():
            snap[key] = [tuple(r) for r in db.execute_sql(sql).fetchall()]
        if db.execute_sql("SELECT to_regclass('call_recording') IS NOT NULL").fetchone()[0]:
            snap["recordings"] = [tuple(r) for r in db.execute_sql(_RECORDINGS_SQL).fetchall()]
        if live_cursor is not None:
            snap["live"] = tuple(db.execute_sql(_LIVE_SQL, (live_cursor.high, sorted(live_cursor.gaps))).fetchone())
    if recordings_path is not None and "recordings" in snap:
        try:
            usage = shutil.disk_usage(recordings_path)
            snap["recordings_disk"] = (usage.total, usage.free)
        except OSError:  # not made yet (nothing recorded): nothing to say about its disk
            pass
    return snap


# ---- series --------------------------------------------------------------------------------------------------
def families(snap: dict | None, error: str | None = None) -> list:
    """prometheus_client metric families from a snapshot (`read`); `error`: the database did not answer, and
    then only `dialer_database_up 0` says so (a scrape that fails outright would hide the reason)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    up = GaugeMetricFamily("dialer_database_up", "1 when PostgreSQL answered this scrape's reads")
    up.add_metric([], 0 if error else 1)
    if error or snap is None:
        return [up]
    out: list = [up]

    def gauge(name, doc, labels, rows):
        g = GaugeMetricFamily(name, doc, labels=labels)
        for *values, v in rows:
            g.add_metric([str(x) for x in values], float(v))
        out.append(g)

    def counter(name, doc, labels, rows):
        c = CounterMetricFamily(name, doc, labels=labels)
        for *values, v in rows:
            c.add_metric([str(x) for x in values], float(v))
        out.append(c)

    counter("dialer_attempts", "Attempts ended, by campaign and outcome (SPEC A2)", ["campaign", "outcome"],
            snap["attempts"])
    gauge("dialer_campaign_info", "Each campaign's name (join on `campaign`); 1 when active, else 0",
          ["campaign", "name"], [(cid, name, 1 if active else 0) for cid, name, active in snap["campaigns"]])
    calls = {(srv, st): n for srv, st, n in snap["calls"]}
    servers = sorted({srv for srv, _ in calls} | {r[0] for r in snap["engines"]})
    gauge("dialer_calls", "Live attempts by Asterisk server and state (reserved, dialing, ringing, talking)",
          ["server", "state"], [(srv, st, calls.get((srv, st), 0)) for srv in servers for st in CALL_STATES])
    ops = {}
    for srv, status, n in snap["operators"]:
        ops[status] = ops.get(status, 0) + n
    gauge("dialer_operators", "Operators by status", ["status"], [(st, ops.get(st, 0)) for st in OPERATOR_STATUSES])
    out.extend(_engine_families(snap["engines"]))
    gauge("dialer_agi_listening", "1 when the AGI server listens (its last report)", ["address"],
          [(name, 1 if ok else 0) for name, ok, _ in snap["agi"]])
    pending, oldest = snap["commands"][0]
    gauge("dialer_engine_commands_waiting", "Engine commands not handled yet", [], [(pending,)])
    gauge("dialer_engine_command_lag_seconds", "Age of the oldest engine command not handled yet", [], [(oldest,)])
    if "live" in snap:
        waiting, lag = snap["live"]
        gauge("dialer_live_events_waiting", "Live events committed that this web process has not received", [],
              [(waiting,)])
        gauge("dialer_live_event_lag_seconds", "Age of the oldest live event this web process has not received",
              [], [(lag,)])
    gauge("dialer_crm_outbox_pending", "Wrap-up results waiting to be delivered to the CRM", ["connection"],
          [(cid, pend) for cid, pend, _, _ in snap["outbox"]])
    gauge("dialer_crm_outbox_failed", "Wrap-up results the CRM refused for good", ["connection"],
          [(cid, failed) for cid, _, failed, _ in snap["outbox"]])
    gauge("dialer_crm_outbox_oldest_seconds", "Age of the oldest wrap-up result waiting for the CRM", ["connection"],
          [(cid, age) for cid, _, _, age in snap["outbox"]])
    gauge("dialer_crm_reachable", "1 when the CRM connection answered last time", ["connection"],
          [(cid, 1 if ok else 0) for cid, ok in snap["crm"]])
    counter("dialer_job_runs", "Runs of each background job", ["job"], [(j, runs) for j, runs, *_ in snap["jobs"]])
    counter("dialer_job_failures", "Failed runs of each background job", ["job"],
            [(j, failures) for j, _, failures, *_ in snap["jobs"]])
    gauge("dialer_job_consecutive_failures", "Failed runs in a row of each background job", ["job"],
          [(j, c) for j, _, _, c, _ in snap["jobs"]])
    gauge("dialer_job_last_success_timestamp_seconds", "When each background job last succeeded (Unix time)",
          ["job"], [(j, t) for j, _, _, _, t in snap["jobs"] if t is not None])
    if "recordings" in snap:
        gauge("dialer_recordings", "Call recordings by state", ["state"], [(st, n) for st, n, _ in snap["recordings"]])
        gauge("dialer_recordings_bytes", "Bytes of the stored call recordings", [],
              [(sum(b for st, _, b in snap["recordings"] if st == "stored"),)])
        if "recordings_disk" in snap:
            total, free = snap["recordings_disk"]
            gauge("dialer_recordings_disk_free_bytes", "Free space on the recordings' file system", [], [(free,)])
            gauge("dialer_recordings_disk_size_bytes", "Size of the recordings' file system", [], [(total,)])
    return out


def _engine_families(engines: list[tuple]) -> list:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    connected = GaugeMetricFamily("dialer_ari_connected", "1 while the engine's ARI websocket to the server is up",
                                  labels=["server"])
    reconnects = CounterMetricFamily("dialer_ari_reconnects", "ARI websocket reconnects since the engine started",
                                     labels=["server"])
    age = GaugeMetricFamily("dialer_engine_report_age_seconds", "Age of the engine's last report on the server",
                            labels=["server"])
    backlog = GaugeMetricFamily("dialer_engine_write_backlog", "Engine database writes waiting (retried until "
                                "committed) for the server's operators", labels=["server"])
    hists = {name: HistogramMetricFamily(f"dialer_{name}_seconds", HELP[name], labels=["server"]) for name in BUCKETS}
    cpu = CounterMetricFamily("dialer_engine_cpu_seconds", "CPU time of the engine process", labels=["host", "pid"])
    rss = GaugeMetricFamily("dialer_engine_resident_memory_bytes", "Resident memory of the engine process",
                            labels=["host", "pid"])
    processes = {}
    for name, ok, _today, write_backlog, detail, host, pid, age_s in engines:
        detail = detail or {}
        connected.add_metric([name], 1 if ok else 0)
        reconnects.add_metric([name], float(detail.get("reconnects_total", 0)))
        age.add_metric([name], age_s)
        backlog.add_metric([name], write_backlog)
        for key, family in hists.items():
            h = histogram_from_wire(key, (detail.get("figures") or {}).get(key))
            if h is not None:
                family.add_metric([name], h.buckets(), h.total)
        if "cpu_s" in detail:  # one engine process reports each of its servers: its own figures once
            processes[(host, str(pid))] = (detail["cpu_s"], detail.get("rss_bytes", 0))
    for (host, pid), (cpu_s, rss_b) in sorted(processes.items()):
        cpu.add_metric([host, pid], float(cpu_s))
        rss.add_metric([host, pid], float(rss_b))
    return [connected, reconnects, age, backlog, *hists.values(), cpu, rss]


def exposition(snap: dict | None, error: str | None = None) -> bytes:
    """The text format (`text/plain; version=0.0.4`) of the families, plus this web process's own CPU and memory."""
    from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

    registry = CollectorRegistry()
    ProcessCollector(registry=registry, namespace="dialer_web")
    registry.register(_Families(families(snap, error)))
    return generate_latest(registry)


class _Families:
    def __init__(self, items: list):
        self.items = items

    def collect(self):
        return iter(self.items)
