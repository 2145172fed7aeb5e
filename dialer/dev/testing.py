"""Support shared by the end-to-end tests and the benchmarks: an isolated environment (own state
directory and ports), the engine as a killable process, operators with simulated softphones."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dialer.settings import REPO_ROOT

# ports and sim addresses of their own, so tests and benchmarks run beside a demo
ISOLATED = {"DIALER_DB_PORT": "5434", "DIALER_PBX_SIP_PORT": "5070", "DIALER_PBX_HTTP_PORT": "8188",
            "DIALER_WEB_PORT": "8180", "DIALER_AGI_PORT": "4574",
            "DIALER_SIM_TRUNK_ADDRESS": "127.0.0.22", "DIALER_SIM_PHONES_ADDRESS": "127.0.0.23"}


# benchmarks have their own as well: they run while the tests' cluster is still up, and beside a demo
BENCHMARK = {"DIALER_DB_PORT": "5435", "DIALER_PBX_SIP_PORT": "5071", "DIALER_PBX_HTTP_PORT": "8189",
             "DIALER_WEB_PORT": "8181", "DIALER_AGI_PORT": "4575", "DIALER_SIM_HTTP_PORT": "8190",
             "DIALER_FAKE_CRM_PORT": "8191",
             "DIALER_SIM_TRUNK_ADDRESS": "127.0.0.32", "DIALER_SIM_PHONES_ADDRESS": "127.0.0.33"}


def isolate(state_dir: str, ports: dict[str, str] = ISOLATED) -> None:
    """Point this process and its children at their own state directory and ports (not the demo's)."""
    from dialer import settings

    os.environ["DIALER_STATE_DIR"] = state_dir
    for key, value in ports.items():
        os.environ.setdefault(key, value)  # a second isolated run beside this one sets its own
    settings.init_secrets(Path(state_dir))


def poll(predicate, timeout: float, interval: float = 0.05):
    """The predicate's first true value, or None at the deadline (the caller reports what is still wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll for an expected state instead of sleeping a fixed time."""
    value = poll(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")
    return value


def start_telephony(settings, names=("pbx", "sim")):
    """A benchmark's world: its PostgreSQL (stopped at exit), the schema, pbx and sim (and pbx2 when named); the
    pooled database."""
    from dialer import db as dbm
    from dialer import migrate, pg

    from . import instances, sandbox

    pg.start_until_exit(settings)
    migrate.migrate(settings)
    sandbox.ensure_root(settings)
    for name in names:
        instances.start(settings, name)
    return dbm.connect(settings)


class EngineProcess:
    """`dialer run --only engine agi` in a subprocess, so it can be killed like in production."""

    def __init__(self, settings, log_path):
        self.settings = settings
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "engine", "agi"],
                                     cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                     start_new_session=True)
        until(lambda: "reconciled pbx" in open(self.log_path).read().split("=== start")[-1], 30, 0.1,
              "the engine to connect to ARI")

    def mark(self):
        with open(self.log_path, "a") as f:
            f.write(f"=== start {time.time()}\n")

    def kill(self, sig=signal.SIGKILL, timeout=15):
        if not self.proc or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = subprocess.run([str(Path(sys.executable).parent / "py-spy"), "dump", "--pid", str(self.proc.pid)],
                                    capture_output=True, text=True).stdout if sig != signal.SIGKILL else ""
            with open(self.log_path, "a") as f:
                f.write(f"=== did not stop within {timeout}s of signal {sig}\n{stacks}\n")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)
            raise AssertionError(f"the engine did not stop within {timeout}s of signal {sig}; see {self.log_path}")

    def restart(self):
        self.mark()
        self.start()


def hang_up_everything(settings):
    from dialer.dev import instances

    for name in ("pbx", "sim", "pbx2"):
        if name != "pbx2" or instances.running(settings, name):
            instances.rx(settings, name, "channel request hangup all")


def make_operators(settings, campaign_id: int, count: int, prefix="op", server: str = "pbx") -> list[dict]:
    """Operators with SIP devices in the pool of the campaign, each with a registered simulated softphone; their
    devices (and so the operators) on `server`, whose sandbox instance their phones register to."""
    from dialer.dev import instances
    from dialer.models import SipDevice
    from dialer.services import operators

    created = [operators.create_operator(f"Оператор {i}", f"{prefix}{i}", f"secret-{prefix}-{i}", [campaign_id])
               for i in range(1, count + 1)]
    if server != "pbx":  # the operator's server follows the device's (sql/021_asterisk_servers.sql)
        SipDevice.update(server=server).where(SipDevice.login.in_([o["login"] for o in created])).execute()
    phones = operators.sip_devices()
    servers = {d.login: d.server for d in SipDevice.select(SipDevice.login, SipDevice.server)}
    instances.sync_sim_phones(settings, phones, servers)
    for name in sorted(set(servers.values())):
        on_it = [login for login, _ in phones if servers.get(login) == name]
        instances.wait_registered(settings, on_it, timeout=60, name=name if name in instances.PBX_NAMES else "pbx")
    return [{**o, "server": server} for o in created]


def add_leads(campaign_id: int, phones: list[str]) -> None:
    from dialer.services import leads

    rows = "\n".join(f"L{p},+{p},Клиент {i}" for i, p in enumerate(phones, 1))
    report = leads.import_csv(campaign_id, "external_id,phone,name\n" + rows)
    assert not report.errors, report.errors


def command_all(operator_ids, command) -> None:
    """Queue every operator's command (a payload of dialer.commands, or a kind without fields such as
    "ready") in one transaction: they reach the engine at the same moment."""
    from dialer import commands
    from dialer.models import EngineCommand

    payload = commands.parse(command, {}) if isinstance(command, str) else command
    with EngineCommand._meta.database.atomic():
        for oid in operator_ids:
            commands.enqueue(oid, payload)
