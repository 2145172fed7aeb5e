"""The audit log records who changed what, inside the change's own transaction."""
import pytest

from dialer import audit
from dialer.access import ACTING_SYSTEM


def entries(db):
    return db.execute_sql("SELECT user_id, user_name, user_role, action, name, object_type, object_id, changes"
                          " FROM audit_log ORDER BY id").fetchall()


def test_entry_names_the_actor_and_only_changed_fields(db):
    with audit.acting_as(audit.Actor(7, "Анна", "supervisor")), db.atomic():
        audit.record(db, "updated", "campaign", 3, name="Кампания изменена",
                     old={"name": "A", "max_attempts": 5, "token": "x1"},
                     new={"name": "B", "max_attempts": 5, "token": "x2"}, secret=frozenset({"token"}))
    assert entries(db) == [(7, "Анна", "supervisor", "updated", "Кампания изменена", "campaign", "3",
                            {"name": ["A", "B"], "token": ["***", "***"]})]


def test_without_an_actor_the_system_is_named(db):
    audit.record(db, "created", "lead", 1, name="Заказ создан", new={"phone": "+79000000001"})
    assert entries(db)[0][:4] == (None, "system", "system", "created")


def test_a_rolled_back_change_leaves_no_entry(db):
    with pytest.raises(RuntimeError), db.atomic():
        audit.record(db, "deleted", "operator", 2, name="Оператор удалён", old={"login": "a"})
        raise RuntimeError("the change failed")
    assert entries(db) == []


def test_unknown_action_is_refused(db):
    with pytest.raises(ValueError):
        audit.record(db, "renamed", "lead", 1, name="x")


def test_partitions_exist_months_ahead(db):
    months = db.execute_sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass").fetchone()[0]
    assert months >= 4  # this month and three ahead


def test_changes_made_through_the_services_are_audited(db):
    from dialer.services import campaigns, leads, operators

    with audit.acting_as(audit.Actor(1, "admin@dialer.local", "admin")):
        cid = campaigns.create_campaign("Аудит")["id"]
        oid = operators.create_operator("Анна", "anna", "secret-pass-1", [cid])["id"]
        operators.set_campaigns(oid, [])
        leads.import_csv(cid, "external_id,phone,name\nA1,+79000000001,Иван\nA2,not-a-phone,Пётр\n")
        operators.request(ACTING_SYSTEM, oid, "ready")
    rows = db.execute_sql("SELECT action, object_type, object_id, changes FROM audit_log ORDER BY id").fetchall()
    by_type = [(a, t) for a, t, _, _ in rows]
    assert ("created", "campaign") in by_type and ("created", "operator") in by_type
    created_op = next(c for a, t, _, c in rows if (a, t) == ("created", "operator"))
    assert created_op["sip_password"] == [None, "***"]  # a secret is never stored
    assert next(c for a, t, _, c in rows if (a, t) == ("updated", "operator")) == {"campaign_ids": [[cid], []]}
    assert next(c for a, t, _, c in rows if (a, t) == ("custom", "campaign"))["imported"] == [None, 1]
    assert ("custom", "operator") in by_type
    assert db.execute_sql("SELECT count(*) FROM audit_log WHERE user_id = 1").fetchone()[0] == len(rows)
