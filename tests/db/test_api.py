"""The JSON API through Litestar's TestClient against a real PostgreSQL."""
from __future__ import annotations

import pytest

from dialer.models import Operator
from web import auth
from web.app import create_app


def test_every_route_declares_a_permission(settings, db):
    app = create_app(settings, db)
    for route in app.routes:
        for handler in route.route_handlers:
            if handler.http_methods != {"OPTIONS"}:
                assert handler.opt.get("permission"), route.path


def test_a_route_without_permission_stops_the_app(settings, db, monkeypatch):
    from litestar import get

    @get("/api/forgotten")
    async def forgotten() -> str:
        return "open"

    import web.app as app_mod
    monkeypatch.setattr(app_mod, "health", forgotten)
    with pytest.raises(RuntimeError, match="forgotten"):
        create_app(settings, db)


PROTECTED = [("GET", "/api/campaigns"), ("POST", "/api/campaigns"), ("GET", "/api/campaigns/1"),
             ("PATCH", "/api/campaigns/1"), ("POST", "/api/campaigns/1/leads"),
             ("GET", "/api/campaigns/1/leads"), ("GET", "/api/operators"), ("POST", "/api/operators"),
             ("GET", "/api/operators/1"), ("PUT", "/api/operators/1/campaigns"),
             ("POST", "/api/operators/1/ready"), ("POST", "/api/operators/1/pause"),
             ("POST", "/api/operators/1/lunch"), ("POST", "/api/operators/1/hangup"),
             ("POST", "/api/operators/1/wrap-up"), ("GET", "/api/attempts"), ("GET", "/api/attempts/1")]


@pytest.mark.parametrize("method,path,header", [(m, p, h) for m, p in PROTECTED for h in (None, "Bearer wrong")]
                         + [("POST", "/api/campaigns", h) for h in ("Basic abc", "Bearer ", "bearer", "wrong")])
def test_protected_routes_need_the_token(client, unchanged, method, path, header):
    del client.headers["Authorization"]
    if header is not None:
        client.headers["Authorization"] = header
    with unchanged():
        r = client.request(method, path, json={"name": "x"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorised"


def test_public_health_and_schema(client):
    del client.headers["Authorization"]
    assert client.get("/api/health/web").json() == {"status": "ok", "database": "ok"}
    schema = client.get("/api/schema").json()
    assert "/api/campaigns/{campaign_id}/leads" in schema["paths"]


def test_empty_configured_token_refuses_everything(settings, db):
    from dataclasses import replace

    from litestar.testing import TestClient
    with TestClient(create_app(replace(settings, api_token=""), db)) as c:
        assert c.get("/api/campaigns", headers={"Authorization": "Bearer "}).status_code == 401


def test_campaign_lifecycle(client):
    r = client.post("/api/campaigns", json={"name": "Orders", "ring_timeout_s": 25})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert client.get(f"/api/campaigns/{cid}").json()["ring_timeout_s"] == 25
    r = client.patch(f"/api/campaigns/{cid}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["ring_timeout_s"] == 25
    assert [c["id"] for c in client.get("/api/campaigns").json()] == [cid]


def test_csv_import_over_http(client):
    cid = client.post("/api/campaigns", json={"name": "Orders"}).json()["id"]
    body = "\ufeffid;phone;name\r\n1;89161234567;Ann\r\n2;oops;Bob\r\n".encode()
    r = client.post(f"/api/campaigns/{cid}/leads", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1 and r.json()["errors"] == [{"line": 3, "reason": "invalid phone number 'oops'"}]
    leads = client.get(f"/api/campaigns/{cid}/leads", params={"state": "new"}).json()
    assert [x["phone"] for x in leads] == ["+79161234567"]
    r = client.post(f"/api/campaigns/{cid}/leads", content=b"name\nAnn\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["error"] == "csv-invalid-header"


def test_csv_above_20_mb_is_413(client, unchanged):
    cid = client.post("/api/campaigns", json={"name": "Orders"}).json()["id"]
    with unchanged():
        r = client.post(f"/api/campaigns/{cid}/leads", content=b"x" * (20 * 1024 * 1024 + 1),
                        headers={"Content-Type": "text/csv"})
    assert r.status_code == 413 and r.json()["error"] == "request-too-large"


def test_json_body_limit(client, unchanged):
    with unchanged():
        r = client.post("/api/campaigns", content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/campaigns/999", None), ("PATCH", "/api/campaigns/999", {"active": False}),
    ("POST", "/api/campaigns/999/leads", "id,phone\n1,+79161234567\n"),
    ("GET", "/api/campaigns/999/leads", None), ("GET", "/api/campaigns/99999999999999999999999", None),
    ("GET", "/api/operators/999", None), ("PUT", "/api/operators/999/campaigns", {"campaign_ids": []}),
    ("POST", "/api/operators/999/ready", None), ("POST", "/api/operators/999/hangup", None),
    ("POST", "/api/operators/999/wrap-up", {"result": "ok"}), ("GET", "/api/attempts/999", None),
])
def test_unknown_ids_are_404_and_change_nothing(client, unchanged, method, path, body):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    with unchanged():
        r = client.request(method, path, **kwargs)
    assert r.status_code == 404, r.text
    assert r.json()["error"] in ("campaign-not-found", "operator-not-found", "attempt-not-found")
    assert r.json()["message"]


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("POST", "/api/campaigns", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("POST", "/api/campaigns", {"json": []}, 400),
    ("POST", "/api/campaigns", {"json": {}}, 400),
    ("POST", "/api/campaigns", {"json": {"name": 5}}, 400),
    ("POST", "/api/campaigns", {"json": {"name": "A", "max_attempts": "5"}}, 400),
    ("POST", "/api/campaigns", {"json": {"name": "A", "max_attempts": 2**80}}, 422),
    ("POST", "/api/campaigns", {"json": {"name": "A", "surprise": 1}}, 400),
    ("POST", "/api/campaigns", {"json": {"name": "A", "max_attempts": 0}}, 422),
    ("POST", "/api/campaigns", {"json": {"name": "A\u0000"}}, 422),
    ("PATCH", "/api/campaigns/abc", {"json": {}}, 404),
    ("GET", "/api/attempts", {"params": {"limit": "many"}}, 400),
    ("GET", "/api/attempts", {"params": {"limit": 5000}}, 422),
    ("GET", "/api/attempts", {"params": {"outcome": "MAYBE"}}, 422),
    ("POST", "/api/operators", {"json": {"name": "A", "login": "a", "campaign_ids": ["x"]}}, 400),
    ("POST", "/api/operators", {"json": {"name": "A", "login": "UPPER"}}, 422),
    ("POST", "/api/operators", {"json": {"name": "A", "login": "anna", "campaign_ids": [999]}}, 404),
])
def test_bad_input_is_4xx_never_500(client, unchanged, method, path, kwargs, status):
    with unchanged():
        r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"] and r.json()["message"]


def test_operator_flow(client, unchanged):
    cid = client.post("/api/campaigns", json={"name": "Orders"}).json()["id"]
    r = client.post("/api/operators", json={"name": "Anna", "login": "anna", "campaign_ids": [cid]})
    assert r.status_code == 201 and r.json()["sip_password"]
    oid = r.json()["id"]
    assert client.get(f"/api/operators/{oid}").json()["campaign_ids"] == [cid]
    assert client.put(f"/api/operators/{oid}/campaigns", json={"campaign_ids": []}).json()["campaign_ids"] == []
    for kind in ("ready", "pause", "lunch", "hangup"):
        r = client.post(f"/api/operators/{oid}/{kind}")
        assert r.status_code == 202 and r.json()["kind"] == kind
    with unchanged():
        r = client.post(f"/api/operators/{oid}/wrap-up", json={"result": "ok"})
    assert r.status_code == 409 and r.json()["error"] == "operator-not-in-wrap-up"
    Operator.update(status="wrap_up", attempt_id=3).where(Operator.id == oid).execute()
    r = client.post(f"/api/operators/{oid}/wrap-up", json={"result": "ok", "postpone_minutes": 60})
    assert r.status_code == 202 and r.json()["payload"]["attempt_id"] == 3
    assert [o["login"] for o in client.get("/api/operators").json()] == ["anna"]


def test_attempts_listing(client):
    assert client.get("/api/attempts", params={"limit": 10}).json() == []


def test_unexpected_errors_are_json_500(client, monkeypatch):
    from dialer.services import campaigns
    monkeypatch.setattr(campaigns, "list_campaigns", lambda: 1 / 0)
    r = client.get("/api/campaigns")
    assert r.status_code == 500 and r.json()["error"] == "internal-error" and "Zero" not in r.text


def test_permission_names_are_namespaced():
    names = [v for k, v in vars(auth).items() if k.isupper() and isinstance(v, str)]
    assert all(n in (auth.PUBLIC, auth.SIGNED_IN) or "." in n for n in names)


def test_campaign_results_api(client):
    cid = client.post("/api/campaigns", json={"name": "С результатами"}).json()["id"]
    r = client.put(f"/api/campaigns/{cid}/results", json=[{"code": "confirmed", "title": "Подтверждён"}])
    assert r.status_code == 200, r.text
    assert client.get(f"/api/campaigns/{cid}/results").json() == [
        {"code": "confirmed", "title": "Подтверждён", "closes_lead": True, "crm_status": None}]
    assert client.put(f"/api/campaigns/{cid}/results", json=[{"code": 5, "title": "x"}]).status_code == 400
    assert client.put(f"/api/campaigns/{cid}/results", json=[]).status_code == 422
    assert client.put("/api/campaigns/999999/results", json=[{"code": "a", "title": "b"}]).status_code == 404
    assert len(client.get(f"/api/campaigns/{cid}/results").json()) == 1
