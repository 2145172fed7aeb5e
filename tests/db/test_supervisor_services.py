"""The supervisor screen's use cases on a real PostgreSQL: the board, the queues, the call card, forced actions,
alerts, and the live events the screen follows (sql/009_supervisor.sql)."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import events as ev
from ari_app import offer_store, store
from ari_app.classifier import AttemptFacts
from dialer import audit, commands
from dialer.access import Principal
from dialer.errors import Conflict, Forbidden, Invalid, NotFound
from dialer.models import Alert, Attempt, Campaign, DoNotCall, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.permissions import ROLES
from dialer.services import supervisor as sv
from rules import selections

PERMS = {code: perms for code, _, _, perms in ROLES}


def who(role="supervisor", user_id=None, name="Светлана Супервайзер"):
    return Principal(user_id, name, (role,), PERMS[role])


SUPERVISOR, TESTER, OPERATOR = who(), who("tester", name="Тест"), who("operator", name="Оп")


def setup(operators=2, leads=5):
    c = Campaign.create(name="Подтверждение")
    due = datetime.now(timezone.utc) - timedelta(hours=1)  # so that calls can be placed minutes ago
    Lead.insert_many([{"campaign": c.id, "external_id": f"A-{i}", "phone": f"+7900000{i:04d}", "name": f"Клиент {i}",
                       "next_call_at": due} for i in range(leads)]).execute()
    ops = [Operator.create(name=f"Оператор {i}", login=f"o{i}", sip_password="secret-123", status="ready")
           for i in range(operators)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    return c, ops


def _minutes_ago_today(minutes):
    """`minutes` ago, or just after midnight when that was yesterday: the suite may run across midnight."""
    return max(time.time() - 60 * minutes, sv.day_start(datetime.now(timezone.utc)).timestamp() + 1)


def call(db, op, outcome="ANSWERED", at=None, talk=30.0, wrap_up=True):
    """A claimed call that ends with `outcome` (ANSWERED: talked `talk` seconds, then wrapped up unless told)."""
    at = at or _minutes_ago_today(10)
    a = store.claim(db, op.id, "pbx", "t", at, None).attempt_id
    store.record(db, a, "dial_started_at", at + 0.2)
    facts = AttemptFacts(cause=16)
    end = at + 20
    if outcome == "ANSWERED":
        store.record(db, a, "ringing_at", at + 0.5)
        store.record(db, a, "answered_at", at + 2)
        store.record(db, a, "bridged_at", at + 2)
        facts, end = AttemptFacts(answered=True, bridged=True, cause=16), at + 2 + talk
    elif outcome == "BUSY":
        facts, end = AttemptFacts(cause=17, sip_code=486, dial_status="BUSY"), at + 1
    elif outcome == "ERROR":
        facts, end = AttemptFacts(cause=34, failure="congestion"), at + 0.5
    else:
        store.record(db, a, "ringing_at", at + 0.5)
        facts = AttemptFacts(cause=19, dial_status="NOANSWER")
    store.end_attempt(db, ev.EndAttempt(a, outcome, facts, end))
    if outcome == "ANSWERED":
        Operator.update(status="wrap_up", attempt_id=a).where(Operator.id == op.id).execute()
        if wrap_up:
            store.finish_wrap_up(db, op.id, ev.FinishWrapUp(a, "confirmed", "ок", None, end + 5))
            Operator.update(status="ready").where(Operator.id == op.id).execute()
    return a


# ---- the board ----------------------------------------------------------------------------------------------
def test_the_board_shows_each_operator_their_call_and_todays_figures(db):
    c, (op, other) = setup()
    call(db, op, "ANSWERED", talk=150)
    call(db, op, "NO_ANSWER")
    live = store.claim(db, other.id, "pbx", "t", time.time(), None).attempt_id
    store.record(db, live, "answered_at", time.time())
    b = sv.board(SUPERVISOR)
    ops = {o["id"]: o for o in b["operators"]}
    figures = {o: {k: v for k, v in ops[o]["today"].items() if k != "status_s"} for o in ops}  # status_s: below
    assert figures[op.id] == {"calls": 2, "answered": 1, "talk_s": 150.0, "rating": 1 + 2}
    assert figures[other.id] == {"calls": 0, "answered": 0, "talk_s": 0.0, "rating": 0}
    assert ops[op.id]["campaign_ids"] == [c.id]
    # the operator's device (made with the operator), not registered: offline, nothing made up
    assert ops[op.id]["sip"] == {"device_id": ops[op.id]["sip"]["device_id"], "login": op.login,
                                 "registration": {"online": False}}
    [current] = [x for x in b["calls"] if x["id"] == live]
    lead = Attempt.get_by_id(live).lead
    assert (current["operator_id"], current["campaign_id"], current["client"], current["order_id"]) == (
        other.id, c.id, lead.name, lead.external_id)
    assert current["answered_at"] and not current["ended_at"]
    assert ops[other.id]["attempt_id"] == live
    [camp] = b["campaigns"]
    assert camp["outcomes"] == {"ANSWERED": 1, "NO_ANSWER": 1, "BUSY": 0, "REJECTED": 0, "LOST": 0, "ERROR": 0}
    assert list(camp["outcomes"]) == ["ANSWERED", "NO_ANSWER", "BUSY", "REJECTED", "LOST", "ERROR"]  # SPEC A2 order
    assert camp["queue"] == 5 - 3  # three leads called (two ended and retried later, one in a call)


def test_calls_of_yesterday_are_not_in_todays_figures(db):
    c, (op, _) = setup()
    old = call(db, op, "ANSWERED")
    yesterday = sv.day_start(datetime.now(timezone.utc)) - timedelta(hours=1)
    Attempt.update(ended_at=yesterday, answered_at=yesterday - timedelta(seconds=60),
                   reserved_at=yesterday - timedelta(seconds=70)).where(Attempt.id == old).execute()
    b = sv.board(SUPERVISOR)
    assert b["operators"][0]["today"]["calls"] == 0
    assert b["campaigns"][0]["outcomes"]["ANSWERED"] == 0


def test_a_just_ended_attempt_is_named_so_the_page_counts_it_once(db):
    c, (op, _) = setup()
    a = call(db, op, "BUSY", at=time.time() - 5)
    assert a in sv.board(SUPERVISOR)["ended_recent"]


def test_queues_count_what_the_selections_would_call_now(db):
    c, _ = setup(operators=0, leads=6)
    plain = Campaign.create(name="Без выборок")
    Lead.insert_many([{"campaign": plain.id, "external_id": f"P-{i}", "phone": f"+7911000{i:04d}"}
                      for i in range(3)]).execute()
    DoNotCall.create(phone="+79110000000", source="supervisor")  # never callable
    Lead.update(next_call_at=datetime.now(timezone.utc) + timedelta(hours=1)).where(
        Lead.external_id == "P-1").execute()  # not due yet
    assert sv.queues(SUPERVISOR)[plain.id] == 1
    Lead.update(amount=100).where(Lead.campaign == c.id, Lead.external_id.in_(["A-0", "A-1", "A-2"])).execute()
    Lead.update(city="Омск").where(Lead.campaign == c.id, Lead.external_id.in_(["A-2", "A-3"])).execute()
    big = {"conditions": [[{"field": "amount", "op": "gt", "value": 50}]]}
    omsk = {"conditions": [[{"field": "city", "op": "eq", "value": "Омск"}]]}
    selections.create_selection(c.id, "Крупные", big)
    second = selections.create_selection(c.id, "Омск", omsk)
    assert sv.queues(SUPERVISOR)[c.id] == 4  # A-0..A-3; A-2 matched by both is counted once
    selections.update_selection(second["id"], enabled=False)
    assert sv.queues(SUPERVISOR)[c.id] == 3
    Campaign.update(active=False).where(Campaign.id == c.id).execute()
    assert sv.queues(SUPERVISOR)[c.id] == 3  # a paused campaign still shows what it would call


# ---- the call card --------------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome", ["ANSWERED", "NO_ANSWER", "BUSY", "ERROR"])
def test_call_card_stages_add_up_to_the_calls_total(db, outcome):
    c, (op, _) = setup()
    a = call(db, op, outcome)
    card = sv.call_detail(SUPERVISOR, a)
    row = Attempt.get_by_id(a)
    last = row.wrap_up_at or row.ended_at
    assert card["total_s"] == pytest.approx((last - row.reserved_at).total_seconds())
    assert sum(s["seconds"] for s in card["stages"]) == pytest.approx(card["total_s"])
    assert card["outcome"] == outcome and card["colour"].startswith("#")
    assert (card["hangup_cause"], card["operator"]["name"], card["campaign"]["name"]) == (
        row.hangup_cause, op.name, "Подтверждение")
    assert "events" not in card  # the raw events need monitoring.read
    if outcome == "ANSWERED":
        assert [s["stage"] for s in card["stages"]][-2:] == ["talk", "wrap_up"]
        assert (card["result"], card["comment"]) == ("confirmed", "ок")
    if outcome == "BUSY":
        assert card["sip_code"] == 486
    assert card["crm"]["state"] == "none"


def test_raw_events_are_shown_to_monitoring_holders_only(db):
    c, (op, _) = setup()
    a = call(db, op, "NO_ANSWER")
    kinds = [e["kind"] for e in sv.call_detail(who("syssupervisor"), a)["events"]]
    assert kinds[0] == "reserved" and "ended" in kinds
    assert "monitoring.read" not in PERMS["supervisor"] and "events" not in sv.call_detail(SUPERVISOR, a)


def test_unknown_call_is_404(db):
    with pytest.raises(NotFound):
        sv.call_detail(SUPERVISOR, 999999)


# ---- forced actions ----------------------------------------------------------------------------------------
def _audit(name_like):
    return Attempt._meta.database.execute_sql(
        "SELECT user_name, user_role, object_type, object_id, changes FROM audit_log WHERE name LIKE %s ORDER BY at",
        (name_like,)).fetchall()


def test_forced_status_goes_to_the_engine_through_the_contract_and_is_audited(db):
    c, (op, other) = setup()
    Operator.update(status="in_call").where(Operator.id == other.id).execute()
    with audit.acting_as(audit.Actor(7, "Светлана", "supervisor")):
        r = sv.force_status(SUPERVISOR, op.id, "pause")
        r2 = sv.force_status(SUPERVISOR, other.id, "lunch")
    assert (r["kind"], r["after_call"], r2["after_call"]) == ("pause", False, True)
    cmd = EngineCommand.get_by_id(r["command_id"])
    assert commands.parse(cmd.kind, cmd.payload) == commands.Pause()
    rows = _audit("Супервайзер: статус%")
    assert [(u, role, t, oid) for u, role, t, oid, _ in rows] == [
        ("Светлана", "supervisor", "operator", str(op.id)), ("Светлана", "supervisor", "operator", str(other.id))]
    assert rows[0][4]["status"] == ["ready", "pause"]


def test_forced_status_refuses_what_is_not_a_status_and_changes_nothing(db, unchanged):
    c, (op, _) = setup()
    with unchanged():
        for bad in ("wrap_up", "offline", "", None, 1):
            with pytest.raises(Invalid):
                sv.force_status(SUPERVISOR, op.id, bad)
        with pytest.raises(NotFound):
            sv.force_status(SUPERVISOR, 999999, "ready")


def test_end_call_needs_a_live_call(db, unchanged):
    c, (op, other) = setup()
    with unchanged():
        with pytest.raises(Conflict) as e:
            sv.force_hangup(SUPERVISOR, op.id)
    assert e.value.code == "no-call"
    a = store.claim(db, other.id, "pbx", "t", time.time(), None).attempt_id
    r = sv.force_hangup(SUPERVISOR, other.id)
    assert r["attempt_id"] == a
    cmd = EngineCommand.get_by_id(r["command_id"])
    assert (cmd.operator_id, commands.parse(cmd.kind, cmd.payload)) == (other.id, commands.Hangup())
    assert _audit("Супервайзер: звонок оператора завершён")


def test_release_from_wrap_up_finishes_the_wrap_up_of_that_call(db, unchanged):
    c, (op, _) = setup()
    with unchanged():
        with pytest.raises(Conflict) as e:
            sv.force_release(SUPERVISOR, op.id)
    assert e.value.code == "operator-not-in-wrap-up"
    a = call(db, op, "ANSWERED", wrap_up=False)
    r = sv.force_release(SUPERVISOR, op.id)
    cmd = EngineCommand.get_by_id(r["command_id"])
    assert commands.parse(cmd.kind, cmd.payload) == commands.WrapUp(attempt_id=a, result=sv.RELEASED)
    [(_, _, _, oid, changes)] = _audit("Супервайзер: оператор освобождён%")
    assert oid == str(op.id) and changes["attempt_id"] == [None, a]


def test_pause_and_resume_a_campaign_is_audited_and_reaches_the_screen(db):
    c, _ = setup(operators=0)
    with audit.acting_as(audit.Actor(7, "Светлана", "supervisor")):
        r = sv.set_campaign_active(SUPERVISOR, c.id, False)
        again = sv.set_campaign_active(SUPERVISOR, c.id, False)
        sv.set_campaign_active(SUPERVISOR, c.id, True)
    assert (r["changed"], again["changed"]) == (True, False)
    assert Campaign.get_by_id(c.id).active is True
    names = [row[0] for row in db.execute_sql("SELECT name FROM audit_log WHERE object_type = 'campaign' ORDER BY at")]
    assert names == ["Супервайзер: кампания приостановлена", "Супервайзер: кампания возобновлена"]
    events = db.execute_sql("SELECT permission, data FROM live_event WHERE kind = 'campaign' ORDER BY id").fetchall()
    assert [(p, d["active"]) for p, d in events] == [("supervisor.view", False), ("supervisor.view", True)]
    with pytest.raises(NotFound):
        sv.set_campaign_active(SUPERVISOR, 999999, False)


# ---- alerts ----------------------------------------------------------------------------------------------
def test_alerts_are_acknowledged_once_with_who_and_when(db):
    c, (op, _) = setup()
    a = Alert.create(kind="operator_missed_offers", operator=op.id, campaign=c.id, text_ru="Оператор пропустил 3",
                     text_en="Operator missed 3")
    [listed] = sv.alerts(SUPERVISOR)
    assert (listed["id"], listed["operator"], listed["campaign"], listed["acknowledged_at"]) == (
        a.id, op.name, c.name, None)
    with audit.acting_as(audit.Actor(7, "Светлана", "supervisor")):
        r = sv.acknowledge_alert(who(user_id=None), a.id)
    assert r["acknowledged_by_name"] == "Светлана Супервайзер" and r["acknowledged_at"]
    row = db.execute_sql("SELECT acknowledged_at, acknowledged_by_name FROM alert WHERE id = %s", (a.id,)).fetchone()
    assert row[0] is not None and row[1] == "Светлана Супервайзер"
    with pytest.raises(Conflict) as e:
        sv.acknowledge_alert(SUPERVISOR, a.id)
    assert e.value.code == "alert-acknowledged"
    with pytest.raises(NotFound):
        sv.acknowledge_alert(SUPERVISOR, 999999)
    [(user, _, otype, oid, changes)] = _audit("Оповещение принято")
    assert (user, otype, oid, changes["acknowledged_by"]) == ("Светлана", "alert", str(a.id), [None, "Светлана Супервайзер"])
    events = db.execute_sql("SELECT permission, data FROM live_event WHERE kind = 'alert' ORDER BY id").fetchall()
    assert [p for p, _ in events] == ["supervisor.alerts", "supervisor.alerts"]  # raised, then acknowledged
    assert events[1][1]["acknowledged_by_name"] == "Светлана Супервайзер"
    assert sv.alerts(SUPERVISOR)[0]["acknowledged_by_name"] == "Светлана Супервайзер"  # today's stay listed


def test_a_withdrawn_offer_tells_the_screen_its_call_is_gone(db):
    c, (op, _) = setup()
    a = store.claim(db, op.id, "pbx", "t", time.time(), None).attempt_id
    offer_store.release_offer(db, a, time.time(), missed=True)
    [(perm, oid, data)] = db.execute_sql("SELECT permission, operator_id, data FROM live_event"
                                         " WHERE kind = 'attempt.gone'").fetchall()
    assert (perm, oid, data["id"], data["campaign_id"]) == ("calls.read", op.id, a, c.id)


# ---- who may ------------------------------------------------------------------------------------------
def test_the_tester_sees_and_cannot_act_and_the_operator_sees_nothing(db, unchanged):
    c, (op, _) = setup()
    a = call(db, op, "ANSWERED", wrap_up=False)
    alert = Alert.create(kind="operator_missed_offers", operator=op.id, text_ru="т", text_en="t")
    assert sv.board(TESTER)["operators"] and sv.call_detail(TESTER, a)["id"] == a
    acts = [lambda p: sv.force_status(p, op.id, "pause"), lambda p: sv.force_hangup(p, op.id),
            lambda p: sv.force_release(p, op.id), lambda p: sv.set_campaign_active(p, c.id, False),
            lambda p: sv.acknowledge_alert(p, alert.id), lambda p: sv.alerts(p)]
    reads = [lambda p: sv.board(p), lambda p: sv.queues(p), lambda p: sv.calls_brief(p, [a]),
             lambda p: sv.call_detail(p, a)]
    with unchanged():
        for act in acts:
            with pytest.raises(Forbidden):
                act(TESTER)
        for act in acts + reads:
            with pytest.raises(Forbidden):
                act(OPERATOR)
    assert Campaign.get_by_id(c.id).active and Alert.get_by_id(alert.id).acknowledged_at is None
