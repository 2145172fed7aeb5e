"""`dialer` — one command for setting up, running and operating the dialer."""
from __future__ import annotations

import argparse
import logging
import sys

from . import settings as settings_mod


def _settings():
    return settings_mod.load()


def cmd_setup(args) -> None:
    """Everything a fresh machine needs, reusing what is already there (idempotent)."""
    from . import migrate, pg

    settings_mod.init_secrets(settings_mod.load().state_dir)
    s = _settings()
    pg.start(s)
    applied = migrate.migrate(s)
    print(f"database ready on {s.db_host}:{s.db_port} ({len(applied)} migrations applied)")
    _first_administrator(s)


def _first_administrator(s) -> None:
    """The set-up creates the first administrator and prints the password once (SPEC H)."""
    from .db import connect
    from .services import users

    db = connect(s)
    with db.connection_context():
        made = users.create_first_admin()
    if made:
        print(f"first administrator: {made[0]}  password: {made[1]}  (shown once; change it after signing in)")


def cmd_permissions(args) -> None:
    """The permission catalogue (SPEC H1): `--count` prints how many there are."""
    from .permissions import AREAS, CATALOGUE, ROLES

    if args.count:
        print(len(CATALOGUE))
        return
    for p in CATALOGUE:
        print(f"{p.name:30} {AREAS[p.area][1]:26} {p.title_en} / {p.title_ru}")
    if args.roles:
        for code, _, title_en, perms in ROLES:
            print(f"\n{code} ({title_en}): {len(perms)}\n  " + " ".join(sorted(perms)))


def cmd_users(args) -> None:
    """`dialer users password EMAIL`: set a new generated password and print it once."""
    import secrets

    from .db import connect
    from .errors import NotFound
    from .services import users

    db = connect(_settings())
    with db.connection_context():
        users.seed_roles()
        found = users.list_users(args.email)
        match = [u for u in found if u["email"] == args.email.lower()]
        if not match:
            raise NotFound("user-not-found", f"no user with e-mail {args.email}")
        password = secrets.token_urlsafe(12)
        users.update_user(match[0]["id"], password=password)
        if not match[0]["active"]:
            users.set_active(match[0]["id"], True)
    print(f"{match[0]['email']}  password: {password}")


def cmd_db(args) -> None:
    from . import migrate, pg

    s = _settings()
    match args.action:
        case "start":
            pg.start(s)
        case "stop":
            pg.stop(s)
        case "migrate":
            applied = migrate.migrate(s)
            print("applied: " + (", ".join(applied) or "nothing (up to date)"))
        case "status":
            print("running" if pg.is_running(s) else "stopped")


def cmd_run(args) -> None:
    from .run import run_until_stopped

    run_until_stopped(_settings(), set(args.only or ["engine", "web", "jobs", "agi"]))


def cmd_status(args) -> int:
    """`dialer status`: the installation's health as /api/health judges it; exit 0 when all is well, 1 otherwise."""
    import json
    from datetime import datetime, timezone

    from .clock import day_start
    from .db import connect
    from .services import health
    from .services.monitoring import jsonable

    s = _settings()
    db = connect(s)
    today = day_start(datetime.now(timezone.utc), s.time_zone).date()
    try:  # the connection is made inside the check: a database that does not answer is its reason
        result = health.check(db, [x.name for x in s.asterisk_servers], today)
    finally:
        db.close_all()
    reasons = result["reasons"]
    if args.json:
        print(json.dumps({"status": "error" if reasons else "ok", "details": [r.wire() for r in reasons],
                          "snapshot": jsonable(result["snapshot"])}, ensure_ascii=False, indent=2))
    else:
        print(health.describe(result["snapshot"], reasons, args.lang))
    return 1 if reasons else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dialer", description="Outbound call-centre dialer on Asterisk")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    setup = sub.add_parser("setup", help="create the database cluster, the schema and the first administrator")
    setup.set_defaults(func=cmd_setup)

    db = sub.add_parser("db", help="the PostgreSQL cluster and migrations")
    db.add_argument("action", choices=["start", "stop", "migrate", "status"])
    db.set_defaults(func=cmd_db)

    perms = sub.add_parser("permissions", help="list the permission catalogue")
    perms.add_argument("--count", action="store_true", help="print only how many permissions there are")
    perms.add_argument("--roles", action="store_true", help="also list the seeded roles and their permissions")
    perms.set_defaults(func=cmd_permissions)

    usr = sub.add_parser("users", help="user accounts: set a new password")
    usr.add_argument("action", choices=["password"])
    usr.add_argument("email")
    usr.set_defaults(func=cmd_users)

    from .asterisk.cli import register as register_asterisk
    register_asterisk(sub)


    run = sub.add_parser("run", help="run engine + web + jobs + AGI in one process")
    run.add_argument("--only", nargs="+", choices=["engine", "web", "jobs", "agi"], help="run only these parts")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="the installation's health (as /api/health): exit 0 when all is well, 1 otherwise")
    status.add_argument("--json", action="store_true", help="print JSON: the reasons and what was read")
    status.add_argument("--lang", choices=["en", "ru"], default="en", help="the language of the reasons")
    status.set_defaults(func=cmd_status)


    from .cli_control import register as register_control
    register_control(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import DomainError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except DomainError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
