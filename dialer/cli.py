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


def cmd_install(args) -> int:
    """`dialer install`: system user, /etc/dialer, systemd units, the database, the services (dialer/install.py)."""
    from pathlib import Path

    from . import install

    layout = install.Layout(own_database=not args.external_database)
    root = Path(args.root).resolve()
    for line in install.install_files(root, layout):
        print(line)
    if root != Path("/") or args.no_start:
        print("not started (--root or --no-start); on the server: systemctl daemon-reload && "
              "systemctl enable --now dialer.target dialer-backup.timer")
        return 0
    s = install.prepare_database(layout)
    _first_administrator(s)
    install.enable()
    print("started: systemctl status dialer.target; logs: journalctl -u 'dialer-*' -o cat | jq .")
    return 0


def cmd_upgrade(args) -> int:
    """`dialer upgrade`: a backup, the parts stopped, the migrations, everything started again."""
    from pathlib import Path

    from . import install

    s = _settings()
    for line in install.upgrade(s, Path(args.backup_dir) if args.backup_dir else s.state_dir / "backups"):
        print(line)
    return 0


def cmd_backup(args) -> int:
    """`dialer backup [FILE | --dir DIR [--keep N]]`: a pg_dump archive of the database (dialer/backup.py)."""
    from pathlib import Path

    from . import backup

    s = _settings()
    directory = Path(args.dir) if args.dir else s.state_dir / "backups"
    target = Path(args.file) if args.file else directory / backup.default_name()
    done = backup.backup(s, target)
    print(f"backup: {done['path']} ({done['bytes']} bytes, {done['tables']} tables)")
    if args.keep and not args.file:
        for gone in backup.keep_newest(directory, args.keep):
            print(f"removed old backup {gone}")
    return 0


def cmd_restore(args) -> int:
    """`dialer restore FILE --yes`: the database replaced by the backup (stop the dialer's parts first)."""
    from pathlib import Path

    from . import backup

    if not args.yes:
        print("error: this replaces the whole database with the backup; stop the dialer (systemctl stop "
              "dialer.target) and run again with --yes", file=sys.stderr)
        return 2
    applied = backup.restore(_settings(), Path(args.file))
    print(f"restored {args.file}" + (f"; migrations applied after it: {', '.join(applied)}" if applied else ""))
    return 0


def cmd_standby(args) -> int:
    """`dialer standby init|promote`: a streaming replica of the primary, and its promotion (docs/operations.md)."""
    from dataclasses import replace

    from . import backup

    s = _settings()
    if args.action == "promote":
        backup.promote(s)
        print(f"promoted: the database on port {s.db_port} accepts writes; point the dialer's db_host/db_port at it")
        return 0
    primary = replace(s, db_host=args.primary_host, db_port=args.primary_port)
    backup.make_standby(primary, s)
    backup.start_standby(s)
    print(f"standby of {args.primary_host}:{args.primary_port} streaming on port {s.db_port}")
    return 0


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


    inst = sub.add_parser("install", help="install as systemd services: user, /etc/dialer, units, database (root)")
    inst.add_argument("--root", default="/", help="install into this directory instead of / (packaging, tests)")
    inst.add_argument("--no-start", action="store_true", help="write the files only; start nothing")
    inst.add_argument("--external-database", action="store_true",
                      help="PostgreSQL runs elsewhere (db_host, db_port in /etc/dialer/dialer.json): no cluster unit")
    inst.set_defaults(func=cmd_install)

    upg = sub.add_parser("upgrade", help="after new code: back up, stop, migrate, start again")
    upg.add_argument("--backup-dir", help="where the backup before the upgrade goes (default: <state>/backups)")
    upg.set_defaults(func=cmd_upgrade)

    bak = sub.add_parser("backup", help="a pg_dump archive of the database")
    bak.add_argument("file", nargs="?", help="the archive to write (default: --dir/dialer-<time>.dump)")
    bak.add_argument("--dir", help="directory of dated backups (default: <state>/backups)")
    bak.add_argument("--keep", type=int, default=0, help="keep only the newest N dated backups in --dir")
    bak.set_defaults(func=cmd_backup)

    res = sub.add_parser("restore", help="replace the database with a backup (pg_restore, one transaction)")
    res.add_argument("file")
    res.add_argument("--yes", action="store_true", help="yes, replace the whole database")
    res.set_defaults(func=cmd_restore)

    stb = sub.add_parser("standby", help="a streaming replica of the primary database, and its promotion")
    stb.add_argument("action", choices=["init", "promote"])
    stb.add_argument("--primary-host", default="127.0.0.1")
    stb.add_argument("--primary-port", type=int, default=5433)
    stb.set_defaults(func=cmd_standby)

    from .cli_control import register as register_control
    register_control(sub)
    return p


def _logging(args) -> None:
    """Text or JSON lines (`log_format`, dialer/logs.py); a configuration that cannot be read yet (before
    `dialer install`, say) leaves the text format, and the command itself says what is wrong."""
    from . import logs

    try:
        fmt = _settings().log_format
    except Exception:
        fmt = "text"
    try:
        logs.configure(fmt, logging.DEBUG if args.verbose else logging.INFO)
    except ValueError as e:  # a misspelt log_format must not stop the service: say so in the text format
        logs.configure("text", logging.DEBUG if args.verbose else logging.INFO)
        logging.getLogger(__name__).warning("%s; logging as text", e)


def main(argv: list[str] | None = None) -> int:
    from .errors import DomainError

    args = build_parser().parse_args(argv)
    _logging(args)
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
