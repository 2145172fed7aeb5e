"""Every route × each of the six roles: allowed or denied exactly as the catalogue says (SPEC H)."""
from __future__ import annotations

import re

import pytest

from dialer.access import SIGNED_IN
from dialer.permissions import BY_NAME, PUBLIC, ROLES
from dialer.services import users
from web import auth
from web.app import create_app

SKIP = {"/events",  # an endless stream: its guard is the same; tests/db/test_web_live.py covers it
        "/metrics"}  # PUBLIC to sessions, its own address/token rule: tests/db/test_metrics.py covers it
UNKNOWN_ID = "999999"


def _concrete(path: str) -> str:
    if path.startswith("/static"):
        return "/static/css/dialer.css"
    return re.sub(r"\{[^}]+\}", lambda m: UNKNOWN_ID if ":int" in m.group(0) else "x", path)


def _routes(app):
    out = []
    for route in app.routes:
        for handler in route.route_handlers:
            methods = set(getattr(handler, "http_methods", ()) or ()) - {"OPTIONS", "HEAD"}
            if not methods or route.path in SKIP:
                continue
            for method in sorted(methods):
                out.append((method, route.path, handler.opt.get("permission")))
    # signing out last: it ends the session the walk uses
    return sorted(out, key=lambda r: (r[1] == "/logout", r[1], r[0]))


@pytest.fixture
def sessions(db):
    users.seed_roles()
    ids = {r["code"]: r["id"] for r in users.list_roles()}
    out = {}
    for code, *_ in ROLES:
        users.create_user(f"{code}@example.org", code, "walk-password-1", [ids[code]])
        out[code] = users.sign_in(f"{code}@example.org", "walk-password-1")
    return out


def test_every_route_declares_a_catalogued_permission(settings, db):
    app = create_app(settings, db)
    for method, path, permission in _routes(app):
        assert permission in BY_NAME or permission in (PUBLIC, SIGNED_IN), (method, path, permission)


@pytest.mark.parametrize("role", [r[0] for r in ROLES])
def test_route_walk_by_role(settings, db, sessions, role):
    from litestar.testing import TestClient

    granted = dict((code, perms) for code, _, _, perms in ROLES)[role]
    session = sessions[role]
    app = create_app(settings, db)
    checked = 0
    with TestClient(app) as client:
        for method, path, permission in _routes(app):
            expect_allowed = permission in (PUBLIC, SIGNED_IN) or permission in granted
            headers = {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", "X-CSRF-Token": session["csrf"]}
            r = client.request(method, _concrete(path), headers=headers, json={} if method != "GET" else None,
                               follow_redirects=False)
            if permission == PUBLIC:  # sign-in answers 401 to a wrong password: that is not the guard
                assert r.status_code != 403, (role, method, path, r.status_code)
            elif expect_allowed:
                assert r.status_code not in (401, 403), (role, method, path, permission, r.status_code)
            else:
                assert r.status_code == 403, (role, method, path, permission, r.status_code)
            checked += 1
    assert checked > 30
    denied = db.execute_sql("SELECT count(*) FROM audit_log WHERE name = 'Запрос отклонён' AND user_name = %s",
                            (role,)).fetchone()[0]
    expected_denied = sum(1 for _, _, p in _routes(app) if p not in (PUBLIC, SIGNED_IN) and p not in granted)
    assert denied == expected_denied  # every refusal is in the audit log, naming the user


def test_signed_out_requests_are_401_for_the_api_and_go_to_sign_in_for_pages(settings, db):
    from litestar.testing import TestClient

    with TestClient(create_app(settings, db)) as client:
        assert client.get("/api/users").status_code == 401
        r = client.get("/access/audit?action=created", follow_redirects=False)
        assert r.status_code in (302, 303) and r.headers["location"] == "/login?next=/access/audit%3Faction%3Dcreated"
