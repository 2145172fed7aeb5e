"""Idle operators are woken by news that may bring them a lead (sql/026_engine_leads_wake.sql): leads written
callable, campaign / selection / pool / skill changes, a number taken off the do-not-call list — never by a claim."""
from __future__ import annotations

import select

import psycopg2
import psycopg2.extensions
import pytest

from dialer.services import campaigns

NEW = ("INSERT INTO lead (campaign_id, external_id, phone)"
       " SELECT %s, 'E' || i, '+7900' || lpad(i::text, 7, '0') FROM generate_series(1, 5) AS i")


@pytest.fixture
def listener(settings):
    conn = psycopg2.connect(**settings.dsn)
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    conn.cursor().execute("LISTEN engine_leads")

    def heard() -> int:
        """How many notifications of the channel arrived for what was committed so far."""
        conn.cursor().execute("SELECT 1")  # a round trip: everything committed before it has been delivered
        select.select([conn], [], [], 0)
        conn.poll()
        n = sum(1 for note in conn.notifies if note.channel == "engine_leads")
        conn.notifies.clear()
        return n

    yield heard
    conn.close()


def test_what_may_bring_a_lead_wakes_and_a_claim_does_not(db, listener):
    cid = campaigns.create_campaign("A")["id"]
    op = db.execute_sql("INSERT INTO operator (login, name) VALUES ('w1', 'W') RETURNING id").fetchone()[0]
    listener()
    steps = [  # (what, statement, args, wakes)
        ("leads imported", NEW, (cid,), True),
        ("a lead claimed", "UPDATE lead SET state = 'in_progress' WHERE id = (SELECT min(id) FROM lead)", (), False),
        ("a lead done", "UPDATE lead SET state = 'done' WHERE state = 'in_progress'", (), False),
        ("a call ended for a retry", "UPDATE lead SET state = 'callable' WHERE state = 'done'", (), True),
        ("leads' priority only", "UPDATE lead SET priority = 2 WHERE state = 'in_progress'", (), False),
        ("the campaign resumed", "UPDATE campaign SET active = true WHERE id = %s", (cid,), True),
        ("a pool changed", "INSERT INTO operator_campaign (operator_id, campaign_id) VALUES (%s, %s)", (op, cid), True),
        ("a skill given", "INSERT INTO operator_skill (operator_id, skill, level) VALUES (%s, 'vip', 3)", (op,), True),
        ("a number put on the list", "INSERT INTO do_not_call (phone) VALUES ('+79000000001')", (), False),
        ("a number taken off the list", "DELETE FROM do_not_call", (), True),
    ]
    for what, sql, args, wakes in steps:
        db.execute_sql(sql, args)
        assert listener() == (1 if wakes else 0), what


def test_many_callable_leads_in_one_statement_wake_once(db, listener):
    cid = campaigns.create_campaign("A")["id"]
    listener()
    db.execute_sql(NEW, (cid,))
    db.execute_sql("UPDATE lead SET state = 'callable'")
    assert listener() == 2  # one per statement, not one per lead
