"""`dialer install` and `dialer upgrade`: the dialer as systemd services on a Debian 12 server (SPEC K1, K4).

`install` writes, under `--root` (default `/`; the tests use a temporary directory and never touch the real /etc):
- `/etc/dialer/dialer.json` — the configuration, with generated secrets (values already there are kept, and an
  earlier `dialer setup`'s `<state>/dialer.json` is taken over), JSON logs for journald; `/etc/dialer/environment`
  for local overrides (`DIALER_*` variables);
- systemd units from `packaging/systemd/`: `dialer-engine`, `dialer-web`, `dialer-jobs`, `dialer-agi` (each
  restartable alone), `dialer-migrate` (the schema before any of them starts), `dialer.target` (all of them), and
  `dialer-postgresql` for the dialer's own cluster (not with `--external-database`);
- `sysusers.d` and `tmpfiles.d` entries: the system user and its directories, made by systemd's own tools.
Then, on the real root only, it runs those tools, creates the database cluster and schema, the first administrator,
and enables and starts the services (`--no-start` stops after the files).

`upgrade`: a backup first (dialer/backup.py), then the parts are stopped, the migrations applied (one transaction:
all or nothing), and everything started again — see docs/operations.md.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .settings import REPO_ROOT, Settings

UNITS_DIR = REPO_ROOT / "packaging" / "systemd"
PARTS = ("engine", "web", "jobs", "agi")
SERVICES = tuple(f"dialer-{p}.service" for p in PARTS)
SECRETS = ("db_password", "db_superuser_password", "asterisk_password", "api_token", "ari_password")


@dataclass(frozen=True)
class Layout:
    """Where an installation's pieces go (paths as seen on the installed system, without the root)."""
    user: str = "dialer"
    etc: Path = Path("/etc/dialer")
    state: Path = Path("/var/lib/dialer")
    cache: Path = Path("/var/cache/dialer")
    units: Path = Path("/etc/systemd/system")
    sysusers: Path = Path("/etc/sysusers.d/dialer.conf")
    tmpfiles: Path = Path("/etc/tmpfiles.d/dialer.conf")
    dialer: Path = Path(sys.executable).parent / "dialer"  # this installation's command
    own_database: bool = True

    @property
    def config(self) -> Path:
        return self.etc / "dialer.json"


# ---- pure: the configuration and the files -------------------------------------------------------------------
def configuration(current: dict, earlier: dict, layout: Layout, new_secret=lambda: secrets.token_urlsafe(18)) -> dict:
    """The installed configuration: what is in /etc/dialer/dialer.json stays, then what an earlier `dialer setup`
    wrote, then the production defaults; secrets missing anywhere are generated once."""
    out = {"state_dir": str(layout.state), "cache_dir": str(layout.cache), "log_format": "json",
           "web_host": "0.0.0.0"}
    out.update(earlier)
    out.update(current)
    for key in SECRETS:
        if not out.get(key):
            out[key] = new_secret()
    return out


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:  # a template and this code disagree: fail at install, not at the service's start
        raise ValueError(f"unit template left unfilled: {leftover}")
    return text


def files(layout: Layout, config: dict) -> dict[Path, tuple[str, int]]:
    """Every file `install` writes: path (on the installed system) → (text, mode)."""
    s = Settings(db_host=config.get("db_host", Settings.db_host), db_port=int(config.get("db_port", Settings.db_port)),
                 state_dir=Path(config.get("state_dir", layout.state)))
    common = (UNITS_DIR / "service.common").read_text().strip()
    values = {"USER": layout.user, "ETC": str(layout.etc), "CONFIG": str(layout.config), "STATE": str(layout.state),
              "CACHE": str(layout.cache), "DIALER": str(layout.dialer), "DOCS": str(REPO_ROOT / "docs"),
              "DB_UNIT": "dialer-postgresql.service" if layout.own_database else "",
              "PG_BIN": "/usr/lib/postgresql/15/bin", "PG_DATA": str(s.pg_dir / "data"), "PG_SOCKETS": str(s.pg_dir),
              "DB_PORT": str(s.db_port), "DB_HOST": s.db_host}
    values["COMMON"] = render(common, values)
    out: dict[Path, tuple[str, int]] = {
        layout.config: (json.dumps(config, indent=2, ensure_ascii=False) + "\n", 0o640),
        layout.etc / "environment": ("# DIALER_* variables here override /etc/dialer/dialer.json"
                                     " (e.g. DIALER_LOG_FORMAT=text)\n", 0o640),
        layout.sysusers: (render((UNITS_DIR / "dialer.sysusers").read_text(), values), 0o644),
        layout.tmpfiles: (render((UNITS_DIR / "dialer.tmpfiles").read_text(), values), 0o644),
    }
    units = [*SERVICES, "dialer-migrate.service", "dialer.target", "dialer-backup.service", "dialer-backup.timer"]
    if layout.own_database:
        units.append("dialer-postgresql.service")
    for name in units:
        out[layout.units / name] = (render((UNITS_DIR / name).read_text(), values), 0o644)
    return out


# ---- I/O -----------------------------------------------------------------------------------------------------
def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def write_files(root: Path, layout: Layout) -> list[Path]:
    """Write the configuration and the units under `root`; returns the paths written (as installed)."""
    current = _read_json(_under(root, layout.config))
    earlier = _read_json(_under(root, layout.state / "dialer.json"))
    config = configuration(current, earlier, layout)
    written = []
    for path, (text, mode) in files(layout, config).items():
        target = _under(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".new")
        tmp.write_text(text)
        tmp.chmod(mode)
        os.replace(tmp, target)  # a reader never sees half a file
        written.append(path)
    return written


def apply_system(root: Path, layout: Layout, run=subprocess.run) -> None:
    """The system user and directories by systemd's own tools (they take `--root`, so the tests run them too),
    then the configuration's group so the user can read it."""
    run(["systemd-sysusers", f"--root={root}", str(_under(root, layout.sysusers))], check=True, capture_output=True, text=True)
    run(["systemd-tmpfiles", f"--root={root}", "--create", str(_under(root, layout.tmpfiles))], check=True, capture_output=True,
        text=True)
    gid = _group_id(root, layout.user)
    for path in (layout.config, layout.etc / "environment"):
        os.chown(_under(root, path), 0, gid)


def _group_id(root: Path, name: str) -> int:
    for line in (root / "etc" / "group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise RuntimeError(f"group {name} was not created")


def verify_units(root: Path, layout: Layout, run=subprocess.run) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` of the installed units (the tests call it; so may an administrator)."""
    units = sorted(str(_under(root, layout.units / n)) for n in os.listdir(_under(root, layout.units))
                   if n.startswith("dialer"))
    return run(["systemd-analyze", "verify", *units], capture_output=True, text=True)


def installed_settings(layout: Layout) -> Settings:
    from . import settings as settings_mod
    return settings_mod.load({**os.environ, "DIALER_CONFIG": str(layout.config)})


def prepare_database(layout: Layout, run=subprocess.run) -> Settings:
    """On the real system: the units known to systemd, the database cluster as a service, its roles, the schema."""
    from . import migrate, pg

    s = installed_settings(layout)
    run(["systemctl", "daemon-reload"], check=True)
    if layout.own_database:
        pg.initdb(s)
        run(["systemctl", "enable", "--now", "dialer-postgresql.service"], check=True)
        pg._ensure_roles(s)  # waits for the server to accept connections; creates the roles and the database
    migrate.migrate(s)
    return s


def enable(run=subprocess.run) -> None:
    run(["systemctl", "enable", "--now", "dialer.target", "dialer-backup.timer"], check=True)


def install_files(root: Path, layout: Layout) -> list[str]:
    """The files and, where systemd's tools are there, the user and directories; the lines to print."""
    if os.geteuid() != 0:
        raise PermissionError("dialer install must run as root")
    lines = [f"wrote {p}" for p in write_files(root, layout)]
    if shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles"):
        apply_system(root, layout)
        lines.append(f"system user {layout.user}, {layout.state}, {layout.cache}, {layout.etc}")
    return lines


# ---- upgrade -------------------------------------------------------------------------------------------------
def upgrade_steps(pending: list[str], backup_path: Path) -> list[tuple[str, ...]]:
    """The order of a safe upgrade (pure): nothing to apply → nothing stopped. Otherwise a backup before anything
    changes, every part stopped (old code never meets the new schema, new code never the old one), the
    migrations in one transaction, everything started again (the engine re-adopts live calls as it connects)."""
    if not pending:
        return [("restart", "dialer.target")]
    return [("backup", str(backup_path)), ("stop", *SERVICES), ("migrate", *pending), ("restart", "dialer.target")]


def upgrade(s: Settings, backup_dir: Path, run=subprocess.run, now=None) -> list[str]:
    import psycopg2

    from . import backup, migrate

    from datetime import datetime, timezone
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    with psycopg2.connect(**s.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migration') IS NOT NULL")
        applied = set()
        if cur.fetchone()[0]:
            cur.execute("SELECT version FROM schema_migration")
            applied = {r[0] for r in cur.fetchall()}
    pending = [p.name for p in migrate.pending(applied)]
    lines = []
    for step in upgrade_steps(pending, backup_dir / f"pre-upgrade-{stamp}.dump"):
        match step:
            case ("backup", path):
                backup.backup(s, Path(path))
                lines.append(f"backup: {path}")
            case ("stop", *units):
                run(["systemctl", "stop", *units], check=True)
                lines.append("stopped: " + " ".join(units))
            case ("migrate", *_):
                lines.append("applied: " + ", ".join(migrate.migrate(s)))
            case ("restart", unit):
                run(["systemctl", "daemon-reload"], check=True)
                run(["systemctl", "restart", unit], check=True)
                lines.append(f"restarted: {unit}")
    return lines
