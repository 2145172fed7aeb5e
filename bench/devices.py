"""SIP devices live in Asterisk (SPEC A4), measured on real pbx + sim + PostgreSQL.

    python -m bench.devices [--devices 100] [--at-once 500] [--cpm 100] [--window 60]

1. register_ms_p50 / _p95 (goal p95 ≤ 1000): a device saved (the service's transaction committed) → its first
   successful REGISTER (pbx's 200 OK), over `--devices` devices created one after another. The softphone here is
   a minimal SIP client of this module that sends its REGISTER the moment it has the password (digest challenge
   and answer, as any softphone): the sim's Asterisk would add a fixed second of its own before every
   REGISTER it is asked for (res_pjsip_outbound_registration schedules it 1 s out), which is not the dialer's.
2. all_online_s: `--at-once` devices saved, a headless Chromium (Debian's) signed in on «Телефония» showing them
   all offline, then their softphones start at once → the time until the open page shows every one online
   (live events, no reload). The phones are the sim Asterisk's outbound registrations (the same softphones the
   tests use, generated into its pjsip config): a real SIP stack that registers hundreds at once with digest auth,
   answers pbx's qualify OPTIONS and picks up calls, which the last part needs; nothing to install.
   all_registered_s is the same up to the last registration row written by pbx (the page's lag is the rest).
3. realtime_cpu_ratio (goal ≤ 1.2): pbx's CPU seconds (user + system, all threads) over a `--window` of calls at
   `--cpm` calls a minute to the registered devices (each call: endpoint, AOR and contacts looked up, the phone
   answers on the auto-answer header, the dialplan ends the call), with those devices read from PostgreSQL on
   every request (this installation's configuration), divided by the same with the devices written into
   pjsip.conf (static; generated from the very views Asterisk reads, so the configuration is identical).
   Registrations stay in PostgreSQL in both (the pages read them). Each run restarts pbx and has every phone
   register again (a phone left behind by the burst is asked once more: register_resent); the window opens when
   pbx's SIP queues are empty and a whole qualify round has passed, so it measures the steady state under calls,
   not the restart. The qualify checks of all devices (every 15 s) fall into both windows.
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import psutil  # noqa: E402

from dialer import settings as settings_mod  # noqa: E402
from dialer.dev import instances  # noqa: E402
from dialer.dev.testing import hang_up_everything, poll, until  # noqa: E402
from dialer.settings import REPO_ROOT  # noqa: E402

from .progressive import machine  # noqa: E402
from .stats import pct  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ADMIN = ("bench-devices@dialer.local", "bench-devices-password-1")
AUTO_ANSWER = {"PJSIP_HEADER(add,Call-Info)": "<sip:dialer>;answer-after=0"}


# ---- a softphone that registers at once ------------------------------------------------------------------
class Registrar:
    """REGISTER with digest authentication over UDP, one transaction at a time (RFC 3261/2617/7616)."""

    def __init__(self, host: str, port: int):
        self.server = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.local_port = self.sock.getsockname()[1]
        self.cseq = 0

    def close(self):
        self.sock.close()

    def register(self, login: str, password: str, expires: int = 60, timeout: float = 5.0) -> int:
        """The final status code of REGISTER (200 when registered), answering one digest challenge."""
        call_id, tag = f"{random.getrandbits(64):x}@bench", f"{random.getrandbits(32):x}"
        status, headers = self._transaction(login, call_id, tag, expires, None, timeout)
        if status in (401, 407):
            challenge = _pick_challenge(headers.get("www-authenticate", []) + headers.get("proxy-authenticate", []))
            if challenge is None:
                return status
            auth = _digest(challenge, login, password, "REGISTER", self._uri())
            status, _ = self._transaction(login, call_id, tag, expires,
                                          ("Authorization" if status == 401 else "Proxy-Authorization", auth), timeout)
        return status

    def _uri(self) -> str:
        return f"sip:{self.server[0]}:{self.server[1]}"

    def _transaction(self, login, call_id, tag, expires, auth, timeout):
        self.cseq += 1
        branch = f"z9hG4bK{random.getrandbits(64):x}"
        host, port = self.server
        lines = [f"REGISTER {self._uri()} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.local_port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{login}@{host}:{port}>;tag={tag}",
                 f"To: <sip:{login}@{host}:{port}>",
                 f"Call-ID: {call_id}",
                 f"CSeq: {self.cseq} REGISTER",
                 f"Contact: <sip:{login}@127.0.0.1:{self.local_port}>",
                 f"Expires: {expires}",
                 "User-Agent: DialerBench"]
        if auth:
            lines.append(f"{auth[0]}: {auth[1]}")
        self.sock.sendto(("\r\n".join(lines + ["Content-Length: 0", "", ""])).encode(), self.server)
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data, sender = self.sock.recvfrom(65535)
            status, headers = _parse(data.decode(errors="replace"))
            if status is None:  # a request to us (pbx's qualify OPTIONS): not this transaction
                self._answer(data.decode(errors="replace"), sender)
                continue
            if branch in " ".join(headers.get("via", [])) and status >= 200:
                return status, headers

    def _answer(self, request: str, sender) -> None:
        """200 OK to pbx's OPTIONS, so a registered contact of this client stays reachable meanwhile."""
        head = request.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
        if head and head[0].startswith("OPTIONS "):
            self.sock.sendto(("\r\n".join(["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""])).encode(), sender)


def _parse(message: str) -> tuple[int | None, dict[str, list[str]]]:
    head = message.split("\r\n\r\n", 1)[0].split("\r\n")
    m = re.match(r"SIP/2\.0 (\d{3})", head[0]) if head else None
    headers: dict[str, list[str]] = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return (int(m.group(1)) if m else None), headers


def _pick_challenge(values: list[str]) -> dict | None:
    """The first Digest challenge whose algorithm this client speaks (Asterisk may offer SHA-256 and MD5)."""
    for value in values:
        if not value.lower().startswith("digest"):
            continue
        params = {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', value[6:])}
        if params.get("algorithm", "MD5").upper() in ("MD5", "SHA-256"):
            return params
    return None


def _digest(ch: dict, user: str, password: str, method: str, uri: str) -> str:
    algorithm = ch.get("algorithm", "MD5").upper()
    h = (lambda s: hashlib.md5(s.encode()).hexdigest()) if algorithm == "MD5" else \
        (lambda s: hashlib.sha256(s.encode()).hexdigest())
    ha1, ha2 = h(f"{user}:{ch['realm']}:{password}"), h(f"{method}:{uri}")
    realm, nonce = ch["realm"], ch["nonce"]
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', f"algorithm={algorithm}"]
    if "auth" in [q.strip() for q in ch.get("qop", "").split(",")]:
        cnonce, nc = f"{random.getrandbits(64):x}", "00000001"
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts += [f'response="{response}"', "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
        parts.append(f'response="{response}"')
    if "opaque" in ch:
        parts.append(f'opaque="{ch["opaque"]}"')
    return "Digest " + ", ".join(parts)


# ---- the world -------------------------------------------------------------------------------------------
def clean(db) -> None:
    """No devices, operators or registrations (ps_contacts locked first: pbx writes it and its trigger reads the
    rest, so a TRUNCATE racing a refresh would deadlock)."""
    with db.atomic():
        db.execute_sql("LOCK TABLE ps_contacts IN ACCESS EXCLUSIVE MODE")
        db.execute_sql("TRUNCATE ps_contacts, sip_device, alert, attempt_event, engine_command, attempt, "
                       "operator_campaign, operator RESTART IDENTITY CASCADE")


def register_in_turn(settings, db, count: int) -> list[float]:
    """Part 1: save → first successful REGISTER, one device after another."""
    from dialer.services import devices

    phone = Registrar("127.0.0.1", settings.pbx_sip_port)
    took, made = [], []
    try:
        for i in range(count):
            with db.connection_context():
                device = devices.create_device(f"bench-reg{i:03d}", seat=f"Место {i + 1}")
            saved = time.monotonic()
            status = phone.register(device["login"], device["password"])
            if status != 200:
                raise AssertionError(f"{device['login']}: REGISTER answered {status}")
            took.append((time.monotonic() - saved) * 1000)
            made.append(device)
        for device in made:  # unregistered properly, then gone, so pbx stops qualifying them
            phone.register(device["login"], device["password"], expires=0)
    finally:
        phone.close()
    with db.connection_context():
        for device in made:
            devices.delete_device(device["id"])
    return took


def start_web(settings):
    log = open(settings.state_dir / "bench-devices-web.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "web"], cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)

    def listening():
        try:
            socket.create_connection((settings.web_host, settings.web_port), 0.2).close()
            return True
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the web process exited; see {log.name}")
            return False
    until(listening, 30, 0.1, "the web process to listen")
    return proc


def all_at_once(settings, db, count: int) -> dict:
    """Part 2: `count` softphones start at once; how soon the open «Телефония» page shows them all online."""
    from playwright.sync_api import sync_playwright

    from dialer.services import devices, users

    with db.connection_context():
        users.seed_roles()
        users.ensure_user(ADMIN[0], "Бенчмарк", ADMIN[1], "admin")
        phones = []
        for i in range(count):
            device = devices.create_device(f"bench-m{i:03d}", seat=f"Стол {i + 1}")
            phones.append((device["login"], device["password"]))
    web = start_web(settings)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(base_url=f"http://{settings.web_host}:{settings.web_port}",
                                    viewport={"width": 1366, "height": 768})
            page.goto("/login")
            page.fill("input[name=email]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto("/telephony")
            page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
            rows = "document.querySelectorAll('tr[data-reg-login^=\"bench-m\"]')"
            shown = page.evaluate(f"{rows}.length")
            if shown != count:
                raise AssertionError(f"«Телефония» lists {shown} of the {count} devices")
            page.evaluate("window.notReloaded = true")
            started, wall = time.monotonic(), time.time()
            instances.sync_sim_phones(settings, phones)
            page.wait_for_function(
                f"Array.from({rows}).filter(r => r.dataset.online === 'yes').length === {count}",
                timeout=300_000, polling=100)
            all_online = time.monotonic() - started
            if page.evaluate("window.notReloaded") is not True:
                raise AssertionError("the page was reloaded")
            browser.close()
    finally:
        web.terminate()
        web.wait(15)
    with db.connection_context():
        last = db.execute_sql("SELECT extract(epoch FROM max(registered_at)) FROM ps_contacts "
                              "WHERE device_login LIKE 'bench-m%%'").fetchone()[0]
    return {"all_online_s": round(all_online, 2), "all_registered_s": round(float(last) - wall, 2),
            "phones": phones}


# ---- CPU: realtime against static ----------------------------------------------------------------------
def static_devices(db) -> str:
    """pjsip.conf sections of every device, from the views Asterisk reads (the same configuration, static)."""
    out = ["; generated by bench.devices: the devices as static configuration"]
    for view, kind in (("ps_endpoints", "endpoint"), ("ps_auths", "auth"), ("ps_aors", "aor")):
        cur = db.execute_sql(f"SELECT * FROM {view} ORDER BY id")
        names = [c[0] for c in cur.description]
        for row in cur.fetchall():
            values = dict(zip(names, row))
            out.append(f"\n[{values.pop('id')}]\ntype = {kind}")
            out += [f"{k} = {v}" for k, v in values.items() if v is not None]
    return "\n".join(out) + "\n"


def start_pbx(settings, db, static: bool) -> None:
    """pbx restarted with its devices realtime (as installed) or static."""
    render = instances._render

    def rendered(settings_, name):
        render(settings_, name)
        if name != "pbx" or not static:
            return
        etc = instances.host_path(settings_, instances.instance_dirs(settings_, "pbx")["etc"])
        sorcery = (etc / "sorcery.conf").read_text()
        sorcery = re.sub(r"^(endpoint|auth|aor) = realtime,.*\n", "", sorcery, flags=re.M)
        (etc / "sorcery.conf").write_text(sorcery)
        with db.connection_context():
            (etc / "pjsip.conf").write_text((etc / "pjsip.conf").read_text() + static_devices(db))

    instances.stop(settings, "pbx")
    instances._render = rendered
    try:
        instances.start(settings, "pbx")
    finally:
        instances._render = render


def ari_originate(settings, login: str) -> None:
    query = urllib.parse.urlencode({"endpoint": f"PJSIP/{login}", "context": "dialer-operators", "extension": "0",
                                    "priority": 1, "timeout": 10})
    token = base64.b64encode(f"dialer:{settings.ari_password}".encode()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{settings.pbx_http_port}/ari/channels?{query}", method="POST",
                                 data=json.dumps({"variables": AUTO_ANSWER}).encode(),
                                 headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def cpu_window(settings, db, logins: list[str], static: bool, cpm: int, window: float) -> dict:
    start_pbx(settings, db, static)
    sent = time.time()
    instances.rx(settings, "sim", "pjsip send register *all")
    resent = 0
    with db.connection_context():
        while True:  # every phone registered again since the restart (a registration moves its expiry on)
            fresh = lambda: {r[0] for r in db.execute_sql(  # noqa: E731
                "SELECT device_login FROM ps_contacts WHERE device_login LIKE 'bench-m%%' "
                "AND expiration_time::bigint >= %s", (int(sent) + 100,)).fetchall()}
            if poll(lambda: len(fresh()) >= len(logins), 60, 0.5):
                break
            missing = sorted(set(logins) - fresh())
            resent += 1
            if resent > 3:
                raise AssertionError(f"{len(missing)} phones not registered again after a pbx restart: {missing[:5]}")
            for login in missing:  # a phone whose REGISTERs all went unanswered waits out its own back-off
                instances.rx(settings, "sim", f"pjsip send register phone-{login}")
    # the burst is over (the SIP queues empty, retransmissions answered) and a whole qualify round has passed in
    # the steady state before the window opens: it measures lookups under calls, not the restart
    until(lambda: quiet(settings), 120, 1, "pbx's SIP queues to empty")
    poll(lambda: False, 15, 0.5)
    pid = instances._pid(settings, "pbx")
    proc = psutil.Process(pid)
    before = proc.cpu_times()
    queries_before, processed_before = _asterisk_queries(db), _calls_processed(settings)
    started = time.monotonic()
    calls = int(window * cpm / 60)
    failed = 0
    for i in range(calls):
        wait = started + i * 60 / cpm - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            ari_originate(settings, logins[i % len(logins)])
        except OSError:
            failed += 1
    rest = started + window - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    after = proc.cpu_times()
    cpu = (after.user + after.system) - (before.user + before.system)
    hang_up_everything(settings)
    return {"cpu_s": round(cpu, 2), "calls": calls, "failed": failed, "register_resent": resent,
            "phone_calls": _calls_processed(settings) - processed_before,
            "pg_transactions": _asterisk_queries(db) - queries_before}


def quiet(settings, polls: int = 3) -> bool:
    """Nothing waiting in pbx's SIP distributor queues, `polls` times a second apart."""
    for _ in range(polls):
        out = instances.rx(settings, "pbx", "core show taskprocessors like pjsip/distributor")
        if any(int(m) for m in re.findall(r"^pjsip/distributor-\S+\s+\d+\s+(\d+)", out, re.M)):
            return False
        time.sleep(1)
    return True


def _calls_processed(settings) -> int:
    """Calls the sim has taken so far: each call of the window reaches a softphone there."""
    out = instances.rx(settings, "sim", "core show channels count")
    return int(re.search(r"(\d+) calls? processed", out).group(1))


def _asterisk_queries(db) -> int:
    """Transactions committed in the dialer's database so far: during a window only pbx runs any (each realtime
    query and each registration write is one), so the difference counts pbx's."""
    with db.connection_context():
        row = db.execute_sql("SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database "
                             "WHERE datname = current_database()").fetchone()
    return int(row[0])


def measure(settings, db, args) -> dict:
    from dialer.services import devices

    with db.connection_context():
        clean(db)
    instances.sync_sim_phones(settings, [])
    took = register_in_turn(settings, db, args.devices) if args.devices else []
    if args.no_browser:  # the CPU part alone: its phones without the page
        with db.connection_context():
            phones = [(d["login"], d["password"]) for d in
                      (devices.create_device(f"bench-m{i:03d}") for i in range(args.at_once))]
        instances.sync_sim_phones(settings, phones)
        instances.wait_registered(settings, [login for login, _ in phones], 300)
        many = {"phones": phones}
    else:
        many = all_at_once(settings, db, args.at_once)
    logins = [login for login, _ in many.pop("phones")]
    runs = {"realtime": cpu_window(settings, db, logins, False, args.cpm, args.window),
            "static": cpu_window(settings, db, logins, True, args.cpm, args.window)}
    start_pbx(settings, db, False)  # as installed again
    ratio = runs["realtime"]["cpu_s"] / runs["static"]["cpu_s"] if runs["static"]["cpu_s"] else float("nan")
    return {"register_ms_p50": pct(took, 50, 1), "register_ms_p95": pct(took, 95, 1),
            "register_ms_max": round(max(took, default=float("nan")), 1), "register_devices": len(took),
            **many, "devices_at_once": args.at_once,
            "realtime_cpu_s": runs["realtime"]["cpu_s"], "static_cpu_s": runs["static"]["cpu_s"],
            "realtime_cpu_ratio": round(ratio, 3),
            "cpu_window_s": args.window, "calls_per_minute": args.cpm,
            "calls_failed": runs["realtime"]["failed"] + runs["static"]["failed"],
            "calls_reaching_phones": runs["realtime"]["phone_calls"] + runs["static"]["phone_calls"],
            "register_resent": runs["realtime"]["register_resent"] + runs["static"]["register_resent"],
            "pg_transactions_realtime": runs["realtime"]["pg_transactions"],
            "pg_transactions_static": runs["static"]["pg_transactions"],
            "machine": machine()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=100, help="devices created in turn (save → REGISTER)")
    ap.add_argument("--at-once", type=int, default=500, help="devices registering at once")
    ap.add_argument("--cpm", type=int, default=100, help="calls a minute during the CPU windows")
    ap.add_argument("--window", type=float, default=60, help="seconds of each CPU window")
    ap.add_argument("--no-browser", action="store_true", help="the CPU part alone (no all_online_s)")
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings)
    try:
        hang_up_everything(settings)
        result = measure(settings, db, args)
    finally:
        try:
            instances.sync_sim_phones(settings, [])
        finally:
            for name in ("sim", "pbx"):
                instances.stop(settings, name)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
