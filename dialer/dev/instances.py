"""Run the sandbox's Asterisk instances: pbx (the dialer's), sim (the outside world) and, for an installation
with two Asterisk servers, pbx2 (a second dialer's Asterisk beside pbx, on ports derived from pbx's).

Both share the cached sid root. Each instance's directories live inside the root under
/srv/dialer/<slug of state_dir>/<name>/, so a demo and a test run (different state dirs) never
share a control socket, astdb or logs. Pid and stdout log live in state_dir/asterisk/.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from dialer.asterisk import render
from dialer.dev import sandbox
from dialer.settings import Settings

log = logging.getLogger(__name__)

NAMES = ("pbx", "sim", "pbx2")
PBX_NAMES = ("pbx", "pbx2")  # the dialer's Asterisk servers (their names in the settings' asterisk_servers)
# pbx2's ports when not set: pbx's plus these, clear of the other ports a state directory's runs use
PBX2_SIP_OFFSET, PBX2_HTTP_OFFSET = 1000, 5
SUBDIRS = ("etc", "run", "log", "spool", "db", "keys")
BOOT_TIMEOUT_S = 60.0


def _check(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown Asterisk instance {name!r}; expected one of {NAMES}")


def pbx_ports(settings: Settings, name: str = "pbx") -> tuple[int, int]:
    """(SIP, ARI/HTTP) port of one of the dialer's Asterisk instances."""
    if name == "pbx2":
        return (settings.pbx2_sip_port or settings.pbx_sip_port + PBX2_SIP_OFFSET,
                settings.pbx2_http_port or settings.pbx_http_port + PBX2_HTTP_OFFSET)
    return settings.pbx_sip_port, settings.pbx_http_port


def as_pbx(settings: Settings, name: str) -> Settings:
    """The settings as that instance's own templates see them (its ports in place of pbx's)."""
    sip, http = pbx_ports(settings, name)
    return replace(settings, pbx_sip_port=sip, pbx_http_port=http)


def server_entry(settings: Settings, name: str = "pbx") -> dict:
    """The instance as one of the engine's `asterisk_servers` (dialer.settings.AsteriskServer's fields)."""
    return {"name": name, "ari_url": f"http://127.0.0.1:{pbx_ports(settings, name)[1]}/ari",
            "ari_password": settings.ari_password}


def two_servers(settings: Settings) -> str:
    """DIALER_ASTERISK_SERVERS for an engine driving pbx and pbx2."""
    return json.dumps([server_entry(settings, "pbx"), server_entry(settings, "pbx2")])


def slug(state_dir: Path) -> str:
    """Readable and collision-free: '/a-b' and '/a/b' must not share an instance."""
    text = str(Path(state_dir).resolve())
    readable = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[-40:] or "root"
    return f"{readable}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def instance_dirs(settings: Settings, name: str) -> dict[str, str]:
    """The instance's directories as Asterisk sees them (inside the chroot)."""
    base = f"/srv/dialer/{slug(settings.state_dir)}/{name}"
    return {sub: f"{base}/{sub}" for sub in SUBDIRS}


def host_path(settings: Settings, inner: str) -> Path:
    return Path(settings.asterisk_root) / inner.lstrip("/")


def _run_dir(settings: Settings) -> Path:
    d = Path(settings.state_dir) / "asterisk"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _pid_file(settings: Settings, name: str) -> Path:
    return _run_dir(settings) / f"{name}.pid"


def _conf(settings: Settings, name: str) -> str:
    return instance_dirs(settings, name)["etc"] + "/asterisk.conf"


def _pid(settings: Settings, name: str) -> int | None:
    """The running instance's pid, checked against /proc so a reused pid is not mistaken for it."""
    try:
        pid = int(_pid_file(settings, name).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if _conf(settings, name).encode() in cmdline else None


def running(settings: Settings, name: str) -> bool:
    return _pid(settings, name) is not None


def rx(settings: Settings, name: str, command: str, timeout: float = 15.0) -> str:
    """Run one CLI command on the instance (asterisk -rx) and return its output."""
    _check(name)
    cmd = ["chroot", str(settings.asterisk_root), "asterisk", "-C", _conf(settings, name),
           "-rx", command]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "Unable to connect to remote asterisk" in proc.stdout:
        raise RuntimeError(f"{name}: `{command}` failed: {(proc.stdout + proc.stderr).strip()}")
    return proc.stdout


def _ari_get(settings: Settings, path: str, timeout: float = 3.0, name: str = "pbx"):
    url = f"http://127.0.0.1:{pbx_ports(settings, name)[1]}/ari/{path.lstrip('/')}"
    token = base64.b64encode(f"dialer:{settings.ari_password}".encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def ari_get(settings: Settings, path: str, name: str = "pbx"):
    """GET one ARI resource of a pbx instance (tests: which channels are where)."""
    return _ari_get(settings, path, name=name)


def _healthy(settings: Settings, name: str) -> bool:
    try:
        rx(settings, name, "core waitfullybooted", timeout=5)
        if name in PBX_NAMES:
            _ari_get(settings, "asterisk/info", name=name)
        return True
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError):
        return False


def _load_phones(settings: Settings) -> list[tuple[str, str]]:
    path = _run_dir(settings) / "sim-phones.json"
    return [tuple(p) for p in json.loads(path.read_text())] if path.exists() else []


def _load_phone_servers(settings: Settings) -> dict[str, str]:
    path = _run_dir(settings) / "sim-phone-servers.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _phone_ports(settings: Settings, servers: dict[str, str]) -> dict[str, int]:
    """The SIP port each phone registers to: its server's (pbx's unless the phone belongs to pbx2)."""
    return {login: pbx_ports(settings, server)[0] for login, server in servers.items() if server in PBX_NAMES}


def _render(settings: Settings, name: str) -> None:
    dirs = instance_dirs(settings, name)
    for inner in dirs.values():
        host_path(settings, inner).mkdir(parents=True, exist_ok=True)
    # ARI recordings go to <spool>/recording, which a packaged Asterisk has and Asterisk itself does not create
    host_path(settings, dirs["spool"]).joinpath("recording").mkdir(exist_ok=True)
    etc = host_path(settings, dirs["etc"])
    if name in PBX_NAMES:
        render.render_pbx(as_pbx(settings, name), etc, dirs, name=name)
    else:
        render.render_sim(settings, etc, dirs, _load_phones(settings),
                          ports=_phone_ports(settings, _load_phone_servers(settings)))


def start(settings: Settings, name: str) -> dict:
    """Render the config and start the instance; nothing to do if it already runs and is healthy."""
    _check(name)
    if _pid(settings, name) and _healthy(settings, name):
        log.info("%s already running (pid %s)", name, _pid(settings, name))
        return status(settings, name)
    if _pid(settings, name):
        log.warning("%s runs but is not healthy: restarting it", name)
        stop(settings, name)
    sandbox.ensure_root(settings)
    _render(settings, name)
    if name in PBX_NAMES and not _pid(settings, "sim"):
        # The registrations pbx remembers are the sim's phones; with no sim running they are stale
        # (an earlier sim's line tokens), and calls to them would fail. While the sim runs, pbx keeps
        # them across its own restart, as a production Asterisk does.
        host_path(settings, instance_dirs(settings, name)["db"]).joinpath("astdb.sqlite3").unlink(missing_ok=True)
    logfile = _run_dir(settings) / f"{name}.log"
    cmd = ["chroot", str(settings.asterisk_root), "asterisk", "-C", _conf(settings, name), "-f"]
    with open(logfile, "ab") as out:
        # Own process group: stop() can kill Asterisk and anything it spawned, and a Ctrl-C in
        # the shell that started us does not take the instance down.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    _pid_file(settings, name).write_text(str(proc.pid))
    log.info("started %s (pid %d), log %s", name, proc.pid, logfile)
    try:
        _wait_healthy(settings, name, proc)
    except TimeoutError:
        stop(settings, name)  # do not leave a half-started instance holding the ports
        raise
    return status(settings, name)


def _wait_healthy(settings: Settings, name: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} while starting; see "
                               f"{_run_dir(settings) / (name + '.log')}")
        if _healthy(settings, name):
            log.info("%s fully booted", name)
            return
        time.sleep(0.2)
    raise TimeoutError(f"{name} did not boot within {BOOT_TIMEOUT_S:.0f} s")


def stop(settings: Settings, name: str, timeout: float = 10.0) -> None:
    """`core stop now`, then kill the process group if Asterisk is still there."""
    _check(name)
    pid = _pid(settings, name)
    if pid is None:
        _pid_file(settings, name).unlink(missing_ok=True)
        return
    try:
        rx(settings, name, "core stop now", timeout=5)
    except (RuntimeError, subprocess.TimeoutExpired):
        log.warning("%s did not take `core stop now`", name)
    if not _wait_exit(pid, timeout):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            if _wait_exit(pid, 5.0):
                break
    _pid_file(settings, name).unlink(missing_ok=True)
    log.info("stopped %s (pid %d)", name, pid)


def kill(settings: Settings, name: str) -> None:
    """SIGKILL the instance, as a server that fails (power, kernel) rather than one shut down: it tells nobody."""
    _check(name)
    pid = _pid(settings, name)
    if pid is not None:
        os.killpg(pid, signal.SIGKILL)
        _wait_exit(pid, 10.0)
    _pid_file(settings, name).unlink(missing_ok=True)
    log.info("killed %s (pid %s)", name, pid)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child (started in this process), else just probe.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def status(settings: Settings, name: str) -> dict:
    _check(name)
    pid = _pid(settings, name)
    info = {"name": name, "pid": pid, "running": pid is not None, "healthy": False,
            "etc": str(host_path(settings, instance_dirs(settings, name)["etc"])),
            "log": str(_run_dir(settings) / f"{name}.log")}
    if pid:
        info["healthy"] = _healthy(settings, name)
        if info["healthy"]:
            info["uptime"] = rx(settings, name, "core show uptime seconds").strip()
    if name in PBX_NAMES:
        sip, http = pbx_ports(settings, name)
        info["ari"] = f"http://127.0.0.1:{http}/ari"
        info["sip"] = f"127.0.0.1:{sip}"
    else:
        info["trunk"] = f"{settings.sim_trunk_address}:5060"
        info["phones"] = f"{settings.sim_phones_address}:5060"
    return info


def sync_sim_phones(settings: Settings, phones: list[tuple[str, str]], servers: dict[str, str] | None = None) -> None:
    """Make the sim's softphones exactly `phones` [(login, password)]; reload the sim if it runs. `servers`: the
    Asterisk server each phone registers to, by login (pbx when not named).

    pbx is never reloaded: its devices come from PostgreSQL on each request (SPEC A4). Unchanged phones are
    only asked to register again, since pbx may have lost their registrations (a test empties the tables)."""
    phones = [(str(login), str(password)) for login, password in phones]
    path = _run_dir(settings) / "sim-phones.json"
    before = _load_phones(settings)
    servers = {login: server for login, server in (servers or {}).items() if server != "pbx"}
    same_servers = servers == _load_phone_servers(settings)
    running = _pid(settings, "sim") is not None
    if path.exists() and before == phones and same_servers and running:
        if phones:
            rx(settings, "sim", "pjsip send register *all")
        log.info("sim phones unchanged (%d): registering again", len(phones))
        return
    path.write_text(json.dumps(phones))
    (_run_dir(settings) / "sim-phone-servers.json").write_text(json.dumps(servers))
    ports = _phone_ports(settings, servers)
    etc = host_path(settings, instance_dirs(settings, "sim")["etc"])
    if not etc.exists() or not running:
        return  # start() renders everything, phones included
    leaving = [p for p in before if p[0] not in {login for login, _ in phones}]
    if leaving:
        # First drop only their registrations, so the sim unregisters them from pbx (with the
        # auth still there to answer the challenge): pbx must not keep a dead contact online.
        render.render_sim_phones(settings, etc, phones, leaving, ports=ports)
        _reload_pjsip(settings)
        time.sleep(0.5)
    render.render_sim_phones(settings, etc, phones, ports=ports)
    _reload_pjsip(settings)
    if phones:  # the phones kept from before register again too: pbx may have lost their registrations
        rx(settings, "sim", "pjsip send register *all")
    log.info("sim phones synced (%d, %d removed) and the sim's PJSIP reloaded", len(phones), len(leaving))


def _reload_pjsip(settings: Settings) -> None:
    # res_pjsip applies endpoints and auths; the registrations module starts/stops clients.
    rx(settings, "sim", "module reload res_pjsip.so")
    rx(settings, "sim", "module reload res_pjsip_outbound_registration.so")


_CONTACT_LINE = re.compile(r"^\s*Contact:\s+([^/\s]+)/\S+\s+\S+\s+(\S+)", re.M)


def registered(settings: Settings, name: str = "pbx") -> set[str]:
    """The AORs (device logins) pbx has a usable registration for, as Asterisk itself reads them (its contacts
    live in PostgreSQL: an emptied table is seen at once, where the ARI endpoint state would lag)."""
    out = rx(settings, name, "pjsip show contacts")
    return {aor for aor, status in _CONTACT_LINE.findall(out) if status != "Unavail"}


def wait_registered(settings: Settings, logins, timeout: float = 30.0, name: str = "pbx") -> None:
    """Wait until pbx (or `name`) has a registration of every login."""
    pending = set(logins)
    deadline = time.monotonic() + timeout
    while pending:
        try:
            pending -= registered(settings, name)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        if not pending:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"not registered after {timeout:.0f} s: {sorted(pending)}")
        time.sleep(0.1)
    log.info("registered: %s", ", ".join(map(str, logins)))
