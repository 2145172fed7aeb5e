"""The sandbox's two Asterisk instances, for real: pbx's config renders, pbx and sim boot, every
PSTN number pattern of the sim ends with its hangup cause as the engine sees it over ARI, and a
softphone defined only in PostgreSQL (realtime views) registers and auto-answers.

Runs with its own state dir, ports and sim addresses, so a demo or the rest of the suite can run
beside it.
"""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from dialer.asterisk import render
from dialer.dev import instances, sandbox
from dialer.settings import load

pytestmark = pytest.mark.e2e

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 5499
APP = "sandbox-test"
PHONES = [("op1", "secret-1"), ("op2", "secret-2")]


def _settings(state_dir: Path):
    env = dict(os.environ)
    env.update(DIALER_STATE_DIR=str(state_dir), DIALER_ARI_PASSWORD="ari-test-secret",
               DIALER_ASTERISK_PASSWORD="ast-test-secret", DIALER_DB_HOST="127.0.0.1",
               DIALER_DB_PORT=str(PG_PORT), DIALER_DB_NAME="dialer_sandbox",
               DIALER_PBX_SIP_PORT="5072", DIALER_PBX_HTTP_PORT="8192", DIALER_SIM_HTTP_PORT="8193",
               DIALER_SIM_TRUNK_ADDRESS="127.0.0.32", DIALER_SIM_PHONES_ADDRESS="127.0.0.33",
               DIALER_AGI_PORT="4579")
    env.pop("DIALER_CONFIG", None)
    return load(env)


def _can_run_sandbox() -> str | None:
    if os.geteuid() != 0:
        return "the Asterisk sandbox needs root (chroot)"
    if not sandbox.asterisk_version(load().asterisk_root) and not shutil.which("debootstrap"):
        return "no Asterisk root and no debootstrap to build one"
    return None


def test_render_pbx(tmp_path):
    s = _settings(tmp_path / "state")
    prod = render.render_pbx(s, tmp_path / "etc-asterisk")
    names = {p.name for p in prod}
    assert {"pjsip.conf", "ari.conf", "http.conf", "sorcery.conf", "extconfig.conf",
            "res_pgsql.conf", "modules.conf", "extensions.conf", "dialer.conf"} <= names
    assert "asterisk.conf" not in names  # production keeps the admin's own
    dirs = instances.instance_dirs(s, "pbx")
    sandboxed = {p.name: p.read_text() for p in render.render_pbx(s, tmp_path / "inst", dirs)}
    assert dirs["run"] in sandboxed["asterisk.conf"]
    for name, text in sandboxed.items():
        for bad in ("{{", "{%", "None", "Undefined"):
            assert bad not in text, (name, bad)
    assert "bindport = 8192" in sandboxed["http.conf"]
    assert "password = ari-test-secret" in sandboxed["ari.conf"]
    assert "bind = 127.0.0.1:5072" in sandboxed["pjsip.conf"]
    assert "match = 127.0.0.32" in sandboxed["pjsip.conf"]
    assert "endpoint = realtime,ps_endpoints" in sandboxed["sorcery.conf"]
    assert "dbport = 5499" in sandboxed["res_pgsql.conf"]
    assert "#include dialer.conf" in sandboxed["extensions.conf"]
    assert "agi://127.0.0.1:%d/operator_ready" % s.agi_port in sandboxed["dialer.conf"]


def test_render_sim_many_phones(tmp_path):
    s = _settings(tmp_path / "state")
    phones = [(f"op{i}", f"pw{i}") for i in range(100)]
    started = time.monotonic()
    written = render.render_sim(s, tmp_path / "sim", instances.instance_dirs(s, "sim"), phones)
    assert time.monotonic() - started < 1.0
    text = (tmp_path / "sim" / "pjsip_phones.conf").read_text()
    assert text.count("type = registration") == 100
    assert "client_uri = sip:op99@127.0.0.1:5072" in text
    assert {p.name for p in written} >= {"pjsip.conf", "extensions.conf", "asterisk.conf"}


# --- a throwaway PostgreSQL with the three realtime views and the contacts table Asterisk reads and writes

VIEWS_SQL = """
CREATE ROLE asterisk LOGIN PASSWORD 'ast-test-secret';
CREATE TABLE operator (login text PRIMARY KEY, sip_password text NOT NULL, name text);
INSERT INTO operator VALUES ('op1', 'secret-1', 'Operator One'), ('op2', 'secret-2', 'Operator Two');
CREATE VIEW ps_endpoints AS SELECT login AS id, 'transport-udp'::text AS transport, login AS aors,
  login AS auth, 'dialer-operators'::text AS context, 'all'::text AS disallow,
  'ulaw,alaw'::text AS allow, 'no'::text AS direct_media, 'yes'::text AS rtp_symmetric,
  'yes'::text AS force_rport, 'yes'::text AS rewrite_contact,
  format('"%s" <%s>', name, login) AS callerid FROM operator;
CREATE VIEW ps_auths AS SELECT login AS id, 'userpass'::text AS auth_type, login AS username,
  sip_password AS password FROM operator;
CREATE VIEW ps_aors AS SELECT login AS id, 1 AS max_contacts, 'yes'::text AS remove_existing,
  0 AS qualify_frequency, NULL::text AS contact FROM operator;
GRANT SELECT ON ps_endpoints, ps_auths, ps_aors TO asterisk;
CREATE TABLE ps_contacts (id text PRIMARY KEY, uri text, expiration_time text, qualify_frequency integer,
  outbound_proxy text, path text, user_agent text, qualify_timeout double precision, reg_server text,
  authenticate_qualify text, via_addr text, via_port integer, call_id text, endpoint text, prune_on_boot text,
  qualify_2xx_only text);
GRANT SELECT, INSERT, UPDATE, DELETE ON ps_contacts TO asterisk;
"""


def _as_postgres(*cmd, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, cmd)], check=True,
                          capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def scratch_pg():
    if not (PG_BIN / "initdb").exists():
        yield None
        return
    data = Path(tempfile.mkdtemp(prefix="dialer-sandbox-pg-"))
    shutil.chown(data, "postgres", "postgres")
    _as_postgres(PG_BIN / "initdb", "-D", data / "data", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-U", "postgres")
    _as_postgres(PG_BIN / "pg_ctl", "-D", data / "data", "-l", data / "log", "-w", "start", "-o",
                 f"-p {PG_PORT} -k {data} -c listen_addresses=127.0.0.1")
    try:
        _as_postgres(PG_BIN / "createdb", "-h", data, "-p", PG_PORT, "dialer_sandbox")
        _as_postgres(Path("/usr/bin/psql"), "-h", data, "-p", PG_PORT, "-v", "ON_ERROR_STOP=1",
                     "-d", "dialer_sandbox", "-c", VIEWS_SQL)
        yield data
    finally:
        _as_postgres(PG_BIN / "pg_ctl", "-D", data / "data", "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def running(tmp_path_factory, scratch_pg):
    reason = _can_run_sandbox()
    if reason:
        pytest.skip(reason)
    s = _settings(tmp_path_factory.mktemp("asterisk-state"))
    instances.sync_sim_phones(s, PHONES if scratch_pg else [])
    try:
        for name in ("pbx", "sim"):
            assert instances.start(s, name)["healthy"]
        yield s, scratch_pg
    finally:
        for name in ("sim", "pbx"):
            instances.stop(s, name)
        shutil.rmtree(instances.host_path(s, str(Path(instances.instance_dirs(s, "pbx")["etc"])
                                              .parents[1])), ignore_errors=True)


def test_start_is_idempotent(running):
    s, _ = running
    before = instances.status(s, "pbx")
    assert before["healthy"] and before["pid"]
    assert instances.start(s, "pbx")["pid"] == before["pid"]
    out = instances.rx(s, "sim", "pjsip show transports")
    assert "127.0.0.32:5060" in out and "127.0.0.33:5060" in out


async def _ari(s, session, method, path, port=None, **params):
    url = f"http://127.0.0.1:{port or s.pbx_http_port}/ari/{path}"
    async with session.request(method, url, params=params.pop("query", None), **params) as resp:
        assert resp.status < 300, (resp.status, await resp.text())
        return await resp.json() if resp.content_type == "application/json" else None


class Events:
    """The app's ARI websocket: who entered Stasis (was answered) and each channel's final cause."""

    def __init__(self, ws):
        self.ws, self.started, self.causes, self.answered_s = ws, set(), {}, {}

    async def until(self, ids, deadline_s=20.0):
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while not set(ids) <= set(self.causes):
            msg = await asyncio.wait_for(self.ws.receive_json(), timeout=end - loop.time())
            chan = msg.get("channel", {}).get("id")
            if msg["type"] == "StasisStart":
                self.started.add(chan)
                self.answered_s[chan] = loop.time()
            elif msg["type"] == "ChannelDestroyed":
                self.causes[chan] = msg["cause"]
                if chan in self.answered_s:
                    self.answered_s[chan] = loop.time() - self.answered_s[chan]


async def _connect(s):
    auth = "Basic " + base64.b64encode(f"dialer:{s.ari_password}".encode()).decode()
    session = aiohttp.ClientSession(headers={"Authorization": auth})
    ws = await session.ws_connect(f"ws://127.0.0.1:{s.pbx_http_port}/ari/events?app={APP}")
    return session, ws


# number -> (cause pbx sees in ChannelDestroyed, answered?)
PSTN = {
    "79000021234": (16, True),   # talks 2 s, then hangs up
    "79001000000": (17, False),  # busy
    "79002000000": (21, False),  # rejected with 603
    "79003000000": (19, False),  # rings past our 3 s timeout
    "79004000000": (34, False),  # 503
    "79005000000": (16, True),   # answers and hangs up at once
    "79990000000": (1, False),   # no such number: 404
}


async def test_pstn_patterns_end_with_their_cause(running):
    s, _ = running
    session, ws = await _connect(s)
    try:
        events, ids = Events(ws), {}
        for number in PSTN:
            chan = await _ari(s, session, "POST", "channels", query={
                "endpoint": f"PJSIP/{number}@carrier", "app": APP, "timeout": "3"})
            ids[chan["id"]] = number
        await events.until(ids)
        got = {ids[c]: (events.causes[c], c in events.started) for c in ids}
        assert got == PSTN
        talk = {ids[c]: t for c, t in events.answered_s.items()}
        assert 1.8 < talk["79000021234"] < 3.5  # talked its 2 seconds
        assert talk["79005000000"] < 1.5
    finally:
        await ws.close()
        await session.close()


async def test_realtime_phone_registers_and_auto_answers(running):
    s, pg = running
    if pg is None:
        pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
    await asyncio.to_thread(instances.wait_registered, s, [login for login, _ in PHONES], 20)
    endpoints = instances.rx(s, "pbx", "pjsip show endpoints")
    assert "op1" in endpoints and "op2" in endpoints
    session, ws = await _connect(s)
    try:
        events = Events(ws)
        auto = await _ari(s, session, "POST", "channels", query={
            "endpoint": "PJSIP/op1", "app": APP, "timeout": "5"}, json={"variables": {
                "PJSIP_HEADER(add,Call-Info)": "<sip:dialer>;answer-after=0",
                "PJSIP_HEADER(add,Alert-Info)": "<http://dialer>;info=alert-autoanswer"}})
        manual = await _ari(s, session, "POST", "channels", query={
            "endpoint": "PJSIP/op2", "app": APP, "timeout": "2"})
        with pytest.raises(asyncio.TimeoutError):
            await events.until([auto["id"], manual["id"]], deadline_s=3.5)
        assert auto["id"] in events.started  # answered by itself
        assert events.causes.get(manual["id"]) == 19  # rang, nobody clicked
        await _ari(s, session, "DELETE", f"channels/{auto['id']}")
        await events.until([auto["id"]])
    finally:
        await ws.close()
        await session.close()
    log = (Path(s.state_dir) / "asterisk" / "pbx.log").read_text()
    assert "ERROR" not in log and "WARNING" not in log, log


async def test_operator_feature_code_reaches_fastagi(running):
    """*72 dialled on a phone (realtime endpoint) runs the dialer-operators dialplan: FastAGI."""
    s, pg = running
    if pg is None:
        pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
    requests = asyncio.Queue()

    async def fake_agi(reader, writer):
        env = {}
        while (line := (await reader.readline()).decode().strip()):
            key, _, value = line.partition(": ")
            env[key] = value
        await requests.put(env)
        writer.close()  # no commands: the dialplan goes on (beep, hang up)

    server = await asyncio.start_server(fake_agi, "127.0.0.1", s.agi_port)
    session, ws = await _connect(s)  # the sim's ARI shares the password
    try:
        await _ari(s, session, "POST", "channels", port=s.sim_http_port, query={
            "endpoint": "PJSIP/phone-op1/sip:*72@127.0.0.1:%d" % s.pbx_sip_port,
            "context": "pstn", "extension": "79003000000", "priority": "1", "timeout": "5"})
        env = await asyncio.wait_for(requests.get(), 10)
    finally:
        server.close()
        await ws.close()
        await session.close()
    assert env["agi_network_script"] == "operator_pause"
    assert env["agi_callerid"] == "op1"  # the realtime endpoint's callerid
    assert env["agi_context"] == "dialer-operators"


def test_sync_sim_phones_reloads_registrations(running):
    s, pg = running
    if pg is None:
        pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
    _as_postgres(Path("/usr/bin/psql"), "-h", pg, "-p", PG_PORT, "-d", "dialer_sandbox", "-c",
                 "INSERT INTO operator VALUES ('op3', 'secret-3', 'Operator Three')")
    instances.sync_sim_phones(s, [("op1", "secret-1"), ("op3", "secret-3")])
    instances.wait_registered(s, ["op1", "op3"], 20)
    registrations = instances.rx(s, "sim", "pjsip show registrations")
    assert "phone-op3" in registrations and "phone-op2" not in registrations
    contacts = instances.rx(s, "pbx", "pjsip show contacts")
    assert "op2/" not in contacts  # the sim unregistered the removed phone
    instances.sync_sim_phones(s, [("op1", "secret-1"), ("op3", "secret-3")])  # no change: no-op
