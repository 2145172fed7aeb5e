"""The scheduled daily shift summaries (issue 17, item 8): which days are due, one PDF per campaign with calls written
once after the shift's end (and caught up when the job was away), kept, listed and downloaded by the holders of
`reports.export` only — × the six roles through HTTP."""
from __future__ import annotations

import io
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from pypdf import PdfReader

from dialer.access import SYSTEM, Principal
from dialer.errors import Forbidden, Invalid, NotFound
from dialer.models import Campaign, Lead, Operator
from dialer.permissions import ROLES
from dialer.services import report_files, users
from web import auth
from web.app import create_app

PERMS = {code: perms for code, _, _, perms in ROLES}
MSK = ZoneInfo("Europe/Moscow")
D = date(2026, 10, 14)


@pytest.mark.parametrize("now, at, first", [
    (datetime(2026, 10, 14, 20, 59, tzinfo=MSK), time(21), date(2026, 10, 13)),   # before the shift's end: yesterday
    (datetime(2026, 10, 14, 21, 0, tzinfo=MSK), time(21), date(2026, 10, 14)),    # at it: today too
    (datetime(2026, 10, 14, 17, 59, tzinfo=ZoneInfo("UTC")), time(21), date(2026, 10, 13)),  # 20:59 in Moscow
    (datetime(2026, 10, 14, 18, 0, tzinfo=ZoneInfo("UTC")), time(21), date(2026, 10, 14)),
    (datetime(2026, 10, 15, 0, 5, tzinfo=MSK), time(0, 0), date(2026, 10, 15)),   # a shift ending at midnight
])
def test_due_days(now, at, first):
    days = report_files.due_days(now, "Europe/Moscow", at)
    assert days[0] == first and len(days) == report_files.CATCH_UP_DAYS
    assert days == sorted(days, reverse=True) and (days[0] - days[-1]).days == report_files.CATCH_UP_DAYS - 1


@pytest.mark.parametrize("value", ["21", "9:00", "24:00", "21:60", "ab:cd", ""])
def test_a_bad_shift_time_is_refused(value):
    with pytest.raises(Invalid) as e:
        report_files.parse_at(value)
    assert e.value.details["message_ru"] != e.value.message


@pytest.fixture
def world(db):
    camps = [Campaign.create(name=n).id for n in ("Подтверждение заказов", "Допродажи", "Тихая кампания")]
    op = Operator.create(name="Анна", login="anna", sip_password="secret-123").id
    for c in camps[:2]:
        lead = Lead.create(campaign=c, external_id=f"L{c}", phone=f"+7900000000{c}").id
        for at, outcome in (("2026-10-14 10:15+03", "ANSWERED"), ("2026-10-14 20:50+03", "BUSY"),
                            ("2026-10-12 11:00+03", "NO_ANSWER")):
            db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, answered_at, ended_at,"
                           " outcome) VALUES (%s, %s, %s, '+79000000001', %s::timestamptz - interval '1 minute', %s, %s)",
                           (lead, c, op, at, at, outcome))
    return {"campaigns": camps, "operator": op}


def _files(db):
    return db.execute_sql("SELECT day, campaign_id FROM report_file ORDER BY day, campaign_id").fetchall()


def test_each_campaign_with_calls_gets_its_pdf_once_after_the_shift(db, world):
    c0, c1, quiet = world["campaigns"]
    before = datetime(2026, 10, 14, 20, 59, tzinfo=MSK)
    assert report_files.write_due(before, "Europe/Moscow", "21:00") == 2  # the 12th, caught up; not the 14th yet
    assert _files(db) == [(date(2026, 10, 12), c0), (date(2026, 10, 12), c1)]
    after = datetime(2026, 10, 14, 21, 0, tzinfo=MSK)
    assert report_files.write_due(after, "Europe/Moscow", "21:00") == 2
    assert report_files.write_due(after, "Europe/Moscow", "21:00") == 0  # written once, never again
    assert (D, c0) in _files(db) and (D, c1) in _files(db) and all(c != quiet for _, c in _files(db))
    listed = report_files.list_files(SYSTEM)
    assert [(f["day"], f["campaign"]) for f in listed][:2] == [(D, "Допродажи"), (D, "Подтверждение заказов")]
    name, body = report_files.get_file(SYSTEM, listed[1]["id"])
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert name == f"shift-campaign-{c0}-2026-10-14.pdf" and "Подтверждение заказов" in text
    assert "Сводка смены" in text


def test_old_files_are_removed(db, world):
    report_files.write_due(datetime(2026, 10, 14, 21, 30, tzinfo=MSK), "Europe/Moscow", "21:00")
    assert _files(db)
    report_files.write_due(datetime(2027, 3, 1, 12, tzinfo=MSK), "Europe/Moscow", "21:00")
    assert _files(db) == []


def test_the_service_needs_the_export_permission(db, world):
    report_files.write_due(datetime(2026, 10, 14, 21, 30, tzinfo=MSK), "Europe/Moscow", "21:00")
    (fid,) = db.execute_sql("SELECT min(id) FROM report_file").fetchone()
    reader = Principal(7, "Читатель", ("tester",), frozenset({"reports.read"}))
    with pytest.raises(Forbidden):
        report_files.list_files(reader)
    with pytest.raises(Forbidden):
        report_files.get_file(reader, fid)
    with pytest.raises(NotFound):
        report_files.get_file(SYSTEM, 999999)


@pytest.fixture
def app(settings, db):
    with TestClient(create_app(settings, db)) as c:
        yield c


@pytest.mark.parametrize("role", list(PERMS))
def test_the_kept_files_by_role(app, db, world, role):
    users.seed_roles()
    report_files.write_due(datetime(2026, 10, 14, 21, 30, tzinfo=MSK), "Europe/Moscow", "21:00")
    role_ids = {r["code"]: r["id"] for r in users.list_roles()}
    users.create_user(f"{role}@example.org", f"Пользователь {role}", "report-password-1", [role_ids[role]])
    s = users.sign_in(f"{role}@example.org", "report-password-1")
    h = {"Cookie": f"{auth.Cookies.SESSION}={s['token']}", "X-CSRF-Token": s["csrf"]}
    (fid,) = db.execute_sql("SELECT id FROM report_file WHERE day = %s AND campaign_id = %s",
                            (D, world["campaigns"][0])).fetchone()
    r = app.get(f"/reports/files/{fid}", headers=h, follow_redirects=False)
    may = "reports.export" in PERMS[role]
    assert r.status_code == (200 if may else 403), (role, r.status_code)
    if may:
        assert r.headers["content-type"].startswith("application/pdf") and r.content.startswith(b"%PDF")
        assert app.get("/reports/files/999999", headers=h).status_code == 404
    if "reports.read" in PERMS[role]:
        page = app.get("/reports", headers=h).text
        assert (f'href="/reports/files/{fid}"' in page) == may  # listed for the holders of reports.export only
