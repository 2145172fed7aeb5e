"""The PostgreSQL cluster our scripts own: Debian's PostgreSQL 15 binaries, our data directory and port."""
from __future__ import annotations

import logging
import os
import pwd
import subprocess
import time
from pathlib import Path

import psycopg2

from .settings import Settings

log = logging.getLogger(__name__)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_OWNER = "postgres"  # PostgreSQL refuses to run as root


def _as_owner(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", PG_OWNER, "--", *args], check=True, text=True,
                          capture_output=True, **kw)


def _owner_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(PG_OWNER)
    return entry.pw_uid, entry.pw_gid


def data_dir(s: Settings) -> Path:
    return s.pg_dir / "data"


def initdb(s: Settings) -> None:
    """Create the cluster once; a second call finds it and does nothing."""
    data = data_dir(s)
    if (data / "PG_VERSION").exists():
        return
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError("PostgreSQL 15 is not installed (apt-get install postgresql-15)")
    uid, gid = _owner_ids()
    s.pg_dir.mkdir(parents=True, exist_ok=True)
    for path in (s.state_dir, s.pg_dir):
        os.chmod(path, 0o755)
    os.chown(s.pg_dir, uid, gid)
    pwfile = s.pg_dir / ".pw"
    pwfile.write_text(s.db_password)
    os.chown(pwfile, uid, gid)
    os.chmod(pwfile, 0o600)
    try:
        _as_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=peer",
                   "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"])
    finally:
        pwfile.unlink(missing_ok=True)
    conf = data / "postgresql.conf"
    with conf.open("a") as f:
        f.write(f"\n# written by dialer\nlisten_addresses = '{s.db_host}'\nport = {s.db_port}\n"
                f"unix_socket_directories = '{s.pg_dir}'\nmax_connections = 300\n"
                "shared_buffers = 256MB\nfsync = on\nsynchronous_commit = off\n"
                "log_min_duration_statement = 500\n")
    log.info("initialised PostgreSQL cluster in %s", data)


def is_running(s: Settings) -> bool:
    return subprocess.run(["runuser", "-u", PG_OWNER, "--", str(PG_BIN / "pg_ctl"), "status", "-D",
                           str(data_dir(s))], capture_output=True).returncode == 0


def start(s: Settings) -> None:
    initdb(s)
    if not is_running(s):
        # the settings' address and port win over the ones written at initdb: a port changed later applies
        _as_owner([str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data_dir(s)),
                   "-o", f"-p {int(s.db_port)} -c listen_addresses={s.db_host}",
                   "-l", str(s.pg_dir / "postgresql.log")])
        log.info("PostgreSQL started on %s:%s", s.db_host, s.db_port)
    _ensure_roles(s)


def start_until_exit(s: Settings) -> None:
    """Start the cluster for this process (a benchmark, a test run); if this call started it, stop it at exit,
    so nothing is left running; a cluster that was already running is left as it was."""
    import atexit

    was_running = is_running(s)
    start(s)
    if not was_running:
        atexit.register(stop, s)


def stop(s: Settings) -> None:
    if is_running(s):
        _as_owner([str(PG_BIN / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(data_dir(s))])
        log.info("PostgreSQL stopped")


def superuser_conn(s: Settings, dbname: str = "postgres"):
    # the superuser's password is db_password (initdb --pwfile); TCP works for root and others alike
    return psycopg2.connect(host=s.db_host, port=s.db_port, user="postgres", password=s.db_password,
                            dbname=dbname)


def _ensure_roles(s: Settings) -> None:
    """The application role owns the database; the `asterisk` role only reads the realtime views."""
    for _ in range(50):
        try:
            conn = superuser_conn(s)
            break
        except psycopg2.OperationalError:
            time.sleep(0.2)
    else:
        raise RuntimeError("PostgreSQL does not accept connections")
    conn.autocommit = True
    with conn.cursor() as cur:
        for role, password in ((s.db_user, s.db_password), ("asterisk", s.asterisk_password)):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f'{verb} ROLE "{role}" LOGIN PASSWORD %s', (password,))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (s.db_name,))
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{s.db_name}" OWNER "{s.db_user}" ENCODING \'UTF8\'')
    conn.close()


def drop_database(s: Settings) -> None:
    """Tests only: start from an empty database."""
    conn = superuser_conn(s)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (s.db_name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{s.db_name}"')
    conn.close()
    _ensure_roles(s)
