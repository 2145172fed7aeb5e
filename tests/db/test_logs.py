"""Structured logs (issue 19): one call followed through the engine, the web and the jobs by its attempt id in JSON
lines; the web's request id; text on a terminal."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from datetime import datetime, timezone

import pytest

from ari_app import events as ev
from dialer import logs
from dialer.crm import outbox, store as crm_store, sync
from dialer.db import run
from dialer.dev.fake_leadvertex import fill
from dialer.dev.testing import until
from dialer.models import Attempt, Lead, Operator

from .engine_support import engine_actor
from .crm_support import T0, adapters, fake, lv_connection, map_statuses, operator_for  # noqa: F401 (fixtures)

ON_FIXTURES_LOOP = pytest.mark.asyncio(loop_scope="session")  # the fake CRM runs on the fixtures' loop


@pytest.fixture
def json_lines():
    """The process's logging as `dialer run` sets it up with log_format=json, into a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    assert logs.configure("json", logging.INFO, stream=buffer, force=True) == "json"
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


@ON_FIXTURES_LOOP
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # the engine's ARI client, unused
async def test_one_call_is_followed_through_engine_web_and_jobs_by_its_attempt_id(settings, db, fake, adapters,
                                                                                   json_lines):
    from litestar.testing import TestClient

    from dialer.jobs import JobRuns
    from web.app import create_app

    # an order from the CRM, called and answered: the client is talking to the operator
    fill(fake.shops["shop-a"], 1, "1")
    conn = await run(db, crm_store.connection, db, (await run(db, lv_connection, db, fake.port))["id"])
    await sync.pull(db, conn["id"], adapters(conn), T0)
    await run(db, map_statuses, db, conn["id"])
    await sync.pull(db, conn["id"], adapters(conn), T0)
    op = await run(db, operator_for, conn["campaign_id"], "lg1")

    def talking():
        lead = Lead.get(Lead.campaign == conn["campaign_id"])
        now = datetime.now(timezone.utc)
        a = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=op, phone=lead.phone, server="pbx",
                           client_channel="at-log-1", reserved_at=now, dial_started_at=now, answered_at=now,
                           bridged_at=now)
        Lead.update(state="in_progress").where(Lead.id == lead.id).execute()
        Operator.update(status="in_call", attempt_id=a.id, leg_channel="op-log-1").where(Operator.id == op).execute()
        return a.id

    attempt = await run(db, talking)

    # the engine: the client hangs up, the operator wraps up
    async with engine_actor(settings, db, op) as actor:
        actor.post(ev.ClientGone(attempt, 16, at=time.time()))
        await asyncio.to_thread(until, lambda: Attempt.get_by_id(attempt).ended_at is not None, 10, 0.05,
                                "the attempt to end")
        actor.post(ev.WrapUpSubmitted(attempt, "accepted", "клиент согласен", at=time.time()))
        await asyncio.to_thread(until, lambda: Attempt.get_by_id(attempt).wrap_up_at is not None, 10, 0.05,
                                "the wrap-up to be written")

    # the web: someone looks the call up
    with TestClient(create_app(settings, db)) as client:
        answer = client.get(f"/api/attempts/{attempt}", headers={"Authorization": f"Bearer {settings.api_token}",
                                                                  "X-Request-ID": "req-trace-42"})
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == "req-trace-42"

    # the jobs: the result goes to the CRM, in the job's own wrapper as `dialer run` schedules it
    await JobRuns().guard("crm-outbox", lambda: outbox.deliver_due(db, adapters))()
    assert (await run(db, outbox.delivery_state, db, attempt))["state"] == "delivered"

    lines = json_lines()
    call = [line for line in lines if line.get("attempt") == attempt]  # jq 'select(.attempt == N)'
    parts = {line["part"] for line in call}
    assert {"engine", "web", "jobs"} <= parts, [(x["part"], x["message"]) for x in lines]
    engine_end = [x for x in call if x["part"] == "engine" and "ended ANSWERED" in x["message"]]
    assert engine_end and engine_end[0]["operator"] == op and engine_end[0]["channel"] == "at-log-1"
    [web] = [x for x in call if x["part"] == "web"]
    assert web["request"] == "req-trace-42" and web["user"] == "api-token" and web["message"].startswith("GET ")
    jobs = [x for x in call if x["part"] == "jobs"]
    assert any("delivered to the CRM" in x["message"] and x["job"] == "crm-outbox" for x in jobs)
    # nothing of this call leaks into another operator's or request's lines
    assert all(x.get("attempt") in (None, attempt) for x in lines)
    for line in lines:  # every line is one JSON object with the same keys first
        assert {"time", "level", "part", "logger", "message"} <= line.keys()


def test_each_request_gets_its_own_id_and_a_bad_one_is_replaced(settings, db, json_lines):
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(settings, db)) as client:
        first = client.get("/api/campaigns", headers={"Authorization": f"Bearer {settings.api_token}"})
        second = client.get("/api/campaigns", headers={"Authorization": f"Bearer {settings.api_token}",
                                                       "X-Request-ID": "bad id\"with quotes"})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert len(set(ids)) == 2 and all(len(i) == 16 and i.isalnum() for i in ids)
    web = [x for x in json_lines() if x["logger"] == "web.access"]
    assert [x["request"] for x in web] == ids


@pytest.mark.parametrize("fmt,tty,chosen", [("auto", True, "text"), ("auto", False, "json"),
                                            ("json", True, "json"), ("text", False, "text")])
def test_text_stays_the_default_on_a_terminal(fmt, tty, chosen):
    stream = io.StringIO()
    stream.isatty = lambda: tty  # type: ignore[method-assign]
    assert logs.chosen(fmt, stream) == chosen


def test_a_misspelt_format_is_refused():
    with pytest.raises(ValueError, match="log_format"):
        logs.chosen("yaml")


def test_the_text_format_shows_the_ids_and_json_escapes_what_it_must():
    record = logging.LogRecord("ari_app.runtime", logging.INFO, __file__, 1, "operator %s: «готов»\n%s", (3, '"x"'),
                               None)
    with logs.bound(operator=3, attempt=17):
        record.ids = logs.current()
    text = logs.TextFormatter().format(record)
    assert "INFO  [operator=3 attempt=17] ari_app.runtime: operator 3: «готов»" in text
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == 'operator 3: «готов»\n"x"' and parsed["part"] == "engine"
    assert parsed["attempt"] == 17 and parsed["operator"] == 3
    assert logs.current() == {}  # unbound after the block


@ON_FIXTURES_LOOP
async def test_ids_bound_in_one_task_never_reach_another():
    seen = {}

    async def actor(oid):
        logs.bind(operator=oid)
        await asyncio.sleep(0)
        seen[oid] = logs.current()["operator"]

    await asyncio.gather(*(asyncio.create_task(actor(i)) for i in range(5)))
    assert seen == {i: i for i in range(5)}
    assert "operator" not in logs.current()
