"""`/metrics` (issue 19): Prometheus text that prometheus_client's own parser reads, counters that move by exactly
the calls placed, the engine's figures carried through its health row, and the access rule."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign


def samples(text: str) -> dict:
    """{(sample name, ((label, value), ...)): value} of everything scraped."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(app, client=("127.0.0.1", 40000), headers=None) -> httpx.Response:
    async def get():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client),
                                     base_url="http://dialer") as c:
            return await c.get("/metrics", headers=headers or {})
    return asyncio.run(get())


@pytest.fixture
def app(settings, db):
    from web.app import create_app
    return create_app(settings, db)


def campaign_with_operators(n_leads: int, operators: int = 2):
    c = Campaign.create(name="Подтверждение", max_attempts=3, retry_delay_s=3600, wrap_up_limit_s=1)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900400{i:04d}"}
                      for i in range(n_leads)]).execute()
    ops = []
    for i in range(operators):
        op = Operator.create(name=f"o{i}", login=f"m{i}", sip_password="secret-123", status="ready")
        OperatorCampaign.create(operator=op.id, campaign=c.id)
        ops.append(op)
    return c, ops


def open_attempt(operator_id: int) -> int:
    """An attempt as a claim opens it (the claim itself and its rules are tests/db/test_claim.py's)."""
    lead = Lead.select().where(Lead.state == "new").order_by(Lead.id).first()
    Lead.update(state="in_progress").where(Lead.id == lead.id).execute()
    a = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=operator_id, server="pbx", phone=lead.phone)
    Operator.update(attempt_id=a.id).where(Operator.id == operator_id).execute()
    return a.id


def place_call(db, operator_id: int, outcome: str) -> int:
    """One call as the engine records it: the attempt, its timeline, its end (ari_app/store.py, the engine's SQL)."""
    attempt_id = open_attempt(operator_id)
    store.record(db, attempt_id, "dial_started_at", time.time())
    if outcome == "ANSWERED":
        store.record(db, attempt_id, "answered_at", time.time())
    store.end_attempt(db, ev.EndAttempt(attempt_id, outcome, AttemptFacts(answered=outcome == "ANSWERED"),
                                        time.time()))
    return attempt_id


def test_metrics_parse_and_the_attempt_counters_move_by_exactly_the_calls_placed(db, app):
    c, ops = campaign_with_operators(10)
    place_call(db, ops[0].id, "NO_ANSWER")  # before the first scrape: counted already, not part of the delta
    before = samples(scrape(app).text)
    placed = ["ANSWERED", "NO_ANSWER", "BUSY", "NO_ANSWER", "REJECTED"]
    for i, outcome in enumerate(placed):
        place_call(db, ops[i % 2].id, outcome)
    live = open_attempt(ops[0].id)  # one call ringing, not ended
    store.record(db, live, "dial_started_at", time.time())
    store.record(db, live, "ringing_at", time.time())
    after = samples(scrape(app).text)

    def count(snap, outcome):
        return snap.get(("dialer_attempts_total", (("campaign", str(c.id)), ("outcome", outcome))), 0)

    for outcome in ("ANSWERED", "NO_ANSWER", "BUSY", "REJECTED", "LOST", "ERROR"):
        assert count(after, outcome) - count(before, outcome) == placed.count(outcome), outcome
    assert count(after, "NO_ANSWER") == 3
    assert after[("dialer_calls", (("server", "pbx"), ("state", "ringing")))] == 1
    assert after[("dialer_calls", (("server", "pbx"), ("state", "talking")))] == 0
    assert after[("dialer_campaign_info", (("campaign", str(c.id)), ("name", "Подтверждение")))] == 1
    assert after[("dialer_database_up", ())] == 1


def test_operators_commands_outbox_and_jobs(db, app):
    from dialer.commands import Ready, enqueue

    c, ops = campaign_with_operators(1, operators=3)
    Operator.update(status="paused").where(Operator.id == ops[2].id).execute()
    enqueue(ops[0].id, Ready(source="test"))
    db.execute_sql("UPDATE engine_command SET created_at = now() - interval '42 seconds'")
    db.execute_sql("INSERT INTO job_run (job, runs, failures, consecutive_failures, last_success_at)"
                   " VALUES ('crm-outbox', 7, 2, 1, now())")
    s = samples(scrape(app).text)
    assert s[("dialer_operators", (("status", "ready"),))] == 2
    assert s[("dialer_operators", (("status", "paused"),))] == 1
    assert s[("dialer_operators", (("status", "lunch"),))] == 0
    assert s[("dialer_engine_commands_waiting", ())] == 1
    assert s[("dialer_engine_command_lag_seconds", ())] >= 42
    assert s[("dialer_job_runs_total", (("job", "crm-outbox"),))] == 7
    assert s[("dialer_job_failures_total", (("job", "crm-outbox"),))] == 2


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # the engine's ARI client, unused
async def test_the_engine_figures_reach_metrics_through_its_health_row(settings, db):
    """The engine process's histograms, ARI state and reconnects, written by its reporter, read by the web."""
    from ari_app import operator as om
    from ari_app.engine import Engine
    from ari_app.health import OperatorFigures
    from dialer import metrics

    engine = Engine(settings, db)
    engine.loop = asyncio.get_running_loop()
    actor = type("Actor", (), {})()  # what the reporter reads of an actor
    actor.client = engine.clients["pbx"]
    actor.figures = OperatorFigures()
    actor.writes = type("W", (), {"failing_since": None, "refused": 0, "__len__": lambda self: 0})()
    engine.actors[1] = actor
    t = 1000.0
    actor.figures.stepped(ev.Claimed(5, "at5", at=t), [ev.Dial(5, "at5")], t + 0.004)
    actor.figures.stepped(ev.ClientAnswered(5, at=t + 2), [ev.BridgeClient("at5"),
                                                            ev.Record(5, "answered_at", t + 2)], t + 2)
    actor.figures.stepped(ev.ClientBridged(5, at=t + 2.003), [ev.Record(5, "bridged_at", t + 2.003)], t + 2.003)
    engine.clients["pbx"].reconnects.extend([t, t + 1])
    await engine.health.report()
    await engine.clients["pbx"].close()

    s = samples(metrics.exposition(await asyncio.to_thread(_read, db)).decode())
    pbx = (("server", "pbx"),)
    assert s[("dialer_claim_seconds_count", pbx)] == 1
    assert s[("dialer_claim_seconds_bucket", (("le", "0.005"), ("server", "pbx")))] == 1
    assert s[("dialer_claim_seconds_bucket", (("le", "0.0025"), ("server", "pbx")))] == 0
    assert s[("dialer_answer_to_bridge_seconds_count", pbx)] == 1
    assert s[("dialer_answer_to_bridge_seconds_bucket", (("le", "0.005"), ("server", "pbx")))] == 1
    assert s[("dialer_ari_connected", pbx)] == 0  # never connected in this test
    assert s[("dialer_ari_reconnects_total", pbx)] == 2
    assert s[("dialer_engine_report_age_seconds", pbx)] < 60
    assert any(k[0] == "dialer_engine_resident_memory_bytes" and v > 0 for k, v in s.items())
    assert om  # the machine module the figures observe

    # every series the sample Grafana dashboard draws is one this installation serves
    import json
    import re
    from dialer.settings import REPO_ROOT
    dashboard = json.loads((REPO_ROOT / "docs/grafana-dashboard.json").read_text())
    drawn = {m for p in dashboard["panels"] for target in p["targets"]
             for m in re.findall(r"\bdialer_[a-z_]+", target["expr"])}
    text = metrics.exposition(await asyncio.to_thread(_read, db)).decode()
    families = list(text_string_to_metric_families(text))  # a family is served even before its first sample
    served = {f.name + suffix for f in families for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    assert drawn and drawn <= served, drawn - served


def _read(db):
    from types import SimpleNamespace

    from dialer import metrics
    with db.connection_context():
        # as the web process reads it: its live-event cursor, the recordings' directory
        return metrics.read(db, SimpleNamespace(high=0, gaps=set()), Path("/tmp"))


def test_refused_from_an_address_not_allowed_and_open_with_the_token(settings, db):
    from web.app import create_app

    app = create_app(replace(settings, metrics_allow="10.0.0.0/8", metrics_token="scrape-secret-1"), db)
    assert scrape(app, client=("10.20.30.40", 5000)).status_code == 200
    refused = scrape(app, client=("192.168.1.5", 5000))
    assert refused.status_code == 403 and "dialer_" not in refused.text
    assert scrape(app, client=("192.168.1.5", 5000), headers={"Authorization": "Bearer wrong"}).status_code == 403
    # the installation's API token is not the metrics token: a scraper never holds the keys to the API
    assert scrape(app, client=("192.168.1.5", 5000),
                  headers={"Authorization": f"Bearer {settings.api_token}"}).status_code == 403
    ok = scrape(app, client=("192.168.1.5", 5000), headers={"Authorization": "Bearer scrape-secret-1"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_by_default_only_this_machine_and_no_token(settings, db, app):
    assert scrape(app, client=("127.0.0.1", 5000)).status_code == 200
    assert scrape(app, client=("::1", 5000)).status_code == 200
    assert scrape(app, client=("10.0.0.1", 5000)).status_code == 403
    assert scrape(app, client=("10.0.0.1", 5000), headers={"Authorization": "Bearer "}).status_code == 403


def test_a_database_that_does_not_answer_is_a_series_not_a_failure(settings, db):
    from web.app import create_app

    broken = replace(settings, db_port=1)  # nothing listens there
    from dialer import db as db_mod
    dead = db_mod.connect(broken)
    try:
        r = scrape(create_app(broken, dead))
    finally:
        dead.close_all()
    assert r.status_code == 200
    s = samples(r.text)
    assert s[("dialer_database_up", ())] == 0
    assert ("dialer_attempts_total", ()) not in s
