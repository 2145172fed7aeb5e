"""A PostgreSQL restart (`pg_ctl restart -m fast` of the test cluster) under the pool, the web, the jobs and the
engine's writes: nothing is lost, and each recovers by itself.

These tests restart or stop the test run's cluster: each leaves it running."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from types import SimpleNamespace

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app import store
from ari_app.classifier import AttemptFacts
from ari_app.engine import Engine
from ari_app.runtime import OperatorActor
from ari_app.writes import NotTried
from dialer import pg as cluster
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign


def at_once(db, n: int, work) -> list:
    """`work()` in n threads, each holding its own pooled connection at the same moment."""
    barrier = threading.Barrier(n, timeout=20)
    results: list = []

    def one():
        try:
            with db.connection_context():
                barrier.wait()
                results.append(work())
        except Exception as e:  # noqa: BLE001 — the test reports what failed
            results.append(e)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def backend_pid(db):
    return db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def test_after_a_restart_the_pool_hands_out_only_live_connections(settings, db):
    before = at_once(db, 6, lambda: backend_pid(db))  # six pooled connections, idle afterwards
    assert all(isinstance(p, int) for p in before), before
    cluster.restart(settings)
    after = at_once(db, 6, lambda: backend_pid(db))
    assert all(isinstance(p, int) for p in after), after  # not one request failed on a dead connection
    assert not set(after) & set(before)


def test_a_connection_cut_while_in_use_is_not_put_back(settings, db):
    with db.connection_context():
        backend_pid(db)
        cluster.restart(settings)
        with pytest.raises(Exception, match="closed|terminat"):
            backend_pid(db)
    assert at_once(db, 3, lambda: isinstance(backend_pid(db), int)) == [True] * 3


def test_the_web_answers_the_first_requests_after_a_restart(settings, client):
    assert client.get("/api/health/web").status_code == 200
    assert client.get("/api/campaigns").status_code == 200
    cluster.restart(settings)
    assert client.get("/api/health/web").json() == {"status": "ok", "database": "ok"}
    assert client.get("/api/campaigns").status_code == 200


async def test_the_jobs_run_again_after_a_restart(settings, db, caplog):
    from dialer.jobs import JobRuns, start_jobs

    runs = JobRuns()
    scheduler = start_jobs(settings, db, runs)
    try:
        await until_async(lambda: "claim-queue" in runs.ok_at, 10, "the claim queue job to run")
        await asyncio.to_thread(stopped_for, settings, 2.5)  # down across two runs of the job (each second)
        assert "claim-queue" in runs.failing
        back = time.monotonic()
        await until_async(lambda: runs.ok_at["claim-queue"] > back, 10, "the job to run again")
        assert "claim-queue" not in runs.failing
    finally:
        scheduler.shutdown(wait=False)
    assert caplog.text.count("job claim-queue: database unavailable") == 1  # once per outage, no tracebacks


# ---- the engine's writes ---------------------------------------------------------------------------------
def answered_call(db):
    c = Campaign.create(name="c", max_attempts=3, retry_delay_s=3600, wrap_up_limit_s=1)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900300{i:04d}"} for i in range(2)]).execute()
    op = Operator.create(name="o", login="o1", sip_password="secret-123", status="in_call")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    a = store.claim(db, op.id, "pbx", "t", time.time(), None)
    for field in ("dial_started_at", "answered_at", "bridged_at"):
        store.record(db, a.attempt_id, field, time.time())
    return op, a


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # the engine's ARI client, unused here
async def test_engine_writes_made_while_postgresql_is_down_are_written_in_order_when_it_is_back(settings, db, caplog):
    caplog.set_level(logging.INFO, logger="ari_app.writes")
    op, a = answered_call(db)
    db.close()  # this thread's connection back to the pool, as every unit of work in the dialer does
    engine = Engine(settings, db)
    engine.loop = asyncio.get_running_loop()
    state = om.OperatorState(op.id, status=om.READY)  # where the machine is after the wrap-up's time limit
    actor = engine.actors[op.id] = OperatorActor(engine, state, "o1", SimpleNamespace(name="pbx"), retry_s=(0.05, 0.5))
    writer = asyncio.create_task(actor.run_writes())
    try:
        await asyncio.to_thread(cluster.stop, settings)
        try:
            now = time.time()
            written = [
                actor.write(store.end_attempt, ev.EndAttempt(a.attempt_id, "ANSWERED",
                                                             AttemptFacts(cause=16, answered=True, bridged=True), now)),
                actor.write(store.finish_wrap_up, op.id, ev.FinishWrapUp(a.attempt_id, "wrap_up_timeout", "", None,
                                                                         now + 1)),
                actor.write(store.save_operator, op.id, om.READY, None, "opb1", True),
            ]
            await until_async(lambda: actor.writes.failing_since is not None, 10, "the first write to fail")
            assert engine.write_backlog() == 3
            with pytest.raises(NotTried):  # a claim is not even sent: the operator is told "nothing now"
                await actor.writes.ask(store.claim, op.id, "pbx", "t", now, None)
            await asyncio.sleep(0.5)  # let the back-off retry a few times while the server is down
            assert not any(w.done() for w in written)
        finally:
            await asyncio.to_thread(cluster.start, settings)
        await asyncio.wait_for(asyncio.gather(*written), 20)
        await until_async(lambda: engine.write_backlog() == 0, 5, "the status said once more")
        attempt = Attempt.get_by_id(a.attempt_id)
        assert (attempt.outcome, attempt.wrap_up_result) == ("ANSWERED", "wrap_up_timeout")
        assert Lead.get_by_id(attempt.lead_id).state == "done"
        assert (Operator.get_by_id(op.id).status, Operator.get_by_id(op.id).attempt_id) == ("ready", None)
        assert await actor.writes.ask(store.claim, op.id, "pbx", "t", time.time(), None) is not None
        assert "database unavailable" in caplog.text and "database back after" in caplog.text
    finally:
        writer.cancel()


# ---- helpers ---------------------------------------------------------------------------------------------
def stopped_for(settings, seconds: float):
    cluster.stop(settings)
    try:
        time.sleep(seconds)  # the outage itself (in a thread): the jobs must ride it out
    finally:
        cluster.start(settings)


async def until_async(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(0.05)
