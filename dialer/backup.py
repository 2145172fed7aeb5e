"""`dialer backup` / `dialer restore` / `dialer standby` over PostgreSQL's own tools (SPEC K3; docs/operations.md).

Backups are `pg_dump` archives (custom format): one consistent snapshot of the whole database taken while calls go
on (MVCC: the dump blocks no insert or update, only schema changes wait), compressed, restorable with `pg_restore`
into any PostgreSQL of this version or newer, and small enough for one call centre's database to be kept daily
for weeks. `pg_basebackup` + WAL archiving (recovery to any second) is the tool when losing up to a day of work
between dumps is too much; the standby below gives that without archives: a streaming replica, promoted when the
primary is lost.

The application role owns every table, so a dump needs no superuser. A restore does: it recreates the database
empty (the roles first, as `dialer setup` makes them), loads the archive in one transaction (all or nothing), and
applies the migrations newer than the backup.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from . import migrate, pg
from .settings import Settings

log = logging.getLogger(__name__)
PG_BIN = pg.PG_BIN
NAME = re.compile(r"^dialer-\d{8}T\d{6}Z\.dump$")  # the files `backup` names itself; only these are pruned


def _env(password: str) -> dict:
    return {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}


def default_name(now: datetime | None = None) -> str:
    return f"dialer-{(now or datetime.now(timezone.utc)).strftime('%Y%m%dT%H%M%SZ')}.dump"


def backup(s: Settings, path: Path) -> dict:
    """One archive at `path` (written beside it, then renamed: a half-written backup never has the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    subprocess.run([str(PG_BIN / "pg_dump"), "--format=custom", "--compress=6", "--no-password",
                    f"--host={s.db_host}", f"--port={s.db_port}", f"--username={s.db_user}", f"--file={tmp}",
                    s.db_name], check=True, capture_output=True, text=True, env=_env(s.db_password))
    # the archive must be readable before it replaces anything: its table of contents is read back
    listing = subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(tmp)], check=True, capture_output=True,
                             text=True).stdout
    os.replace(tmp, path)
    tables = sum(1 for line in listing.splitlines() if " TABLE DATA " in line)
    log.info("backup written: %s (%d bytes, %d tables)", path, path.stat().st_size, tables)
    return {"path": str(path), "bytes": path.stat().st_size, "tables": tables}


def keep_newest(directory: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest backups named by `backup` (never another file); returns those removed."""
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    gone = ours[:-keep] if keep > 0 else []
    for p in gone:
        p.unlink()
    return gone


def restore(s: Settings, path: Path) -> list[str]:
    """The database replaced by the archive's contents; returns the migrations applied after it."""
    if not path.is_file():
        raise FileNotFoundError(f"no backup at {path}")
    subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(path)], check=True, capture_output=True, text=True)
    pg.drop_database(s)  # terminates the sessions, drops, and recreates it empty with its roles
    subprocess.run([str(PG_BIN / "pg_restore"), "--no-password", "--exit-on-error", "--single-transaction",
                    "--no-owner", f"--role={s.db_user}", f"--host={s.db_host}", f"--port={s.db_port}",
                    "--username=postgres", f"--dbname={s.db_name}", str(path)],
                   check=True, capture_output=True, text=True, env=_env(s.db_superuser_password))
    applied = migrate.migrate(s)  # a backup older than the code: its newer migrations, as an upgrade would
    log.info("restored %s into %s on %s:%s; migrations applied after it: %s", path, s.db_name, s.db_host, s.db_port,
             ", ".join(applied) or "none")
    return applied


# ---- a streaming standby (SPEC K3) ---------------------------------------------------------------------------
def make_standby(primary: Settings, standby: Settings) -> None:
    """A hot standby of `primary` in `standby`'s cluster directory, streaming from it (`pg_basebackup -R`)."""
    data = pg.data_dir(standby)
    if (data / "PG_VERSION").exists():
        raise FileExistsError(f"{data} already holds a cluster")
    uid, gid = pg._owner_ids()
    standby.pg_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(standby.state_dir, 0o755)
    os.chown(standby.pg_dir, uid, gid)
    passfile = standby.pg_dir / ".pgpass"  # for pg_basebackup, and kept: the standby reconnects with it
    passfile.write_text(f"{primary.db_host}:{primary.db_port}:*:postgres:{primary.db_superuser_password}\n")
    os.chown(passfile, uid, gid)
    os.chmod(passfile, 0o600)
    pg._as_owner([str(PG_BIN / "pg_basebackup"), f"--pgdata={data}", f"--host={primary.db_host}",
                  f"--port={primary.db_port}", "--username=postgres", "--no-password", "--wal-method=stream",
                  "--checkpoint=fast", "--write-recovery-conf"], env={**os.environ, "PGPASSFILE": str(passfile)})
    with (data / "postgresql.auto.conf").open("a") as f:  # the standby's own port and socket, not the primary's
        f.write(f"port = {standby.db_port}\nunix_socket_directories = '{standby.pg_dir}'\n"
                f"primary_conninfo = 'host={primary.db_host} port={primary.db_port} user=postgres "
                f"passfile={passfile}'\n")
    log.info("standby of %s:%s made in %s", primary.db_host, primary.db_port, data)


def promote(standby: Settings) -> None:
    """The standby becomes a primary that accepts writes (`pg_ctl promote`, waiting until it does)."""
    pg._as_owner([str(PG_BIN / "pg_ctl"), "promote", "-w", "-t", "60", "-D", str(pg.data_dir(standby))])
    log.info("standby on port %s promoted", standby.db_port)


def start_standby(standby: Settings) -> None:
    """Start the standby's cluster (read-only until promoted: `pg.start` would try to create roles in it)."""
    pg._as_owner([str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(pg.data_dir(standby)),
                  "-o", f"-p {int(standby.db_port)} -c listen_addresses={standby.db_host}",
                  "-l", str(standby.pg_dir / "postgresql.log")])
