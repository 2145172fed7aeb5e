"""Two Asterisk servers (SPEC A5): pbx and pbx2 of the sandbox, one engine, one PostgreSQL.

Each operator's leg and their clients' calls go through the server of their device; one server stopped mid-calls
pauses its operators with the reason and closes its calls, while the other server's calls go on; started again,
it is reconciled and its operators dial again."""
from __future__ import annotations

import signal

import pytest

from dialer.dev.testing import EngineProcess, add_leads, command_all, hang_up_everything, make_operators, until
from dialer.models import Attempt, Operator
from tests.conftest import TABLES

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pbx2(asterisk):
    """The second server beside the session's pbx and sim; stopped after this module, so no other test pays for it."""
    from dialer.dev import instances

    instances.start(asterisk, "pbx2")
    yield asterisk
    instances.stop(asterisk, "pbx2")


@pytest.fixture
def engine2(pbx2, db, tmp_path, monkeypatch):
    """A clean database and an engine driving both servers."""
    from dialer.dev import instances

    hang_up_everything(pbx2)
    db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    monkeypatch.setenv("DIALER_ASTERISK_SERVERS", instances.two_servers(pbx2))
    proc = EngineProcess(pbx2, tmp_path / "engine.log")
    proc.mark()
    proc.start()
    until(lambda: "reconciled pbx2" in log_of(proc), 30, 0.1, "the engine to connect to pbx2")
    yield proc
    proc.kill(signal.SIGTERM)
    print(open(proc.log_path).read()[-6000:])
    if not instances.running(pbx2, "pbx2"):
        instances.start(pbx2, "pbx2")  # the module's other tests (and its teardown) find it as they left it
    hang_up_everything(pbx2)


def log_of(proc) -> str:
    return open(proc.log_path).read().split("=== start")[-1]


def on(server, **where):
    query = Attempt.select().where(Attempt.server == server)
    for field, value in where.items():
        query = query.where(getattr(Attempt, field).is_null(value is None))
    return list(query)


def channels(settings, server) -> set[str]:
    from dialer.dev import instances

    return {c["id"] for c in instances.ari_get(settings, "channels", name=server)}


def test_calls_on_both_servers_then_one_stopped_mid_calls_and_started_again(engine2):
    from dialer.dev import instances
    from dialer.services import campaigns

    settings = engine2.settings
    cid = campaigns.create_campaign(name="Два сервера", max_attempts=1, retry_delay_s=3600, ring_timeout_s=5,
                                    wrap_up_limit_s=1)["id"]
    add_leads(cid, [f"79000{20:02d}{i:04d}" for i in range(40)])  # each answers and talks 20 s
    ones = make_operators(settings, cid, 2, prefix="one")
    twos = make_operators(settings, cid, 2, prefix="two", server="pbx2")
    assert {o.login: o.server for o in Operator.select()} == {
        "one1": "pbx", "one2": "pbx", "two1": "pbx2", "two2": "pbx2"}
    command_all([o["id"] for o in ones + twos], "ready")

    # calls on both: each operator's client through the operator's own server, their legs there too
    until(lambda: len(on("pbx", bridged_at=1)) >= 2 and len(on("pbx2", bridged_at=1)) >= 2, 30,
          message="two talks on each server")
    by_operator = {o.id: o.server for o in Operator.select()}
    assert all(a.server == by_operator[a.operator_id] for a in Attempt.select())
    two_ids = {o["id"] for o in twos}
    on_pbx2 = channels(settings, "pbx2")
    assert {a.client_channel for a in on("pbx2", bridged_at=1)} <= on_pbx2
    assert {Operator.get_by_id(i).leg_channel for i in two_ids} <= on_pbx2
    assert not on_pbx2 & channels(settings, "pbx")

    # pbx2 stops mid-calls the hard way (SIGKILL: a server that fails tells nobody, no event of its calls comes)
    pbx_talking = {a.id: a.client_channel for a in on("pbx", bridged_at=1, ended_at=None)}
    pbx2_live = [a.id for a in on("pbx2", ended_at=None)]
    assert len(pbx2_live) >= 2 and len(pbx_talking) >= 2
    instances.kill(settings, "pbx2")
    until(lambda: not on("pbx2", ended_at=None), 20, message="the stopped server's calls closed")
    for a in Attempt.select().where(Attempt.id.in_(pbx2_live)):
        # a talk is a talk; a client not yet talking was not reached: closed with the cause and the reason
        assert a.outcome == ("ANSWERED" if a.bridged_at else "ERROR"), (a.id, a.outcome, a.error)
        assert a.hangup_cause == 38 and "pbx2" in a.cause_text, (a.id, a.hangup_cause, a.cause_text)
    until(lambda: {o.status for o in Operator.select().where(Operator.id.in_(two_ids))} == {"paused"}, 10,
          message="pbx2's operators paused")
    until(lambda: open_alerts() == ["asterisk:pbx2"], 15, message="the server found lost")
    reasons = until(lambda: (r := pause_reasons()) and all(r[i] for i in two_ids) and r, 10,
                    message="the reason on pbx2's operators")
    assert all("pbx2" in reasons[i] for i in two_ids), reasons
    assert not any(reasons[o["id"]] for o in ones), reasons
    # ... and pbx's calls go on: none was closed by the other server's loss, they still talk on pbx
    assert set(pbx_talking.values()) <= channels(settings, "pbx")
    assert all(a.ended_at is None or a.hangup_cause == 16 for a in Attempt.select().where(Attempt.id.in_(list(pbx_talking))))

    # started again: reconciled, the alert cleared, and its operators dial again once they press Ready
    instances.start(settings, "pbx2")
    until(lambda: log_of(engine2).count("reconciled pbx2") >= 2, 30, 0.1, "the reconcile of pbx2")
    until(lambda: open_alerts() == [], 10, message="the alert cleared")
    instances.wait_registered(settings, [o["login"] for o in twos], timeout=30, name="pbx2")
    before = {a.id for a in on("pbx2")}
    command_all(list(two_ids), "ready")
    until(lambda: len([a for a in on("pbx2", bridged_at=1) if a.id not in before]) >= 2, 30,
          message="talks on pbx2 again")
    assert not any(pause_reasons().values())
    # pbx's talks of before ended as the clients hung up, not by the loss
    until(lambda: all(a.ended_at for a in Attempt.select().where(Attempt.id.in_(list(pbx_talking)))), 30,
          message="pbx's talks ended by the clients")
    assert {(a.outcome, a.hangup_cause) for a in Attempt.select().where(Attempt.id.in_(list(pbx_talking)))} == {
        ("ANSWERED", 16)}


def engine2_db():
    return Operator._meta.database


def pause_reasons() -> dict[int, str | None]:
    return dict(engine2_db().execute_sql("SELECT id, pause_reason FROM operator").fetchall())


def open_alerts() -> list[str]:
    return [k for (k,) in engine2_db().execute_sql(
        "SELECT object_key FROM alert WHERE kind = 'asterisk_lost' AND cleared_at IS NULL").fetchall()]
