"""The control CLI through its argv entry, against the real database."""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pytest

from dialer import cli_control
from dialer.models import EngineCommand, Lead, Operator


def run(db, capsys, *argv):
    code = cli_control.main(list(argv), db=db)
    out, err = capsys.readouterr()
    return code, out, err


def test_register_adds_the_subcommands_to_a_parser():
    parser = argparse.ArgumentParser()
    cli_control.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["operator", "pause", "7"])
    assert (args.operator_id, args.kind, callable(args.func)) == (7, "pause", True)
    args = parser.parse_args(["wrapup", "3", "Confirmed", "--postpone-minutes", "30"])
    assert (args.operator_id, args.result, args.postpone_minutes) == (3, "Confirmed", 30)


def test_campaign_leads_operator_flow(db, capsys, tmp_path):
    code, out, _ = run(db, capsys, "campaign", "create", "Orders", "--max-attempts", "3", "--no-auto-ready")
    assert code == 0 and "campaign 1 created" in out
    code, out, _ = run(db, capsys, "campaign", "list")
    assert code == 0 and "Orders" in out and "leads_total" in out

    csv = tmp_path / "leads.csv"
    csv.write_text("id;phone;name\n1;89161234567;Ann\n2;bad;Bob\n", encoding="utf-8-sig")
    code, out, _ = run(db, capsys, "leads", "import", "1", str(csv))
    assert code == 0 and "imported: 1" in out and "line 3: invalid phone number 'bad'" in out
    code, out, _ = run(db, capsys, "leads", "import", "1", str(csv))  # re-import: duplicates only
    assert code == 0 and "duplicates: 1" in out
    code, out, _ = run(db, capsys, "leads", "list", "1")
    assert code == 0 and "+79161234567" in out

    code, out, _ = run(db, capsys, "operator", "create", "Anna", "anna", "--password", "s3cretpass",
                       "--campaign", "1")
    assert code == 0 and "s3cretpass" in out and "[1]" in out
    code, out, _ = run(db, capsys, "operator", "list")
    assert code == 0 and "anna" in out and "offline" in out
    for kind in ("ready", "pause", "lunch"):
        assert run(db, capsys, "operator", kind, "1")[0] == 0
    assert [c.kind for c in EngineCommand.select().order_by(EngineCommand.id)] == ["ready", "pause", "lunch"]


def test_import_where_every_row_is_bad_exits_1(db, capsys, tmp_path):
    run(db, capsys, "campaign", "create", "Orders")
    csv = tmp_path / "bad.csv"
    csv.write_text("id,phone\n1,bad\n,+79161234567\n")
    code, out, _ = run(db, capsys, "leads", "import", "1", str(csv))
    assert code == 1 and "line 2:" in out and "line 3: external_id is empty" in out
    assert Lead.select().count() == 0


@pytest.mark.parametrize("argv,needle", [
    (["campaign", "create", ""], "invalid-field"),
    (["campaign", "create", "X", "--ring-timeout", "1"], "ring_timeout_s"),
    (["leads", "import", "99", "FILE"], "campaign-not-found"),
    (["leads", "import", "1", "/nonexistent.csv"], "cannot read"),
    (["leads", "import", "1", "HEADERLESS"], "csv-invalid-header"),
    (["operator", "create", "Anna", "Anna!"], "login"),
    (["operator", "create", "Anna", "anna", "--campaign", "42"], "campaign-not-found"),
    (["operator", "ready", "42"], "operator-not-found"),
    (["wrapup", "1", "Confirmed"], "operator-not-in-wrap-up"),
    (["wrapup", "1", "Confirmed", "--postpone-minutes", "0"], "postpone_minutes"),
    (["wrapup", "1", "Confirmed", "--postpone-until", "tomorrow"], "operator-not-in-wrap-up"),
    (["attempts", "--limit", "5000"], "limit"),
])
def test_domain_errors_exit_2_and_change_nothing(db, capsys, unchanged, tmp_path, argv, needle):
    run(db, capsys, "campaign", "create", "Orders")
    run(db, capsys, "operator", "create", "Bob", "bob")
    good, headerless = tmp_path / "good.csv", tmp_path / "headerless.csv"
    good.write_text("id,phone\n1,+79161234567\n")
    headerless.write_text("+79161234567\n")
    argv = [{"FILE": str(good), "HEADERLESS": str(headerless)}.get(a, a) for a in argv]
    with unchanged():
        code, out, err = run(db, capsys, *argv)
    assert code == 2 and needle in err and out == ""


def test_wrapup_and_attempts(db, capsys, unchanged):
    run(db, capsys, "operator", "create", "Anna", "anna")
    Operator.update(status="wrap_up", attempt_id=9).execute()
    code, out, _ = run(db, capsys, "wrapup", "1", "Confirmed", "--comment", "call back", "--postpone-minutes", "60")
    assert code == 0 and "attempt 9" in out
    assert EngineCommand.get().payload == {"attempt_id": 9, "result": "Confirmed", "comment": "call back",
                                           "postpone_minutes": 60}
    EngineCommand.delete().execute()
    code, out, _ = run(db, capsys, "wrapup", "1", "Refused", "--do-not-call")
    assert code == 0 and EngineCommand.get().payload["do_not_call"] is True
    EngineCommand.delete().execute()
    day = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    code, out, _ = run(db, capsys, "wrapup", "1", "Later", "--postpone-until", f"{day}T10:30:00+03:00")
    assert code == 0 and EngineCommand.get().payload["postpone_until"] == f"{day}T07:30:00+00:00"
    with unchanged():
        code, _, err = run(db, capsys, "wrapup", "1", "Later", "--postpone-until", "someday")
    assert code == 2 and "postpone_until" in err
    code, out, _ = run(db, capsys, "attempts", "--limit", "5")
    assert code == 0 and out.split()[:3] == ["id", "campaign_id", "operator_id"]


def test_wrapup_takes_only_a_result_of_the_campaign(db, capsys, unchanged):
    """`dialer wrapup` is the same use case as the panel's and the API's: a made-up result is refused."""
    from dialer.models import Attempt, CampaignResult

    run(db, capsys, "campaign", "create", "Orders")
    run(db, capsys, "operator", "create", "Anna", "anna", "--campaign", "1")
    CampaignResult.create(campaign=1, code="sold", title="Продано")
    lead = Lead.create(campaign=1, external_id="A-1", phone="+79161234567", state="in_progress")
    now = datetime.now(timezone.utc)
    a = Attempt.create(lead=lead.id, campaign=1, operator=1, phone=lead.phone, reserved_at=now, answered_at=now,
                       ended_at=now, outcome="ANSWERED")
    Operator.update(status="wrap_up", attempt_id=a.id).execute()
    with unchanged():
        code, out, err = run(db, capsys, "wrapup", "1", "Confirmed")
    assert code == 2 and "result" in err and "sold" in err and out == ""
    code, out, _ = run(db, capsys, "wrapup", "1", "sold")
    assert code == 0 and f"attempt {a.id}" in out and EngineCommand.get().payload["result"] == "sold"
