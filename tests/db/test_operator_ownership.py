"""Who may act on an operator or a call (SPEC H3): every route that acts on one × the six roles × the user's own
operator or call and someone else's. A route's permission lets a user in; the target must then be their own
(their user is linked to the operator) or they must hold the supervisor permission that reaches every operator.
The panel only ever acts on the user's own operator, so someone else's call is refused there even to them.
Every refusal is a 403 and changes nothing: no engine command, no wrap-up, no status."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from litestar.testing import TestClient

from dialer.access import ACTS_ON_ANY_OPERATOR
from dialer.models import Attempt, Campaign, CampaignResult, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.permissions import ROLES
from dialer.services import users
from web import auth
from web.app import create_app

from .conftest import table_counts

PASSWORD = "ownership-password-1"
GRANTED = {code: perms for code, _, _, perms in ROLES}

# (method, path, body, status when allowed, error id when someone else's is refused)
OPERATOR_ROUTES = [(("POST", f"/api/operators/{{operator}}/{kind}", None), 202, "not-your-operator")
                   for kind in ("ready", "pause", "lunch", "hangup")]
OPERATOR_ROUTES.append((("POST", "/api/operators/{operator}/wrap-up", {"result": "sold", "comment": "ok"}), 202,
                        "not-your-operator"))
PANEL_ROUTES = [
    (("GET", "/api/panel/calls/{call}", None), 200, "not-your-call"),
    (("POST", "/api/panel/calls/{call}/answer", None), 409, "not-your-call"),   # own: in wrap-up, not an offer
    (("POST", "/api/panel/calls/{call}/hangup", None), 409, "not-your-call"),   # own: the call has ended
    (("POST", "/api/panel/calls/{call}/wrap-up", {"result": "sold"}), 202, "not-your-call"),
]


def wrapping_up(campaign: Campaign, name: str) -> tuple[int, int]:
    """An operator in wrap-up after an answered call (the test plays the engine): (operator id, attempt id)."""
    op = Operator.create(name=name, login=name.lower(), sip_password="secret-123", status="wrap_up")
    OperatorCampaign.create(operator=op.id, campaign=campaign.id)
    lead = Lead.create(campaign=campaign.id, external_id=f"Z-{op.id}", phone=f"+7900100{op.id:04d}",
                       name=f"Клиент {op.id}", state="in_progress")
    ended = datetime.now(timezone.utc) - timedelta(seconds=5)
    a = Attempt.create(lead=lead.id, campaign=campaign.id, operator=op.id, phone=lead.phone,
                       reserved_at=ended - timedelta(seconds=30), answered_at=ended - timedelta(seconds=20),
                       bridged_at=ended - timedelta(seconds=20), ended_at=ended, outcome="ANSWERED")
    Operator.update(attempt_id=a.id).where(Operator.id == op.id).execute()
    return op.id, a.id


@pytest.fixture
def world(settings, db):
    """Two operators in wrap-up, "own" and "other"; `as_role(code)` signs in a user of that role linked to "own"."""
    users.seed_roles()
    role_ids = {r["code"]: r["id"] for r in users.list_roles()}
    campaign = Campaign.create(name="Подтверждение")
    CampaignResult.create(campaign=campaign.id, code="sold", title="Продано")
    own, other = wrapping_up(campaign, "Own"), wrapping_up(campaign, "Other")

    def as_role(code: str) -> dict:
        users.create_user(f"{code}@example.org", code, PASSWORD, [role_ids[code]], operator_id=own[0])
        session = users.sign_in(f"{code}@example.org", PASSWORD)
        return {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", "X-CSRF-Token": session["csrf"]}

    app = create_app(settings, db)
    permission = {(m, route.path): h.opt.get("permission") for route in app.routes for h in route.route_handlers
                  for m in (getattr(h, "http_methods", None) or ())}
    with TestClient(app) as client:
        yield {"client": client, "own": own, "other": other, "as_role": as_role, "permission": permission}


def _expected(role: str, permission: str, mine: bool, allowed_status: int, refusal: str) -> tuple[int, str | None]:
    granted = GRANTED[role]
    if permission not in granted:
        return 403, "forbidden"  # the route's guard
    if mine or (refusal == "not-your-operator" and ACTS_ON_ANY_OPERATOR in granted):
        return allowed_status, None
    return 403, refusal  # the use case


def _snapshot():
    return (table_counts(), list(Operator.select(Operator.id, Operator.status, Operator.attempt_id).tuples()),
            list(Attempt.select(Attempt.id, Attempt.wrap_up_at, Attempt.wrap_up_result).tuples()))


@pytest.mark.parametrize("role", list(GRANTED))
def test_acting_on_an_operator_or_a_call_own_or_someone_elses(world, role):
    client, headers = world["client"], world["as_role"](role)
    checked = []
    for (method, template, body), allowed_status, refusal in OPERATOR_ROUTES + PANEL_ROUTES:
        route_path = template.replace("{operator}", "{operator_id:int}").replace("{call}", "{attempt_id:int}")
        permission = world["permission"][(method, route_path)]
        for mine in (True, False):
            operator_id, attempt_id = world["own"] if mine else world["other"]
            path = template.format(operator=operator_id, call=attempt_id)
            status, error = _expected(role, permission, mine, allowed_status, refusal)
            before = _snapshot()
            commands = EngineCommand.select().count()
            r = client.request(method, path, headers=headers, json=body)
            where = (role, method, path, "own" if mine else "someone else's")
            assert r.status_code == status, (*where, r.text)
            if error:
                assert r.json()["error"] == error, (*where, r.text)
            if status == 202:  # one command, for the operator the route names, and nothing else
                cmd = EngineCommand.select().order_by(EngineCommand.id.desc()).first()
                assert EngineCommand.select().count() == commands + 1 and cmd.operator_id == operator_id, where
                if template.endswith("wrap-up"):
                    assert (cmd.kind, cmd.payload["attempt_id"], cmd.payload["result"]) == ("wrap_up", attempt_id,
                                                                                           "sold"), where
            else:
                assert _snapshot() == before, where  # refused (or not applicable): nothing changed
            checked.append(where)
    assert len(checked) == 2 * (len(OPERATOR_ROUTES) + len(PANEL_ROUTES))


def test_operator_cannot_wrap_up_someone_elses_call_nor_with_a_result_the_campaign_lacks(world):
    """The reproduction: operator 1 posted operator 2's wrap-up with a made-up result and got 202."""
    client, own, other, headers = world["client"], world["own"], world["other"], world["as_role"]("operator")
    before = _snapshot()
    r = client.post(f"/api/operators/{other[0]}/wrap-up", headers=headers,
                    json={"result": "refused", "comment": "by operator1"})
    assert (r.status_code, r.json()["error"]) == (403, "not-your-operator") and r.json()["message_ru"]
    for path in (f"/api/operators/{own[0]}/wrap-up", f"/api/panel/calls/{own[1]}/wrap-up"):
        r = client.post(path, headers=headers, json={"result": "refused", "comment": "not a result of it"})
        assert (r.status_code, r.json()["field"]) == (422, "result"), r.text
        assert "sold" in r.json()["message"] and r.json()["message_ru"]
    assert _snapshot() == before
    r = client.post(f"/api/operators/{own[0]}/wrap-up", headers=headers, json={"result": "sold"})
    assert r.status_code == 202, r.text


def test_the_api_token_acts_on_any_operator(world, settings):
    client, other = world["client"], world["other"]
    token = {"Authorization": f"Bearer {settings.api_token}"}
    assert client.post(f"/api/operators/{other[0]}/wrap-up", headers=token, json={"result": "sold"}).status_code == 202
    assert client.post(f"/api/operators/{other[0]}/pause", headers=token).status_code == 202
    assert [c.kind for c in EngineCommand.select().order_by(EngineCommand.id)] == ["wrap_up", "pause"]
