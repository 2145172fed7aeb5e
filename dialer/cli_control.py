"""`dialer campaign|leads|operator|wrapup|attempts`: the control surface from a shell.

Each leaf sets `func(args) -> exit code`; domain errors print on stderr and give exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import db as db_mod
from . import settings as settings_mod
from .access import ACTING_SYSTEM
from .errors import DomainError
from .services import attempts, campaigns, leads, operators


def _call(args, fn, *a, **kw):
    """Run one service with a database: the test's (args.control_db) or the installation's."""
    db = getattr(args, "control_db", None)
    own = db is None
    if own:
        db = db_mod.connect(settings_mod.load())
    try:
        with db.connection_context():
            return fn(*a, **kw)
    finally:
        if own:
            db.close_all()


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _domain_errors(func):
    def run(args) -> int:
        try:
            return func(args) or 0
        except DomainError as e:
            ru = e.details.get("message_ru")
            print(f"error [{e.code}]: {e.message}" + (f" / {ru}" if ru else ""), file=sys.stderr)
            return 2
    return run


def campaign_create(args) -> int:
    c = _call(args, campaigns.create_campaign, args.name, args.max_attempts, args.retry_delay,
              args.ring_timeout, args.caller_id, args.wrap_up_limit, not args.no_auto_ready)
    print(f"campaign {c['id']} created: {c['name']}")


def campaign_list(args) -> int:
    rows = [{**c, **c["leads"]} for c in _call(args, campaigns.list_campaigns)]
    print(_table(rows, ["id", "name", "active", "max_attempts", "ring_timeout_s", "leads_total",
                        *campaigns.LEAD_STATES]))


def leads_import(args) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as e:
        print(f"error: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    report = _call(args, leads.import_csv, args.campaign_id, data, args.region)
    print(f"rows: {report.rows}  imported: {report.imported}  duplicates: {report.duplicates}  "
          f"errors: {report.error_count}" + (f"  do-not-call: {report.do_not_call}" if report.do_not_call else ""))
    for error in report.errors:
        print(f"  line {error['line']}: {error['reason']}")
    if report.errors_omitted:
        print(f"  ... and {report.errors_omitted} more errors")
    # 1 only when nothing in the file could be used: a partial import is still progress
    return 1 if report.error_count and not (report.imported or report.duplicates) else 0


def leads_list(args) -> int:
    rows = _call(args, leads.list_leads, args.campaign_id, args.state, args.limit)
    print(_table(rows, ["id", "external_id", "phone", "name", "state", "attempts", "last_outcome"]))


def operator_create(args) -> int:
    o = _call(args, operators.create_operator, args.name, args.login, args.password, args.campaign)
    print(f"operator {o['id']} created: login {o['login']}  SIP password {o['sip_password']}  "
          f"campaigns {o['campaign_ids']}")


def operator_list(args) -> int:
    rows = [{**o, "campaign_ids": ",".join(map(str, o["campaign_ids"]))}
            for o in _call(args, operators.list_operators)]
    print(_table(rows, ["id", "login", "name", "status", "status_since", "attempt_id", "campaign_ids"]))


def operator_request(args) -> int:
    cmd = _call(args, operators.request, ACTING_SYSTEM, args.operator_id, args.kind)
    print(f"command {cmd['command_id']} sent: {cmd['kind']} for operator {cmd['operator_id']}")


def operator_campaigns(args) -> int:
    o = _call(args, operators.set_campaigns, args.operator_id, args.campaign_ids)
    print(f"operator {o['id']} campaigns: {o['campaign_ids']}")


def wrapup(args) -> int:
    # the one wrap-up use case; whoever runs the CLI on the server acts for the installation
    cmd = _call(args, operators.submit_wrap_up, ACTING_SYSTEM, args.operator_id, args.result, args.comment,
                args.postpone_minutes, args.postpone_until, args.do_not_call)
    print(f"command {cmd['command_id']} sent: wrap-up of attempt {cmd['payload']['attempt_id']}")


def attempts_list(args) -> int:
    rows = _call(args, attempts.list_attempts, args.campaign, args.operator, args.outcome, args.limit)
    print(_table(rows, ["id", "campaign_id", "operator_id", "external_id", "phone", "outcome",
                        "hangup_cause", "sip_code", "reserved_at", "ended_at"]))


def _leaf(subs, name: str, func, help: str) -> argparse.ArgumentParser:
    parser = subs.add_parser(name, help=help, description=help)
    parser.set_defaults(func=_domain_errors(func))
    return parser


def _register_campaign(subparsers):
    subs = subparsers.add_parser("campaign", help="create and list campaigns").add_subparsers(
        dest="campaign_command", required=True)
    p = _leaf(subs, "create", campaign_create, "create a campaign")
    p.add_argument("name")
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--retry-delay", type=int, default=1800, metavar="SECONDS")
    p.add_argument("--ring-timeout", type=int, default=30, metavar="SECONDS")
    p.add_argument("--caller-id", default="")
    p.add_argument("--wrap-up-limit", type=int, default=0, metavar="SECONDS")
    p.add_argument("--no-auto-ready", action="store_true",
                   help="operators stay in wrap-up until they press Ready")
    _leaf(subs, "list", campaign_list, "list campaigns with lead counts")


def _register_leads(subparsers):
    subs = subparsers.add_parser("leads", help="import and list leads").add_subparsers(
        dest="leads_command", required=True)
    p = _leaf(subs, "import", leads_import, "import a CSV file (external_id|order_id|id, phone, [name], ...)")
    p.add_argument("campaign_id", type=int)
    p.add_argument("file")
    p.add_argument("--region", default="RU", help="region of numbers without a country code")
    p = _leaf(subs, "list", leads_list, "list a campaign's leads, newest first")
    p.add_argument("campaign_id", type=int)
    p.add_argument("--state")
    p.add_argument("--limit", type=int, default=100)


def _register_operator(subparsers):
    subs = subparsers.add_parser("operator", help="operators and their commands").add_subparsers(
        dest="operator_command", required=True)
    p = _leaf(subs, "create", operator_create, "create an operator and their SIP device")
    p.add_argument("name")
    p.add_argument("login")
    p.add_argument("--password", help="SIP password (generated when absent)")
    p.add_argument("--campaign", type=int, action="append", default=[], metavar="ID")
    _leaf(subs, "list", operator_list, "list operators")
    for kind in operators.REQUESTS:
        p = _leaf(subs, kind, operator_request, f"ask the engine: {kind}")
        p.add_argument("operator_id", type=int)
        p.set_defaults(kind=kind)
    p = _leaf(subs, "campaigns", operator_campaigns, "set the operator's campaigns (replaces them)")
    p.add_argument("operator_id", type=int)
    p.add_argument("campaign_ids", type=int, nargs="*")


def register(subparsers) -> None:
    """Add the control subcommands to the main CLI's subparsers."""
    _register_campaign(subparsers)
    _register_leads(subparsers)
    _register_operator(subparsers)
    p = _leaf(subparsers, "wrapup", wrapup, "submit the wrap-up of an operator's current call")
    p.add_argument("operator_id", type=int)
    p.add_argument("result")
    p.add_argument("--comment", default="")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--postpone-minutes", type=int)
    when.add_argument("--postpone-until", metavar="ISO-8601",
                      help="call again then; without an offset: the client's local time")
    when.add_argument("--do-not-call", action="store_true", help="«Больше не звонить»: list the number")
    p = _leaf(subparsers, "attempts", attempts_list, "list attempts, newest first")
    p.add_argument("--campaign", type=int)
    p.add_argument("--operator", type=int)
    p.add_argument("--outcome")
    p.add_argument("--limit", type=int, default=100)


def main(argv: list[str] | None = None, db=None) -> int:
    """Standalone entry (and the tests'): `db` replaces the installation's database."""
    parser = argparse.ArgumentParser(prog="dialer")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.control_db = db
    return args.func(args)
