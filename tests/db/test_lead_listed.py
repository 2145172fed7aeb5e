"""`lead.listed` (sql/027) on a real PostgreSQL: the lead's number is on the do-not-call list, whichever table is
written and however — a lead written, its number changed, numbers added, taken off, corrected, the list emptied,
the flag set by hand — it always equals the list; and the counts that read it (`rules.selections.preview`,
`rules.idle`) read the leads from `lead_count_idx` alone."""
import re
from datetime import datetime, timezone

import pytest

from dialer.models import Campaign, DoNotCall, Lead
from rules import dnc, idle, selections
from rules.model import validate

A, B, C = "+79001110001", "+79001110002", "+79001110003"


@pytest.fixture
def campaigns(db):
    return [Campaign.insert(name=f"listed {k}").execute() for k in (1, 2)]


def lead(cid, phone, external_id):
    return Lead.insert(campaign=cid, phone=phone, external_id=external_id).execute()


def flags(db) -> dict[str, bool]:
    """external id → listed, and the list's own answer must be the same for every lead."""
    rows = db.execute_sql("""SELECT external_id, listed, EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone = l.phone)
                               FROM lead l ORDER BY external_id""").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(r[0], r[2]) for r in rows]
    return {r[0]: r[1] for r in rows}


def test_a_lead_written_with_a_listed_number_is_listed(db, campaigns):
    dnc.add(A)
    lead(campaigns[0], A, "a1")
    lead(campaigns[1], B, "b2")
    Lead.insert_many([{"campaign": campaigns[1], "phone": p, "external_id": x} for p, x in ((A, "a2"), (C, "c2"))]
                     ).execute()
    assert flags(db) == {"a1": True, "a2": True, "b2": False, "c2": False}


def test_numbers_added_and_taken_off_the_list_mark_every_campaigns_leads(db, campaigns):
    for cid, phone, x in ((campaigns[0], A, "a1"), (campaigns[1], A, "a2"), (campaigns[0], B, "b1"),
                          (campaigns[1], C, "c2")):
        lead(cid, phone, x)
    assert set(flags(db).values()) == {False}
    dnc.add(A)
    assert flags(db) == {"a1": True, "a2": True, "b1": False, "c2": False}
    # an import: many numbers in one statement, one of them already listed
    DoNotCall.insert_many([{"phone": p, "source": "import"} for p in (B, C)]).execute()
    assert set(flags(db).values()) == {True}
    dnc.remove(A)
    assert flags(db) == {"a1": False, "a2": False, "b1": True, "c2": True}
    DoNotCall.delete().where(DoNotCall.phone.in_([B, C])).execute()
    assert set(flags(db).values()) == {False}


def test_a_number_changed_on_either_side(db, campaigns):
    lead(campaigns[0], A, "a1")
    lead(campaigns[0], B, "b1")
    dnc.add(A)
    # the lead's number corrected by the CRM: off the list, onto it
    Lead.update(phone=C).where(Lead.external_id == "a1").execute()
    Lead.update(phone=A).where(Lead.external_id == "b1").execute()
    assert flags(db) == {"a1": False, "b1": True}
    # the listed number itself corrected
    DoNotCall.update(phone=C).where(DoNotCall.phone == A).execute()
    assert flags(db) == {"a1": True, "b1": False}


def test_the_list_emptied_and_the_flag_set_by_hand(db, campaigns):
    lead(campaigns[0], A, "a1")
    lead(campaigns[0], B, "b1")
    dnc.add(A)
    Lead.update(listed=False).execute()  # a hand-made fix that would dial a listed number: the list decides
    Lead.update(listed=True).where(Lead.external_id == "b1").execute()
    Lead.insert(campaign=campaigns[1], phone=C, external_id="c2", listed=True).execute()
    assert flags(db) == {"a1": True, "b1": False, "c2": False}
    db.execute_sql("TRUNCATE do_not_call")
    assert flags(db) == {"a1": False, "b1": False, "c2": False}


def test_a_statement_of_many_leads_keeps_the_counts_by_state(db, campaigns):
    """The leads-by-state counts (sql/020) of statements over thousands of leads, some moving, most not: the
    moved ones found by one join (the check before it grew with the square of the statement's leads)."""
    db.execute_sql("""INSERT INTO lead (campaign_id, external_id, phone)
                      SELECT %s, 'm' || i, '+7902' || lpad(i::text, 7, '0') FROM generate_series(1, 3000) i""",
                   (campaigns[0],))
    db.execute_sql("UPDATE lead SET priority = priority + 1")  # nobody moves
    db.execute_sql("UPDATE lead SET state = CASE WHEN id %% 3 = 0 THEN 'done' ELSE state END,"
                   " campaign_id = CASE WHEN id %% 5 = 0 THEN %s ELSE campaign_id END", (campaigns[1],))
    DoNotCall.insert_many([{"phone": f"+7902{i:07d}", "source": "import"} for i in range(1, 3001, 2)]).execute()
    counted = db.execute_sql("SELECT campaign_id, state, sum(leads) FROM campaign_lead_count"
                             " GROUP BY 1, 2 HAVING sum(leads) <> 0 ORDER BY 1, 2").fetchall()
    actual = db.execute_sql("SELECT campaign_id, state, count(*) FROM lead GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    assert [tuple(r) for r in counted] == [tuple(r) for r in actual] and len(actual) == 4
    assert sum(flags(db).values()) == 1500


def test_the_counts_follow_the_list(db, campaigns):
    for k, phone in enumerate((A, B, C)):
        lead(campaigns[0], phone, f"x{k}")
    rule = {"conditions": []}
    assert selections.preview(campaigns[0], rule)["matches_now"] == 3
    dnc.add(B)
    assert selections.preview(campaigns[0], rule) | {"at": None} == {
        "campaign_id": campaigns[0], "matches_conditions": 3, "matches_now": 2, "at": None}
    reasons = idle.idle_reasons(campaigns[0])
    assert reasons["leads"]["do_not_call"] == 1 and reasons["callable_now"] == 2
    dnc.remove(B)
    assert selections.preview(campaigns[0], rule)["matches_now"] == 3
    assert idle.idle_reasons(campaigns[0])["leads"]["do_not_call"] == 0


@pytest.mark.parametrize("rule,index_only", [
    ({"conditions": [[{"field": "amount", "op": "between", "value": [100, 500]},
                      {"field": "region", "op": "ne", "value": "Тверь"}]],
      "limits": {"max_per_day": 3, "min_pause_minutes": 30}, "window": {"from": "08:00", "to": "22:00"}}, True),
    ({"conditions": [[{"field": "created_at", "op": "within", "value": [-3, 0]},
                      {"field": "product", "op": "in", "value": ["a", "b"]}]], "limits": {"max_attempts": 4}}, True),
    ({"conditions": [[{"field": "name", "op": "contains", "value": "Ив"}]]}, False),
    ({"conditions": [[{"field": "attrs.segment", "op": "eq", "value": "vip"}]]}, False),
])
def test_a_count_on_the_usual_fields_reads_the_index_alone(db, campaigns, rule, index_only):
    """Every column the count's SQL statement reads is in `lead_count_idx` (so PostgreSQL can answer it from the
    index alone, an index-only scan; bench.campaign_pages shows the plan) when the rule speaks of the usual fields;
    a rule on the name or a CRM attribute reads the rows. (The editor counts the first kind over the campaign's
    columns held in memory, rules/lead_cache.py; the statement counts a campaign too big to hold.)"""
    sql, _ = selections.preview_query(Campaign.get_by_id(campaigns[0]), validate(rule),
                                      datetime.now(timezone.utc)).sql()
    statements = [sql]
    assert "do_not_call" not in statements[0]
    read = set(re.findall(r'"t1"\."(\w+)"', statements[0]))
    covered = {r[0] for r in db.execute_sql(
        """SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indexrelid = 'lead_count_idx'::regclass""").fetchall()}
    assert {"campaign_id", "state", "next_call_at", "listed"} <= read
    assert (read <= covered) is index_only, read - covered
