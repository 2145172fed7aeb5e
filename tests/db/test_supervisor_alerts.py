"""Alerts a job raises (dialer/services/alerts.py) on a real PostgreSQL: a CRM connection unreachable and a campaign
with Ready operators and nothing to dial — one alert per cause and object while it lasts, cleared when the cause
goes away, raised anew when it comes back; each reaches the supervisor's screen as a live `alert` event."""
from datetime import datetime, timedelta, timezone

from dialer.models import Alert, Campaign, Lead, Operator, OperatorCampaign
from dialer.services import alerts
from dialer.services import supervisor as sv
from dialer.access import Principal
from dialer.permissions import ROLES

SUPERVISOR = Principal(None, "Светлана", ("supervisor",), dict((c, p) for c, _, _, p in ROLES)["supervisor"])


def now():
    return datetime.now(timezone.utc)


def alert_events(db):
    return [r[0] for r in db.execute_sql("SELECT data FROM live_event WHERE kind = 'alert' ORDER BY id").fetchall()]


def test_a_campaign_with_ready_operators_and_nothing_to_dial(db):
    c = Campaign.create(name="Повторные продажи")
    idle = Campaign.create(name="Без операторов")  # nothing to dial either, but nobody waits for it
    ops = [Operator.create(name=f"О{i}", login=f"o{i}", sip_password="secret-123", status="ready") for i in range(2)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    watch = alerts.Watch()
    assert watch.check(db, now()) == ([], [])  # seen once: a queue may be empty for a moment
    raised, _ = watch.check(db, now())
    assert [(a.kind, a.object_key) for a in raised] == [(alerts.NO_LEADS, f"campaign:{c.id}")]
    [alert] = list(Alert.select())
    assert alert.campaign_id == c.id and "Повторные продажи" in alert.text_ru and "«Готов»: 2" in alert.text_ru
    assert not any(a.object_key == f"campaign:{idle.id}" for a in raised)

    # acknowledged while the cause lasts: not raised again
    sv.acknowledge_alert(SUPERVISOR, alert.id)
    for _ in range(3):
        assert watch.check(db, now()) == ([], [])
    assert Alert.select().count() == 1

    # leads arrive: cleared (the screen hears of it), then they run out again: a new alert
    Lead.create(campaign=c.id, external_id="A-1", phone="+79000000001", next_call_at=now() - timedelta(minutes=1))
    assert watch.check(db, now())[1] == [(alerts.NO_LEADS, f"campaign:{c.id}")]
    assert alert_events(db)[-1]["cleared_at"] is not None
    Lead.delete().execute()
    watch.check(db, now())
    watch.check(db, now())
    assert Alert.select().count() == 2
    assert db.execute_sql("SELECT count(*) FROM alert WHERE cleared_at IS NULL").fetchone()[0] == 1
    listed = sv.alerts(SUPERVISOR)
    assert [a["cleared_at"] is None for a in listed] == [True, False]  # the open one first

    # nobody Ready any more: cleared
    Operator.update(status="paused").execute()
    assert watch.check(db, now())[1] == [(alerts.NO_LEADS, f"campaign:{c.id}")]


def test_a_paused_campaign_or_one_with_leads_raises_nothing(db):
    c = Campaign.create(name="С заказами")
    stopped = Campaign.create(name="Остановлена", active=False)
    op = Operator.create(name="О", login="o1", sip_password="secret-123", status="ready")
    OperatorCampaign.insert_many([{"operator": op.id, "campaign": x.id} for x in (c, stopped)]).execute()
    Lead.create(campaign=c.id, external_id="A-1", phone="+79000000001", next_call_at=now() - timedelta(minutes=1))
    watch = alerts.Watch()
    for _ in range(3):
        assert watch.check(db, now()) == ([], [])


def test_a_crm_unreachable_once_per_outage(db):
    c = Campaign.create(name="CRM")
    (conn,) = db.execute_sql("INSERT INTO crm_connection (name, kind, campaign_id, inbound_token) VALUES"
                             " ('Магазин', 'leadvertex', %s, repeat('x', 24)) RETURNING id", (c.id,)).fetchone()

    def outage():
        return db.execute_sql("INSERT INTO crm_alert (connection_id, raised_at, message, message_ru) VALUES"
                              " (%s, now(), 'CRM «Магазин» unreachable for 5 min: 503',"
                              " 'CRM «Магазин» недоступна 5 мин: 503') RETURNING id", (conn,)).fetchone()[0]

    watch = alerts.Watch()
    first = outage()
    raised, _ = watch.check(db, now())  # at once: the CRM's own alert has waited for its limit already
    assert [(a.kind, a.object_key) for a in raised] == [(alerts.CRM_UNREACHABLE, f"crm_connection:{conn}")]
    assert watch.check(db, now()) == ([], [])
    [alert] = list(Alert.select())
    assert alert.text_ru == "CRM «Магазин» недоступна 5 мин: 503" and alert.campaign_id == c.id
    assert alert_events(db)[-1]["text_ru"] == alert.text_ru  # on the supervisor's screen, live

    db.execute_sql("UPDATE crm_alert SET cleared_at = now() WHERE id = %s", (first,))
    assert watch.check(db, now())[1] == [(alerts.CRM_UNREACHABLE, f"crm_connection:{conn}")]
    outage()
    watch.check(db, now())
    assert Alert.select().count() == 2


def test_the_database_keeps_one_open_alert_per_cause_and_object(db):
    c = Campaign.create(name="Пусто")
    op = Operator.create(name="О", login="o1", sip_password="secret-123", status="ready")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    one, two = alerts.Watch(), alerts.Watch()
    for w in (one, two):
        w.check(db, now())
    # both decide to raise; the unique index keeps one
    for w in (one, two):
        w.streaks = {(alerts.NO_LEADS, f"campaign:{c.id}"): 1}
        db.execute_sql(alerts._RAISE_SQL, (alerts.NO_LEADS, f"campaign:{c.id}", c.id, "ru", "en"))
    assert Alert.select().count() == 1
