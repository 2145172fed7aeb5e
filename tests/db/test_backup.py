"""Backups over PostgreSQL's own tools (issue 19, SPEC K3): `dialer backup` while calls are being written, the
database changed afterwards, then `restore` into a fresh cluster started by our scripts — every table's rows and
the audit log's partitions as they were at the backup; a streaming standby promoted.

The extra clusters live under the test state directory on ports of their own (the run's port + 100 and + 101)
and are stopped and removed at the end."""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer import backup, pg
from dialer.dev.testing import until
from dialer.models import Attempt, Lead, Operator, OperatorCampaign
from dialer.services import campaigns

TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"""
PARTITIONS_SQL = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1"""


def counts(s) -> dict[str, int]:
    """Every table's rows (partitions and all), through a connection of its own."""
    with psycopg2.connect(**s.dsn) as conn, conn.cursor() as cur:
        cur.execute(TABLES_SQL)
        tables = [r[0] for r in cur.fetchall()]
        out = {}
        for t in tables:
            cur.execute(FOLDED.get(t, f'SELECT count(*) FROM "{t}"'))
            out[t] = cur.fetchone()[0]
        return out


# tables of signed contributions (sql/020): a snapshot may hold a writer's rows not folded yet — what they say counts
FOLDED = {"campaign_lead_count": "SELECT count(*) FROM (SELECT 1 FROM campaign_lead_count GROUP BY campaign_id, state"
                                 " HAVING sum(leads) <> 0) folded"}


def one(s, sql):
    with psycopg2.connect(**s.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture
def other_cluster(settings):
    """A fresh cluster of our scripts' making (like `dialer setup`'s), on its own port; gone afterwards."""
    made = []

    def make(name: str, port_offset: int, start: bool = True):
        s = replace(settings, state_dir=Path(settings.state_dir) / name, db_port=settings.db_port + port_offset)
        pg.stop(s) if (pg.data_dir(s) / "PG_VERSION").exists() else None
        shutil.rmtree(s.state_dir, ignore_errors=True)
        made.append(s)
        if start:
            pg.start(s)
        return s

    yield make
    for s in made:
        if (pg.data_dir(s) / "PG_VERSION").exists():
            pg.stop(s)
        shutil.rmtree(s.state_dir, ignore_errors=True)


def call_centre(db):
    """A campaign (audited: the audit log gets rows), leads, operators, and calls that ended."""
    c = campaigns.create_campaign("Резервная копия", 3, 3600, 30, "", 0, True)
    Lead.insert_many([{"campaign": c["id"], "external_id": str(i), "phone": f"+7900500{i:04d}"}
                      for i in range(400)]).execute()
    ops = [Operator.create(name=f"b{i}", login=f"b{i}", sip_password="secret-123") for i in range(4)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c["id"]} for o in ops]).execute()
    for op in ops[:2]:
        call(db, op.id, "NO_ANSWER")
    return c, ops


def call(db, operator_id: int, outcome: str) -> int:
    """One call written as the engine writes it (an attempt opened, stamped, ended)."""
    with db.atomic():
        lead = Lead.select().where(Lead.state == "new").order_by(Lead.id).first()
        Lead.update(state="in_progress").where(Lead.id == lead.id).execute()
        a = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=operator_id, server="pbx",
                           phone=lead.phone)
    store.record(db, a.id, "dial_started_at", time.time())
    store.end_attempt(db, ev.EndAttempt(a.id, outcome, AttemptFacts(), time.time()))
    return a.id


def test_backup_while_calls_go_on_then_restore_into_a_fresh_cluster(settings, db, other_cluster, tmp_path):
    c, ops = call_centre(db)
    before = counts(settings)
    partitions = one(settings, PARTITIONS_SQL)
    assert len(partitions) >= 2  # this month's and the months ahead (sql/002_audit.sql)
    audit_rows = sum(v for k, v in before.items() if k.startswith("audit_log"))
    assert audit_rows >= 1  # the campaign's creation

    # calls keep being written while the dump runs
    stop = threading.Event()
    written = []

    def calls_going_on():
        with db.connection_context():
            while not stop.is_set():
                written.append(call(db, ops[2 + len(written) % 2].id, "BUSY"))

    writer = threading.Thread(target=calls_going_on)
    writer.start()
    try:
        until(lambda: len(written) >= 3, 10, 0.01, "calls being written")
        archive = tmp_path / "dialer.dump"
        done = backup.backup(settings, archive)
        until(lambda: len(written) >= done["tables"] // 10 + 6, 10, 0.01, "calls written after the backup")
    finally:
        stop.set()
        writer.join()
    assert archive.is_file() and not archive.with_name(archive.name + ".part").exists()

    during = counts(settings)  # the calls written, before the changes below
    # the database changes after the backup: a campaign more, an operator's lead gone
    campaigns.create_campaign("После копии", 3, 3600, 30, "", 0, True)
    db.execute_sql("DELETE FROM operator_campaign WHERE operator_id = %s", (ops[3].id,))
    after = counts(settings)

    fresh = other_cluster("restore-cluster", 100)
    applied = backup.restore(fresh, archive)
    assert applied == []  # the backup had every migration of this code
    restored = counts(fresh)
    assert set(restored) == set(before)  # every table, each partition of the audit log among them
    # the tables the calls did not write hold exactly what they held before (nothing of the changes after it);
    # those they wrote, what the snapshot saw: at least what was there before, at most what the calls left
    for table, n in before.items():
        if table in FOLDED:
            continue  # what it says is checked against the restored leads below (a call live at the snapshot moves a lead)
        if during[table] == n:
            assert restored[table] == n, table
        else:
            assert n <= restored[table] <= during[table], table
    assert restored["campaign"] == before["campaign"] < after["campaign"]
    assert restored["operator_campaign"] == before["operator_campaign"] > after["operator_campaign"]
    assert sum(v for k, v in restored.items() if k.startswith("audit_log")) == audit_rows
    # the calls: those before the backup, some of those during it, none of those after it — and one snapshot:
    # every ended attempt counted once in the counters the same transactions wrote
    assert before["attempt"] < restored["attempt"] < after["attempt"]
    # the leads by state the campaign list reads are the restored leads' own
    kept = "SELECT campaign_id, state, sum(leads) FROM campaign_lead_count GROUP BY 1, 2 HAVING sum(leads) <> 0"
    real = "SELECT campaign_id, state, count(*) FROM lead GROUP BY 1, 2"
    assert sorted(one(fresh, kept)) == sorted(one(fresh, real))
    [(ended,)] = one(fresh, "SELECT count(*) FROM attempt WHERE outcome IS NOT NULL")
    [(counted,)] = one(fresh, "SELECT coalesce(sum(attempts), 0) FROM attempt_outcome_count")
    assert ended == counted
    assert restored["attempt"] - ended <= 1  # a call live at the snapshot is there, open, as it was
    assert one(fresh, PARTITIONS_SQL) == partitions
    # the restored database is the dialer's: its role owns it and the schema is complete
    [(owner,)] = one(fresh, "SELECT tableowner FROM pg_tables WHERE tablename = 'attempt'")
    assert owner == settings.db_user
    assert [r[0] for r in one(fresh, "SELECT version FROM schema_migration ORDER BY 1")] == \
        [r[0] for r in one(settings, "SELECT version FROM schema_migration ORDER BY 1")]


def test_a_damaged_archive_is_refused_and_the_database_left_alone(settings, db, other_cluster, tmp_path):
    fresh = other_cluster("restore-damaged", 100)
    with psycopg2.connect(**fresh.dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (x int)")
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP but not really")
    with pytest.raises(Exception):
        backup.restore(fresh, bad)
    assert one(fresh, "SELECT to_regclass('kept') IS NOT NULL") == [(True,)]


def test_only_the_dated_backups_are_pruned(tmp_path):
    names = [f"dialer-2026110{d}T033000Z.dump" for d in range(1, 6)] + ["notes.txt", "dialer-manual.dump"]
    for n in names:
        (tmp_path / n).write_text("x")
    gone = backup.keep_newest(tmp_path, 2)
    assert sorted(p.name for p in gone) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:])


def test_a_streaming_standby_follows_and_is_promoted(settings, db, other_cluster):
    standby = other_cluster("standby-cluster", 101, start=False)
    backup.make_standby(settings, standby)
    backup.start_standby(standby)
    assert one(standby, "SELECT pg_is_in_recovery()") == [(True,)]
    c = campaigns.create_campaign("На резервный сервер", 3, 3600, 30, "", 0, True)
    until(lambda: one(standby, f"SELECT count(*) FROM campaign WHERE id = {c['id']}") == [(1,)], 20, 0.1,
          "the standby to replay the primary's write")
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        one(standby, "INSERT INTO job_run (job) VALUES ('on the standby')")
    backup.promote(standby)
    assert one(standby, "SELECT pg_is_in_recovery()") == [(False,)]
    with psycopg2.connect(**standby.dsn) as conn, conn.cursor() as cur:  # the promoted server takes writes
        cur.execute("INSERT INTO job_run (job) VALUES ('after promotion') RETURNING job")
        assert cur.fetchone() == ("after promotion",)
