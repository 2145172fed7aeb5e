"""Who may see, export and save what in «Отчёты», × the six roles through HTTP with real sessions; saved views that
are one's own and someone else's; bad input is a 422 in both languages and saves nothing."""
from __future__ import annotations

import pytest
from litestar.testing import TestClient

from dialer.models import Campaign, Lead, Operator
from dialer.permissions import ROLES
from dialer.services import users
from web import auth
from web.app import create_app

PERMS = {code: perms for code, _, _, perms in ROLES}
PASSWORD = "report-password-1"


@pytest.fixture
def world(db):
    users.seed_roles()
    role_ids = {r["code"]: r["id"] for r in users.list_roles()}
    c = Campaign.create(name="Подтверждение заказов")
    o = Operator.create(name="Анна", login="anna", sip_password="secret-123")
    lead = Lead.create(campaign=c.id, external_id="A-1", phone="+79000000001")
    db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, ended_at, outcome)"
                   " VALUES (%s, %s, %s, '+79000000001', now(), 'ANSWERED')", (lead.id, c.id, o.id))
    made = {}

    def user(code):
        if code not in made:
            users.create_user(f"{code}@example.org", f"Пользователь {code}", PASSWORD, [role_ids[code]])
            made[code] = users.sign_in(f"{code}@example.org", PASSWORD)
        return made[code]
    return {"user": user, "roles": role_ids, "campaign": c.id, "operator": o.id}


@pytest.fixture
def app(settings, db):
    with TestClient(create_app(settings, db)) as c:
        yield c


def as_(session):
    return {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", "X-CSRF-Token": session["csrf"]}


def views_count(db):
    return db.execute_sql("SELECT count(*) FROM report_view").fetchone()[0]


def audit_count(db):
    return db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'report_view'").fetchone()[0]


@pytest.mark.parametrize("role", list(PERMS))
def test_pages_api_and_exports_by_role(app, world, role):
    h = as_(world["user"](role))
    c, o = world["campaign"], world["operator"]
    reads = ["/reports", "/reports?period=7d", "/reports/calls", f"/reports/calls?campaign={c}",
             "/api/reports/summary", "/api/reports/calls", "/api/reports/views", "/api/reports/views?table=calls"]
    exports = [f"/reports/export?table={t}&format={f}" for t in ("report", "calls", "operators") for f in ("csv", "xlsx")]
    exports += ["/reports/export?table=report&format=pdf", f"/reports/shift?campaign={c}", f"/reports/shift?operator={o}"]
    for path, perm in [(p, "reports.read") for p in reads] + [(p, "reports.export") for p in exports]:
        r = app.get(path, headers=h, follow_redirects=False)
        assert r.status_code == (200 if perm in PERMS[role] else 403), (role, path, r.status_code)
    if "reports.read" in PERMS[role]:
        body = app.get("/api/reports/summary?period=today", headers=h).json()
        assert body["kpis"]["attempts"] == 1 and body["campaigns"][0]["name"] == "Подтверждение заказов"
        assert 'href="/reports"' in app.get("/reports", headers=h).text  # the section is in the navigation
    else:  # an operator sees nothing of it, not even the navigation entry
        assert 'href="/reports"' not in app.get("/", headers=h, follow_redirects=True).text


@pytest.mark.parametrize("role", list(PERMS))
def test_saving_and_sharing_a_view_by_role(app, db, world, role):
    h = as_(world["user"](role))
    own = {"table": "report", "name": "Мой вид", "state": {"query": "period=7d", "hidden": {}, "sort": {}}}
    r = app.post("/api/reports/views", json=own, headers=h)
    assert r.status_code == (200 if "reports.read" in PERMS[role] else 403), r.text
    shared = {**own, "name": "Для всех", "shared_role_id": world["roles"]["supervisor"]}
    before = views_count(db)
    r = app.post("/api/reports/views", json=shared, headers=h)
    assert r.status_code == (200 if "reports.export" in PERMS[role] else 403), (role, r.text)
    assert views_count(db) == before + (r.status_code == 200)


def test_own_and_someone_elses_view(app, db, world):
    owner, colleague, other = (as_(world["user"](code)) for code in ("supervisor", "syssupervisor", "admin"))
    view = app.post("/api/reports/views", headers=owner, json={
        "table": "report", "name": "Неделя", "shared_role_id": world["roles"]["syssupervisor"],
        "state": {"query": "period=7d", "hidden": {"operators": ["n_ERROR"]}, "sort": {"operators": "name:desc"}}}).json()
    # the colleague's role holds it: listed, applied on the page, but not theirs to change
    listed = app.get("/api/reports/views", headers=colleague).json()
    assert [(v["name"], v["mine"], v["owner_name"]) for v in listed] == [("Неделя", False, "Пользователь supervisor")]
    page = app.get(f"/reports?period=7d&view={view['id']}", headers=colleague)
    assert page.status_code == 200 and "n_ERROR" in page.text
    before = (views_count(db), audit_count(db))
    r = app.delete(f"/api/reports/views/{view['id']}", headers=colleague)
    assert r.status_code == 403 and r.json()["error"] == "view-not-yours" and r.json()["message_ru"]
    # saving under the same name makes the colleague's own view; the owner's is untouched
    mine = app.post("/api/reports/views", headers=colleague,
                    json={"table": "report", "name": "Неделя", "state": {"query": "period=today"}}).json()
    assert mine["id"] != view["id"] and mine["mine"]
    assert app.get("/api/reports/views", headers=owner).json()[0]["state"]["query"] == "period=7d"
    assert views_count(db) == before[0] + 1
    # not shared with the other's role: invisible, so not found
    assert app.get("/api/reports/views", headers=other).json() == []
    assert app.delete(f"/api/reports/views/{view['id']}", headers=other).status_code == 404
    # the owner deletes it, and it is audited as the owner
    assert app.delete(f"/api/reports/views/{view['id']}", headers=owner).status_code == 200
    who = db.execute_sql("SELECT user_name, action FROM audit_log WHERE object_type = 'report_view'"
                         " AND object_id = %s ORDER BY id", (str(view["id"]),)).fetchall()
    assert who == [("Пользователь supervisor", "created"), ("Пользователь supervisor", "deleted")]


@pytest.mark.parametrize("body, field", [
    ({"table": "report", "name": "", "state": {"query": ""}}, "name"),
    ({"table": "report", "name": "x" * 101, "state": {"query": ""}}, "name"),
    ({"table": "board", "name": "Вид", "state": {"query": ""}}, "table"),
    ({"table": "report", "name": "Вид", "state": {"query": "from=2026-13-01&to=2026-13-02"}}, "from"),
    ({"table": "report", "name": "Вид", "state": {"query": "", "hidden": {"operators": ["salary"]}}}, "state.hidden"),
    ({"table": "report", "name": "Вид", "state": {"query": ""}, "shared_role_id": 999999}, "shared_role_id"),
    ({"table": "report", "name": "Вид", "state": {"query": ""}, "shared_role_id": "operator"}, None),  # wrong type: 400
])
def test_bad_view_input_is_refused_and_nothing_is_saved(app, db, world, body, field):
    h = as_(world["user"]("supervisor"))
    before = (views_count(db), audit_count(db))
    r = app.post("/api/reports/views", json=body, headers=h)
    if field is None:
        assert r.status_code == 400
    else:
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field and r.json()["message"] and r.json()["message_ru"] != r.json()["message"]
    assert (views_count(db), audit_count(db)) == before


def test_sharing_with_a_role_that_cannot_read_reports_is_refused(app, db, world):
    h = as_(world["user"]("admin"))
    r = app.post("/api/reports/views", headers=h, json={"table": "report", "name": "Операторам", "state": {"query": ""},
                                                          "shared_role_id": world["roles"]["operator"]})
    assert r.status_code == 422 and "отчёты" in r.json()["message_ru"] and views_count(db) == 0


@pytest.mark.parametrize("path", [
    "/reports?from=2026-10-05&to=2026-10-01", "/reports?campaign=abc", "/reports/calls?outcome=WON",
    "/reports/export?table=secrets&format=csv", "/reports/export?table=report&format=docx",
    "/reports/export?campaign=999999", "/reports/shift", "/reports/calls?page=0"])
def test_bad_filters_are_a_422_page_in_the_users_language(app, world, path):
    r = app.get(path, headers=as_(world["user"]("supervisor")))
    assert r.status_code == 422, (path, r.status_code)
    assert "не" in r.text or "допустимые" in r.text or "укажите" in r.text  # Russian, the default language
    api = app.get("/api/reports/summary?" + path.partition("?")[2], headers=as_(world["user"]("supervisor")))
    if path.startswith("/reports?"):
        assert api.status_code == 422 and api.json()["message_ru"] and api.json()["message"]
