"""The fake LeadVertex behaves as the reference describes, and its faults can be flipped at runtime."""
from __future__ import annotations

import aiohttp
import pytest

from dialer.crm.adapter import CrmError
from dialer.dev.fake_leadvertex import FakeCrm, fill, start
from dialer.crm.leadvertex import LeadVertex

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def served():
    fake = FakeCrm()
    for shop in fake.shops.values():
        fill(shop, 150, next(iter(shop.statuses)))
    runner, port = await start(fake)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        def adapter(shop="shop-a", token=None):
            return LeadVertex(f"http://127.0.0.1:{port}/{shop}/api/admin", token or fake.shops[shop].token,
                              session=session)
        yield fake, adapter, session, port
    await runner.cleanup()


async def test_shops_have_their_own_status_ids_and_tokens(served):
    fake, adapter, _, _ = served
    assert {s.status_id for s in await adapter("shop-a").statuses()} == {"1", "2", "3", "4", "5", "9"}
    assert {s.status_id for s in await adapter("shop-b").statuses()} == {"11", "12", "17", "18"}
    with pytest.raises(CrmError, match="Invalid token") as e:
        await adapter("shop-b", token=fake.shops["shop-a"].token).statuses()
    assert not e.value.transient


async def test_ids_orders_and_the_100_id_limit(served):
    fake, adapter, session, port = served
    lv = adapter()
    ids = await lv.ids_in_status("1")
    assert len(ids) == 150 and ids[0] == 1
    orders = await lv.orders([str(i) for i in range(1, 101)])
    assert len(orders) == 100 and "id" not in orders["1"]
    url = f"http://127.0.0.1:{port}/shop-a/api/admin/getOrdersByIds.html"
    async with session.get(url, params={"token": fake.shops["shop-a"].token,
                                        "ids": ",".join(map(str, range(1, 102)))}) as r:
        assert "error" in await r.json()
    with pytest.raises(ValueError):
        await lv.orders([str(i) for i in range(101)])


async def test_update_check_used_and_unknown_orders(served):
    fake, adapter, _, _ = served
    lv = adapter()
    from dialer.crm.adapter import Push
    await lv.push(Push("7", "3", "ok", "key-1"))
    assert fake.shops["shop-a"].orders["7"]["status"] == "3"
    assert await lv.holds(Push("7", "3", "ok", "key-1")) and not await lv.holds(Push("7", "3", "ok", "key-2"))
    fake.shops["shop-a"].used.add("7")
    assert await lv.busy("7") and not await lv.busy("8")
    with pytest.raises(CrmError, match="Order not found"):
        await lv.push(Push("99999", None, "x", "k"))


async def test_faults_switched_through_the_control_endpoint(served):
    fake, adapter, session, port = served
    lv = adapter()

    async def flip(**faults):
        async with session.post(f"http://127.0.0.1:{port}/_control/faults", json=faults) as r:
            assert r.status == 200

    await flip(duplicate_ids=True)
    ids = await lv.ids_in_status("1")
    assert len(ids) > 150 and len({str(i) for i in ids}) == 150
    for fault, message in (("5xx", "Service unavailable"), ("non_json", "not JSON"), ("reset", "connection failed"),
                           ("timeout", "timed out"), ("error", "try later")):
        await flip(down=fault, timeout_s=2)
        with pytest.raises(CrmError, match=message):
            await lv.statuses()
    await flip(down="", latency_ms=50, lose_answers=1)
    from dialer.crm.adapter import Push
    with pytest.raises(CrmError, match="connection failed"):
        await lv.push(Push("3", "4", "x", "lost-key"))
    assert fake.shops["shop-a"].orders["3"]["additional25"] == "lost-key"  # applied, answer lost
    async with session.post(f"http://127.0.0.1:{port}/_control/faults", json={"colour": 1}) as r:
        assert r.status == 400
