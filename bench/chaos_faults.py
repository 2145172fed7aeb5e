"""Faults injected into a live call centre — real pbx + sim Asterisk, PostgreSQL, the engine as its own
process, 10 auto-answering operators cycling through short calls by themselves — and the invariants
checked afterwards (bench.chaos_invariants). One implementation for the chaos test tier (tests/chaos)
and for `python -m bench.chaos`, which print the same report.

A fault's report: `recovered_s` (fault end → next client originate), `attempts_lost`, `wrapups_lost`,
`leads_stuck`, `double_dials`, `operators_stuck`, and what they count (`details`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dialer import pg
from dialer.access import Acting
from dialer.errors import Conflict
from dialer.dev.testing import EngineProcess, add_leads, command_all, hang_up_everything, make_operators, poll

from . import chaos_invariants as inv
from .chaos_proxy import AriProxy
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day

OPERATORS = 10
RESULT = "confirmed"  # the campaign's one wrap-up result; a timed-out wrap-up records `wrap_up_timeout`
# mostly answered calls of 2–3 s (each ends in a wrap-up), with busy, rejected, dropped and unanswered mixed in
PHONE_MIX = ["7900002", "7900003", "7900100", "7900002", "7900200", "7900003", "7900500", "7900300"]
RING_TIMEOUT_S = 5
RECOVERY_TIMEOUT_S = 40.0  # every operator called again after the fault, or they count as stuck
SETTLE_TIMEOUT_S = 40.0  # after the operators pause: every call over and every wrap-up written


@dataclass
class Scene:
    settings: object
    db: object  # the peewee database the models are bound to in this process
    engine: EngineProcess
    campaign_id: int
    operators: list[dict]
    proxy: AriProxy | None = None
    stuck_status: dict = dataclasses.field(default_factory=dict)  # operator → status while found stuck

    @property
    def operator_ids(self) -> list[int]:
        return [o["id"] for o in self.operators]

    def snapshot(self) -> inv.Snapshot | None:
        return inv.snapshot(self.settings.dsn)


@dataclass(frozen=True)
class Fault:
    inject: Callable[[Scene], dict]  # returns at least {"fault_end": time.time()}
    wrap_up_limit_s: int = 1
    via_proxy: bool = False  # the engine reaches ARI through AriProxy
    line_down: bool = False  # the operators' lines go down with it: paused until Ready is the contract


# ---- the call centre ----------------------------------------------------------------------------
def open_scene(settings, db, log_path: Path, wrap_up_limit_s: int = 1, via_proxy: bool = False) -> Scene:
    """A campaign whose leads come from a CRM (so every result is owed to the outbox), ten auto-answering
    operators Ready, and the engine running until the call centre is in full swing."""
    from dialer.crm import connections
    from dialer.services import campaigns

    cid = campaigns.create_campaign("Хаос", calling_window=ANY_HOUR, max_attempts=3, retry_delay_s=0, ring_timeout_s=RING_TIMEOUT_S,
                                    wrap_up_limit_s=wrap_up_limit_s, auto_ready=True)["id"]
    campaigns.set_results(cid, [{"code": RESULT, "title": "Подтверждён", "closes_lead": True}])
    add_leads(cid, [f"{PHONE_MIX[i % len(PHONE_MIX)]}{i:04d}" for i in range(400)])
    crm = connections.create_connection(db, {
        "kind": "leadvertex", "campaign_id": cid, "name": f"Хаос {cid}", "token": "chaos",
        "base_url": f"http://127.0.0.1:{settings.fake_crm_port}/chaos/api/admin"})  # never called: no jobs here
    db.execute_sql("UPDATE lead SET crm_connection_id = %s WHERE campaign_id = %s", (crm["id"], cid))
    ops = make_operators(settings, cid, OPERATORS)
    proxy = AriProxy(settings.pbx_http_port) if via_proxy else None
    engine = EngineProcess(settings, log_path)
    engine.mark()
    with _engine_config(settings, proxy):
        engine.start()
    scene = Scene(settings, db, engine, cid, ops, proxy)
    command_all(scene.operator_ids, "ready")
    # in full swing: calls ended, wrap-ups written, and operators in every state
    _until(lambda: (s := scene.snapshot()) and sum(a.wrap_up_at is not None for a in s.attempts) >= 3
           and len(s.live) >= 3, 60, "the call centre to get going")
    return scene


def close_scene(scene: Scene) -> None:
    try:
        scene.engine.kill(signal.SIGTERM)
    finally:
        if scene.proxy:
            scene.proxy.close()
        hang_up_everything(scene.settings)


@contextlib.contextmanager
def _engine_config(settings, proxy: AriProxy | None):
    """The engine started inside reaches ARI through the proxy (its own copy of dialer.json says so)."""
    if proxy is None:
        yield
        return
    config = json.loads(settings.config_file.read_text())
    server = dataclasses.asdict(settings.asterisk_servers[0])
    config["asterisk_servers"] = [{**server, "ari_url": f"http://127.0.0.1:{proxy.port}/ari"}]
    path = settings.state_dir / "chaos-engine.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    old = os.environ.get("DIALER_CONFIG")
    os.environ["DIALER_CONFIG"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DIALER_CONFIG")
        else:
            os.environ["DIALER_CONFIG"] = old


# ---- the faults ---------------------------------------------------------------------------------
def restart_postgresql(scene: Scene) -> dict:
    """`pg_ctl restart -m fast`: every session is cut, the engine's and the web's included."""
    log = scene.settings.pg_dir / "postgresql.log"
    # the server's output goes to its log: a pipe it inherited would keep this call waiting for ever
    with open(scene.settings.state_dir / "chaos-pg_ctl.log", "ab") as out:
        subprocess.run(["runuser", "-u", pg.PG_OWNER, "--", str(pg.PG_BIN / "pg_ctl"), "restart", "-m", "fast",
                        "-w", "-t", "60", "-D", str(pg.data_dir(scene.settings)), "-l", str(log)],
                       check=True, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=90)
    fault_end = time.time()
    forget_connections(scene.db)
    return {"fault_end": fault_end}


def drop_ari_websocket(scene: Scene, hold_s: float = 2.0) -> dict:
    """Cut the engine's ARI event websocket and refuse it for `hold_s`; REST and Asterisk stay up."""
    cut_at = time.time()
    cut = scene.proxy.drop_websockets(hold_s)
    fault_end = cut_at + hold_s
    _until(lambda: time.time() >= fault_end, hold_s + 1, "the websocket outage to pass", interval=0.05)
    # a call being originated at the very moment of the cut is not a blind dial: half a second's grace
    return {"fault_end": fault_end, "websockets_cut": cut, "websockets_refused": scene.proxy.refused,
            "blind_window": (cut_at + 0.5, fault_end)}


def restart_asterisk(scene: Scene) -> dict:
    """Stop and start pbx: every channel dies, the operators' lines with them."""
    from dialer.dev import instances

    instances.stop(scene.settings, "pbx")
    instances.start(scene.settings, "pbx")
    return {"fault_end": time.time()}


def kill_engine_in_wrap_up(scene: Scene) -> dict:
    """SIGKILL the engine while operators are in wrap-up; they submit their wrap-ups (as the panel does)
    while it is down; then it starts again. Each submitted result must be the one recorded."""
    from dialer.services import operators as operator_service

    _until(lambda: (s := scene.snapshot()) and sum(v == "wrap_up" for v in s.operators.values()) >= OPERATORS // 2,
           30, "half the operators in wrap-up")
    scene.engine.kill()
    submitted = {}
    for op in scene.operator_ids:
        try:
            # the operator's own wrap-up, as their panel sends it
            command = operator_service.submit_wrap_up(Acting(op, False), op, RESULT, "отправлено, пока движок лежал")
        except Conflict as e:  # the database still says "in a call": nothing to submit
            if e.code != "operator-not-in-wrap-up":
                raise
            continue
        submitted[command["payload"]["attempt_id"]] = RESULT
    fault_end = time.time()
    scene.engine.restart()
    return {"fault_end": fault_end, "wrapups_submitted_while_down": submitted}


FAULTS: dict[str, Fault] = {
    "db_restart": Fault(restart_postgresql),
    "ari_drop": Fault(drop_ari_websocket, via_proxy=True),
    "asterisk_restart": Fault(restart_asterisk, line_down=True),
    # a longer limit, so operators are still in wrap-up when the engine dies and their submissions count
    "engine_kill_in_wrap_up": Fault(kill_engine_in_wrap_up, wrap_up_limit_s=6),
}


# ---- one fault, end to end ------------------------------------------------------------------------
COUNTS = ("attempts_lost", "wrapups_lost", "leads_stuck", "double_dials", "operators_stuck")


def run_fault(name: str, settings, db, log_path: Path) -> dict:
    """Open the scene, inject the fault, wait for every operator to work again, stop calling, let everything
    settle, and report what the invariants found. The engine is stopped whatever happens."""
    fault = FAULTS[name]
    phases, began = {}, time.monotonic()

    def phase(label):  # where the time goes (the tier must stay fast on two cores)
        nonlocal began
        phases[label], began = round(time.monotonic() - began, 1), time.monotonic()
    scene = open_scene(settings, db, log_path, fault.wrap_up_limit_s, fault.via_proxy)
    try:
        phase("scene")
        info = fault.inject(scene)
        phase("fault")
        stuck = _operators_back(scene, info["fault_end"], fault.line_down)
        recovered = _first_dial_after(scene, info["fault_end"])
        phase("recovery")
        command_all(scene.operator_ids, "pause")  # stop calling: what is live ends, what is owed is written
        final = _settle(scene)
        phase("settle")
        if stuck:
            info["stuck_status"] = {op: scene.stuck_status.get(op) for op in stuck}
    finally:
        close_scene(scene)
    return {"fault": name, "recovered_s": recovered, **_findings(final, stuck, info), "phases_s": phases}


def _operators_back(scene: Scene, since: float, line_down: bool) -> list[int]:
    """The operators not working again after the fault. Where their lines went down, they must be paused
    (or working) once Asterisk has closed every call; then each presses Ready, as they would, and must be
    called again."""
    if not line_down:
        return _recovery(scene, since)
    stuck = _recovery(scene, since, line_down=True)
    _phones_registered(scene)
    ready_at = time.time()
    command_all(scene.operator_ids, "ready")
    return sorted(set(stuck) | set(_recovery(scene, ready_at)))


def _first_dial_after(scene: Scene, since: float) -> float | None:
    """Fault end → the first client originate after it. Every operator may hold a fresh reservation a moment
    before any client is dialled (their offers are still ringing), so the figure waits for that dial."""
    def dialled():
        s = scene.snapshot()
        figure = None if s is None else inv.recovered_s(s, since)
        return None if figure is None else [figure]
    found = _poll(dialled, RECOVERY_TIMEOUT_S)
    return found[0] if found else None


def _findings(final: inv.Snapshot, stuck: list[int], info: dict) -> dict:
    found = inv.losses(final, info.get("wrapups_submitted_while_down"))
    details = {**found.pop("details"), **({"operators_stuck": stuck} if stuck else {})}
    report = {**found, "operators_stuck": len(stuck), "attempts": len(final.attempts),
              "answered": sum(a.outcome == "ANSWERED" for a in final.attempts)}
    if "blind_window" in info:  # no client dialled while nobody could hear its events
        blind = inv.dialled_between(final, *info["blind_window"])
        report["dialled_while_ari_down"] = len(blind)
        details.update({"dialled_while_ari_down": blind} if blind else {})
    report.update({k: (len(v) if isinstance(v, dict) else v) for k, v in info.items()
                   if k not in ("fault_end", "blind_window", "stuck_status")})
    if info.get("stuck_status"):
        details["stuck_status"] = info["stuck_status"]
    return {**report, "details": details}


def problems(report: dict) -> dict:
    """What is wrong in a report: the non-zero counts, and dialling that never resumed (empty: survived)."""
    wrong = {k: report[k] for k in (*COUNTS, "dialled_while_ari_down") if report.get(k)}
    return wrong | ({"recovered_s": None} if report["recovered_s"] is None else {})


def summary(reports: list[dict]) -> dict:
    """The last line of `python -m bench.chaos`: the counts over every fault, and the database restart's
    recovery (its goal: ≤ 5 s)."""
    db_restart = [r["recovered_s"] for r in reports if r["fault"] == "db_restart"]
    return {"faults": len(reports), **{k: sum(r[k] for r in reports) for k in COUNTS},
            "db_restart_recovered_s": db_restart[0] if db_restart else None}


def _phones_registered(scene: Scene) -> None:
    from dialer.dev import instances

    instances.wait_registered(scene.settings, [o["login"] for o in scene.operators], timeout=60)


def _recovery(scene: Scene, since: float, line_down: bool = False) -> list[int]:
    """Wait until every operator works again (or, where the line went down, is paused and no call is left
    live); the operators still stuck at the deadline."""
    last: list = [None]

    def recovered():
        s = scene.snapshot()
        last[0] = None if s is None else inv.operators_stuck(s, since, line_down)
        if last[0]:  # what they were doing, for the report (the final snapshot is taken after the pause)
            scene.stuck_status = {op: s.operators.get(op) for op in last[0]}
        return last[0] == [] and (not line_down or not s.live)
    _poll(recovered, RECOVERY_TIMEOUT_S)
    return list(scene.operator_ids) if last[0] is None else last[0]  # None: PostgreSQL never answered


def _settle(scene: Scene) -> inv.Snapshot:
    """After the pause: wait for every call to end and every wrap-up to be written; the final snapshot."""
    _poll(lambda: (s := scene.snapshot()) and not s.live and not s.unwrapped, SETTLE_TIMEOUT_S)
    return _until(scene.snapshot, 30, "PostgreSQL to answer")


def forget_connections(db) -> None:
    """After a PostgreSQL restart this process's pooled connections are dead, and peewee cannot tell
    until a query fails on one: drop them, the next query opens a fresh one."""
    if not db.is_closed():
        db.manual_close()
    db.close_idle()


def engine_log_problems(log_path: Path, limit: int = 30) -> list[str]:
    """The engine's warnings and errors: the evidence when a fault is not survived."""
    text = Path(log_path).read_text(errors="replace") if Path(log_path).exists() else ""
    lines = [line for line in text.splitlines() if re.search(r"WARNING|ERROR|Traceback|Error:|failed", line)]
    return lines[:limit]


# ---- polling ----------------------------------------------------------------------------------------
def _poll(predicate, timeout: float, interval: float = 0.2):
    """The predicate's first true value, or None at the deadline (the caller reports what is still wrong)."""
    return poll(predicate, timeout, interval)


def _until(predicate, timeout: float, message: str, interval: float = 0.2):
    value = _poll(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")
    return value
