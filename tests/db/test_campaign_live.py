"""The «Кампании» list follows live events by their facts (sql/024_campaign_list_live.sql): each write of leads
sends its net change by state per campaign (`lead.counts`), each change of a pool or of an operator's `active` the
operator's pools as they are (`operator.pool`); the page's picture and its live cursor come from one snapshot, so
the picture plus the events after the cursor are the figures read afresh."""
from __future__ import annotations

from collections import Counter

from dialer.models import Operator, OperatorCampaign
from dialer.services import campaigns
from web import live
from web.pages.campaigns import _list_state


def real(db) -> Counter:
    rows = db.execute_sql("SELECT campaign_id, state, count(*) FROM lead GROUP BY 1, 2").fetchall()
    return Counter({(c, s): n for c, s, n in rows})


def events(db, after: int, kind: str) -> list[dict]:
    return [d for d, in db.execute_sql("SELECT data FROM live_event WHERE id > %s AND kind = %s ORDER BY id",
                                       (after, kind)).fetchall()]


def last_id(db) -> int:
    return db.execute_sql("SELECT coalesce(max(id), 0) FROM live_event").fetchone()[0]


def test_each_write_of_leads_sends_its_net_change_by_state(db):
    a, b = campaigns.create_campaign("A")["id"], campaigns.create_campaign("B")["id"]
    new = ("INSERT INTO lead (campaign_id, external_id, phone)"
           " SELECT %s, 'E' || i, '+7900' || lpad(i::text, 7, '0') FROM generate_series(1, 20) AS i")
    steps = [
        ("insert", new, (a,)),
        ("state", "UPDATE lead SET state = 'callable' WHERE campaign_id = %s AND id %% 2 = 0", (a,)),
        ("move and change", "UPDATE lead SET campaign_id = %s, state = 'held' WHERE id %% 5 = 0", (b,)),
        ("upsert", "INSERT INTO lead (campaign_id, external_id, phone) VALUES (%s, 'E1', '+79001000001'),"
                   " (%s, 'N', '+79001000002') ON CONFLICT (campaign_id, external_id) DO UPDATE SET state = 'done'",
         (a, b)),
        ("delete", "DELETE FROM lead WHERE state = 'done' OR id %% 7 = 0", ()),
    ]
    for name, sql, args in steps:
        before, at = real(db), last_id(db)
        db.execute_sql(sql, args)
        sent = Counter()
        for e in events(db, at, "lead.counts"):
            assert set(e) == {"campaign_id", "leads"}, name
            for state, n in e["leads"].items():
                sent[(e["campaign_id"], state)] += n
        change = Counter(real(db))
        change.subtract(before)
        assert +sent == +change and -sent == -change, name  # the same non-zero changes, signs included

    at = last_id(db)
    db.execute_sql("UPDATE lead SET priority = 3")  # no lead changed state or campaign: nothing to tell
    assert events(db, at, "lead.counts") == []


def test_a_pool_change_sends_the_operators_pools_as_they_are(db):
    a, b = campaigns.create_campaign("A")["id"], campaigns.create_campaign("B")["id"]
    anna = Operator.create(name="Анна", login="anna", status="ready")
    at = last_id(db)
    OperatorCampaign.insert_many([{"operator": anna.id, "campaign": a}, {"operator": anna.id, "campaign": b}]).execute()
    assert events(db, at, "operator.pool") == [{"id": anna.id, "active": True, "status": "ready", "campaign_ids": [a, b]}]

    at = last_id(db)
    OperatorCampaign.delete().where(OperatorCampaign.campaign == a).execute()
    assert [e["campaign_ids"] for e in events(db, at, "operator.pool")] == [[b]]

    at = last_id(db)
    Operator.update(active=False).where(Operator.id == anna.id).execute()
    Operator.update(name="Анна П.").where(Operator.id == anna.id).execute()  # not a pool change: no event
    assert [(e["active"], e["campaign_ids"]) for e in events(db, at, "operator.pool")] == [(False, [b])]

    at = last_id(db)
    db.execute_sql("DELETE FROM operator WHERE id = %s", (anna.id,))  # the pools go with the operator
    assert [(e["id"], e["active"], e["campaign_ids"]) for e in events(db, at, "operator.pool")] == [(anna.id, False, [])]


def test_the_pictures_figures_and_the_events_after_its_cursor_make_the_figures_of_now(db):
    c = campaigns.create_campaign("A")["id"]
    db.execute_sql("INSERT INTO lead (campaign_id, external_id, phone)"
                   " SELECT %s, 'E' || i, '+7900' || lpad(i::text, 7, '0') FROM generate_series(1, 5) AS i", (c,))
    state, cursor = _list_state(db, "Europe/Moscow")
    leads = Counter(state["campaigns"][0]["leads"])
    assert live.missed(db, live.Cursor.parse(cursor)) == []
    db.execute_sql("UPDATE lead SET state = 'callable' WHERE campaign_id = %s AND id %% 2 = 1", (c,))
    for e in live.missed(db, live.Cursor.parse(cursor)):
        if e["kind"] == "lead.counts":
            leads.update(e["data"]["leads"])
    assert +leads == +Counter(campaigns.counters([c])[c]["leads"])
