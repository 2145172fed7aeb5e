"""A fake LeadVertex admin API for tests, benchmarks and the demo (`dialer-dev fake-crm`).

Several shops, each with its own token and status ids, at `/{shop}/api/admin/{method}.html`.
Faults are switched at runtime through `POST /_control/faults` (or `FakeCrm.faults` in-process):
latency, timeouts, HTTP 5xx, non-JSON bodies, connection resets, duplicate ids in id lists, and a
lost answer (the write is applied, then the connection drops) that tests exactly-once delivery.
"""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, dataclass, field

from aiohttp import web

MAX_IDS = 100
GROUPS = ("processing", "accepted", "shipped", "paid", "canceled", "return", "spam")


@dataclass
class Faults:
    latency_ms: int = 0
    down: str = ""  # "", "5xx", "timeout", "reset", "non_json", "error"
    duplicate_ids: bool = False
    lose_answers: int = 0  # the next N writes are applied but their answer is lost (connection reset)
    timeout_s: float = 30.0


@dataclass
class Shop:
    name: str
    token: str
    statuses: dict[str, dict]  # id -> {"name", "group"}
    orders: dict[str, dict] = field(default_factory=dict)
    next_id: int = 1
    used: set[str] = field(default_factory=set)  # orders "being edited" (checkUsedByOrder)
    writes: list[dict] = field(default_factory=list)  # every applied updateOrder, for tests

    def add(self, order: dict) -> str:
        oid = str(order.pop("id", self.next_id))
        self.next_id = max(self.next_id, int(oid) + 1 if oid.isdigit() else self.next_id)
        base = {"datetime": "2026-11-20 10:00:00", "timezone": 180, "status": next(iter(self.statuses)),
                "price": "0", "total": "0", "operatorID": None, "lastUpdate": "2026-11-20 10:00:00",
                "goods": {}, "callmodeRecallAt": "0000-00-00 00:00:00", "fio": "", "country": "RU",
                "region": "", "city": "", "address": "", "phone": "", "email": "", "comment": ""}
        self.orders[oid] = {**base, **order}
        return oid


def sample_shops() -> dict[str, Shop]:
    """Two shops whose status ids differ, as real LeadVertex projects' do."""
    return {
        "shop-a": Shop("shop-a", "token-shop-a-0123456789", {
            "1": {"name": "Новый", "group": "processing"}, "2": {"name": "Перезвонить", "group": "processing"},
            "3": {"name": "Подтверждён", "group": "accepted"}, "4": {"name": "Отменён", "group": "canceled"},
            "5": {"name": "На проверке", "group": "processing"}, "9": {"name": "Спам", "group": "spam"}}),
        "shop-b": Shop("shop-b", "token-shop-b-9876543210", {
            "11": {"name": "Новая заявка", "group": "processing"}, "12": {"name": "Недозвон", "group": "processing"},
            "17": {"name": "Принят", "group": "accepted"}, "18": {"name": "Отказ", "group": "canceled"}}),
    }


FIRST_NAMES = ("Анна", "Иван", "Мария", "Пётр", "Ольга", "Сергей", "Елена", "Дмитрий")
CITIES = (("RU", "Москва", "Москва"), ("RU", "Санкт-Петербург", "Санкт-Петербург"), ("RU", "Татарстан", "Казань"),
          ("KZ", "Алматы", "Алматы"), ("HU", "Budapest", "Budapest"))


def sample_order(n: int, status: str) -> dict:
    """A plausible order with a valid phone for its country (sim numbers in the demo use +7 900 …)."""
    country, region, city = CITIES[n % len(CITIES)]
    phone = {"RU": f"7900{n % 10_000_000:07d}", "KZ": f"7701{n % 10_000_000:07d}",
             "HU": f"3620{n % 10_000_000:07d}"}[country]
    return {"fio": f"{FIRST_NAMES[n % len(FIRST_NAMES)]} Клиент {n}", "phone": phone, "country": country,
            "region": region, "city": city, "status": status, "total": str(1990 + n % 5 * 1000),
            "goods": {"501": {"goodID": "501", "name": "Крем для рук", "quantity": "1", "price": "1990"}},
            "additional1": f"source-{n % 3}"}


class FakeCrm:
    def __init__(self, shops: dict[str, Shop] | None = None, seed: int = 1):
        self.shops = shops if shops is not None else sample_shops()
        self.faults = Faults()
        self.calls: list[str] = []  # method names in arrival order
        self.rnd = random.Random(seed)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{shop}/api/admin/{method}.html", self.on_api)
        app.router.add_get("/_control", self.on_state)
        app.router.add_post("/_control/faults", self.on_faults)
        app.router.add_post("/_control/shops/{shop}/orders", self.on_add_orders)
        app.router.add_get("/_control/shops/{shop}/writes", self.on_writes)
        app.router.add_post("/_control/shops/{shop}/orders/{id}", self.on_set_order)
        return app

    # --- control surface for tests and the demo
    async def on_state(self, request):
        return web.json_response({"faults": asdict(self.faults), "shops": {
            name: {"orders": len(s.orders), "writes": len(s.writes), "statuses": s.statuses}
            for name, s in self.shops.items()}})

    async def on_faults(self, request):
        values = await request.json()
        unknown = set(values) - set(asdict(Faults()))
        if unknown:
            return web.json_response({"error": f"unknown faults: {sorted(unknown)}"}, status=400)
        for key, value in values.items():
            setattr(self.faults, key, value)
        return web.json_response(asdict(self.faults))

    async def on_add_orders(self, request):
        shop = self.shops.get(request.match_info["shop"])
        if shop is None:
            return web.json_response({"error": "no such shop"}, status=404)
        return web.json_response({"ids": [shop.add(o) for o in await request.json()]})

    async def on_writes(self, request):
        shop = self.shops.get(request.match_info["shop"])
        if shop is None:
            return web.json_response({"error": "no such shop"}, status=404)
        return web.json_response(shop.writes)

    async def on_set_order(self, request):
        shop = self.shops.get(request.match_info["shop"])
        order = shop.orders.get(request.match_info["id"]) if shop else None
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        order.update(await request.json())
        return web.json_response(order)

    # --- the API
    async def on_api(self, request: web.Request):
        method = request.match_info["method"]
        self.calls.append(method)
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down:
            return await self._fail(request, faults.down)
        shop = self.shops.get(request.match_info["shop"])
        if shop is None:
            return web.json_response({"error": "project not found"}, status=404)
        if request.query.get("token") != shop.token:
            return web.json_response({"error": "Invalid token"})
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return web.json_response({"error": f"Unknown method {method}"})
        form = dict(await request.post()) if request.method == "POST" else {}
        answer = handler(shop, request.query, form)
        if method == "updateOrder" and faults.lose_answers > 0 and not (isinstance(answer, dict) and "error" in answer):
            faults.lose_answers -= 1
            return await self._fail(request, "reset")
        return web.Response(text=json.dumps(answer, ensure_ascii=False), content_type="application/json")

    async def _fail(self, request, kind: str):
        if kind == "timeout":
            await asyncio.sleep(self.faults.timeout_s)
            return web.json_response({"error": "too late"})
        if kind == "reset":
            request.transport.close()  # the client sees the connection drop without an answer
            raise asyncio.CancelledError()
        if kind == "non_json":
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", status=200,
                                content_type="text/html")
        if kind == "error":
            return web.json_response({"error": "Internal error, try later"})
        return web.json_response({"error": "Service unavailable"}, status=503)

    def m_getStatusList(self, shop, q, form):
        return shop.statuses

    def m_getOrdersIdsInStatus(self, shop, q, form):
        status = q.get("status", "")
        if status not in shop.statuses:
            return {"error": "Unknown status"}
        ids = [int(i) if i.isdigit() else i for i, o in shop.orders.items() if str(o["status"]) == status]
        if self.faults.duplicate_ids and ids:
            ids = ids + [str(i) for i in self.rnd.sample(ids, max(1, len(ids) // 10))]
        return ids

    def m_getOrdersIdsByCondition(self, shop, q, form):
        conditions = {k: v for k, v in q.items() if k != "token"}
        return [int(i) for i, o in shop.orders.items()
                if all(str(o.get(k, "")) == v for k, v in conditions.items())]

    def m_getOrdersByIds(self, shop, q, form):
        ids = [i for i in q.get("ids", "").split(",") if i]
        if not ids:
            return {"error": "ids is required"}
        if len(ids) > MAX_IDS:
            return {"error": f"Too many ids, {MAX_IDS} max"}
        return {i: {**shop.orders[i]} for i in ids if i in shop.orders} or []

    def m_updateOrder(self, shop, q, form):
        oid = q.get("id", "")
        order = shop.orders.get(oid)
        if order is None:
            return {"error": "Order not found"}
        if "status" in form and form["status"] not in shop.statuses:
            return {"error": "Unknown status"}
        order.update(form)
        order["lastUpdate"] = "2026-11-26 12:00:00"
        shop.writes.append({"id": oid, **form})
        return {oid: "OK"}

    def m_addOrder(self, shop, q, form):
        if not form.get("phone"):
            return {"error": "phone is required"}
        oid = shop.add({k: v for k, v in form.items() if not k.startswith("goods[")})
        return {oid: "OK"}

    def m_checkUsedByOrder(self, shop, q, form):
        oid = q.get("id", "")
        if oid not in shop.orders:
            return {"error": "Order not found"}
        return {"used": oid in shop.used}

    def m_getOperators(self, shop, q, form):
        return {"1": {"login": "admin", "name": "Администратор"}}


async def start(fake: FakeCrm, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve on the running loop; returns the runner (cleanup() stops it) and the bound port."""
    runner = web.AppRunner(fake.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    return runner, bound


def fill(shop: Shop, count: int, call_status: str, start: int = 1) -> None:
    for n in range(start, start + count):
        shop.add({"id": str(n), **sample_order(n, call_status)})


def serve_forever(host: str, port: int, orders: int, demo_phones: bool = False) -> None:
    """`dialer-dev fake-crm`: sample shops with `orders` orders each in their first status, until Ctrl-C.

    With `demo_phones` the numbers are the demo's mix the simulated network answers, busies, rejects."""
    fake = FakeCrm()
    for shop in fake.shops.values():
        fill(shop, orders, next(iter(shop.statuses)))
        if demo_phones:
            from .demo import demo_phones as phones
            for order, phone in zip(shop.orders.values(), phones(orders)):
                order.update(phone=phone.lstrip("+"), country="RU")
    print(f"fake LeadVertex on http://{host}:{port}/<shop>/api/admin/<method>.html")
    for shop in fake.shops.values():
        print(f"  {shop.name}: token {shop.token}, {len(shop.orders)} orders, statuses "
              + ", ".join(f"{k}={v['name']}" for k, v in shop.statuses.items()))
    web.run_app(fake.app(), host=host, port=port, access_log=None, print=None)
