"""The pull against the fake LeadVertex: batches ≤ 100, idempotent upserts, rejects in the import log,
a status changed in the CRM changes what the dialer does."""
from __future__ import annotations

import pytest

from dialer.crm import store, sync
from dialer.dev.fake_leadvertex import fill, sample_order
from dialer.db import run

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the fake CRM runs on the fixtures' loop

from .crm_support import (T0, adapters, claim_answered, fake, leads_of, lv_connection,  # noqa: F401 (fixtures)
                          map_statuses, operator_for, step)



async def _setup(db, fake, orders=250):
    fill(fake.shops["shop-a"], orders, "1")
    conn = await run(db, lv_connection, db, fake.port)
    await run(db, store.save_statuses, db, conn["id"], await _statuses(fake))
    await run(db, map_statuses, db, conn["id"])
    return conn


async def _statuses(fake):
    from dialer.crm.adapter import CrmStatus
    return [CrmStatus(k, v["name"], v["group"]) for k, v in fake.shops["shop-a"].statuses.items()]


async def _pull(db, conn, adapters, now=T0):
    return await sync.pull(db, conn["id"], adapters(await run(db, store.connection, db, conn["id"])), now)


async def test_pull_imports_in_batches_of_at_most_100(db, fake, adapters):
    conn = await _setup(db, fake, 250)
    result = await _pull(db, conn, adapters)
    assert (result["imported"], result["rejected"], result["error"]) == (250, 0, None)
    assert fake.calls.count("getOrdersByIds") == 3
    leads = await run(db, leads_of, conn["id"])
    lead = leads["7"]
    assert lead.phone.startswith("+") and lead.state == "new" and lead.crm_status == "1"
    assert lead.attrs["additional1"] == "source-1" and lead.product == "Крем для рук"


async def test_replays_and_duplicate_ids_create_no_duplicates(db, fake, adapters):
    conn = await _setup(db, fake, 120)
    fake.faults.duplicate_ids = True
    first = await _pull(db, conn, adapters)
    before = {e: (l.id, l.state, l.next_call_at) for e, l in (await run(db, leads_of, conn["id"])).items()}
    again = await _pull(db, conn, adapters, step(T0, 60))
    assert first["imported"] == 120 and again["imported"] == 0 and again["updated"] == 0
    assert again["unchanged"] == 120
    after = {e: (l.id, l.state, l.next_call_at) for e, l in (await run(db, leads_of, conn["id"])).items()}
    assert after == before


async def test_malformed_orders_are_rejected_with_a_reason_the_rest_imported(db, fake, adapters):
    conn = await _setup(db, fake, 10)
    shop = fake.shops["shop-a"]
    shop.add({"id": "900", **sample_order(900, "1"), "phone": "12"})
    shop.add({"id": "901", **sample_order(901, "1"), "phone": ""})
    shop.add({"id": "902", **sample_order(902, "1"), "total": "много"})
    result = await _pull(db, conn, adapters)
    assert result["imported"] == 10
    reasons = {r["external_id"]: r["reason"] for r in result["rejects"]}
    assert set(reasons) == {"900", "901", "902"}
    assert "invalid phone" in reasons["900"] and "empty" in reasons["901"] and "not a number" in reasons["902"]
    log = await run(db, store.import_log, db, conn["id"])
    assert log[0]["rejected"] == 3 and {r["external_id"] for r in log[0]["rejects"]} == {"900", "901", "902"}


async def test_a_final_status_in_the_crm_stops_the_calls(db, fake, adapters):
    conn = await _setup(db, fake, 3)
    await _pull(db, conn, adapters)
    operator = await run(db, operator_for, conn["campaign_id"], "crm1")
    for oid in ("1", "2"):
        fake.shops["shop-a"].orders[oid]["status"] = "3"  # confirmed in the CRM: final
    fake.shops["shop-a"].orders["3"]["status"] = "5"  # don't touch
    result = await _pull(db, conn, adapters, step(T0, 30))
    assert result["updated"] == 3
    leads = await run(db, leads_of, conn["id"])
    assert (leads["1"].state, leads["2"].state, leads["3"].state) == ("done", "done", "held")
    assert await run(db, claim_answered, db, operator, step(T0, 3600)) is None
    fake.shops["shop-a"].orders["3"]["status"] = "1"  # back to "call"
    await _pull(db, conn, adapters, step(T0, 60))
    attempt = await run(db, claim_answered, db, operator, step(T0, 61))
    assert attempt is not None and attempt.lead.external_id == "3"


async def test_a_status_change_waits_while_the_order_is_being_called(db, fake, adapters):
    conn = await _setup(db, fake, 1)
    await _pull(db, conn, adapters)
    operator = await run(db, operator_for, conn["campaign_id"], "crm2")
    attempt = await run(db, claim_answered, db, operator, step(T0, 1))
    fake.shops["shop-a"].orders["1"]["status"] = "5"
    await _pull(db, conn, adapters, step(T0, 30))
    row = await run(db, lambda: db.execute_sql("SELECT state, crm_status, crm_status_applied FROM lead"
                                               " WHERE id = %s", (attempt.lead_id,)).fetchone())
    assert row == ("in_progress", "5", "1")
    await run(db, db.execute_sql, "UPDATE lead SET state = 'callable' WHERE id = %s", (attempt.lead_id,))
    await _pull(db, conn, adapters, step(T0, 60))
    assert (await run(db, leads_of, conn["id"]))["1"].state == "held"


async def test_postpone_uses_the_crm_recall_time(db, fake, adapters):
    conn = await _setup(db, fake, 2)
    fake.shops["shop-a"].orders["1"].update(status="2", callmodeRecallAt="2026-11-26 15:00:00")
    fake.shops["shop-a"].orders["2"]["status"] = "2"
    await _pull(db, conn, adapters)
    leads = await run(db, leads_of, conn["id"])
    assert leads["1"].next_call_at.isoformat() == "2026-11-26T15:00:00+00:00"
    assert leads["2"].next_call_at == step(T0, 30 * 60)


async def test_an_unreachable_crm_is_logged_and_marked(db, fake, adapters):
    conn = await _setup(db, fake, 5)
    for fault in ("5xx", "non_json", "reset", "timeout"):
        fake.faults.down = fault
        fake.faults.timeout_s = 1.0
        result = await _pull(db, conn, adapters)
        assert result["error"] and result["imported"] == 0, fault
    row = await run(db, store.connection, db, conn["id"])
    assert row["unreachable_since"] == T0 and "token" not in (row["last_error"] or "")
    fake.faults.down = ""
    assert (await _pull(db, conn, adapters, step(T0, 5)))["imported"] == 5
    assert (await run(db, store.connection, db, conn["id"]))["unreachable_since"] is None


async def test_a_wrong_token_is_a_refusal_not_an_outage(db, fake, adapters):
    conn = await _setup(db, fake, 5)
    await run(db, db.execute_sql, "UPDATE crm_connection SET token = 'wrong-token-123' WHERE id = %s", (conn["id"],))
    result = await _pull(db, conn, adapters)
    assert "Invalid token" in result["error"]
    row = await run(db, store.connection, db, conn["id"])
    assert row["unreachable_since"] is None and "wrong-token" not in result["error"]


async def test_an_id_taken_by_another_source_is_rejected_not_overwritten(db, fake, adapters):
    from dialer.services import leads
    conn = await _setup(db, fake, 3)
    await run(db, leads.import_csv, conn["campaign_id"], "external_id,phone,name\n2,+79161234567,Из файла\n")
    result = await _pull(db, conn, adapters)
    assert result["imported"] == 2 and result["rejects"] == [
        {"external_id": "2", "reason": "the campaign already has a lead with this id from another source"}]
    again = await _pull(db, conn, adapters, step(T0, 30))
    assert again["imported"] == 0 and again["unchanged"] == 2 and again["rejected"] == 1


async def test_the_clients_zone_comes_from_the_city_then_the_number_and_follows_a_changed_address(db):
    from dialer.crm.orders import Order
    conn = lv_connection(db, 9)
    actions = {"1": ("call", 60)}
    store.upsert_orders(db, conn, [Order("Z1", "+79130000001", city="Новосибирск", crm_status="1"),
                                   Order("Z2", "+12125550123", crm_status="1")], actions, T0)
    got = {lead.external_id: (lead.time_zone, lead.time_zone_source) for lead in leads_of(conn["id"]).values()}
    assert got == {"Z1": ("Asia/Novosibirsk", "city"), "Z2": ("America/New_York", "phone")}
    store.upsert_orders(db, conn, [Order("Z1", "+79130000001", city="Омск", region="Омская", crm_status="1")],
                        actions, T0)
    assert leads_of(conn["id"])["Z1"].time_zone == "Asia/Omsk"
