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
    if not s.db_superuser_password:
        raise RuntimeError("no password for the PostgreSQL superuser: run `dialer setup` "
                           "(it adds db_superuser_password to dialer.json)")
    pwfile = s.pg_dir / ".pw"
    pwfile.write_text(s.db_superuser_password)  # its own secret: the application's password is not a superuser's
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
                "shared_buffers = 256MB\nfsync = on\n"
                "log_min_duration_statement = 500\n")
    log.info("initialised PostgreSQL cluster in %s", data)


# Commits are durable (synchronous_commit on, PostgreSQL's default): a wrap-up, a do-not-call entry or a CRM
# result the dialer has acknowledged survives a crash of the server. Clusters made by earlier versions had
# `synchronous_commit = off` in our block of postgresql.conf (up to ~0.6 s of acknowledged commits lost on a
# crash); the line is dropped at start, and the application role gets `on` as its own setting as well, so its
# sessions are durable whatever the file says. Measured on the development machine (2 cores, virtio disk), one-row
# INSERT + COMMIT, 400 each, two runs: p50 0.46–0.53 ms, p99 2.0–2.1 ms durable against 0.17–0.21 / 0.29–0.33 ms
# asynchronous — a third of a millisecond on a claim of ~4 ms, far below what would justify losing a wrap-up.
_ASYNC_COMMIT_LINE = "synchronous_commit = off\n"


def _durable_commits(s: Settings) -> bool:
    """Drop the asynchronous-commit line earlier versions wrote in our block; True when the file changed."""
    conf = data_dir(s) / "postgresql.conf"
    text = conf.read_text()
    ours = text.rfind("# written by dialer\n")
    if ours < 0 or _ASYNC_COMMIT_LINE not in text[ours:]:
        return False
    conf.write_text(text[:ours] + text[ours:].replace(_ASYNC_COMMIT_LINE, "", 1))
    log.info("postgresql.conf: synchronous_commit = off removed (commits are durable)")
    return True


def is_running(s: Settings) -> bool:
    return subprocess.run(["runuser", "-u", PG_OWNER, "--", str(PG_BIN / "pg_ctl"), "status", "-D",
                           str(data_dir(s))], capture_output=True).returncode == 0


def start(s: Settings) -> None:
    initdb(s)
    reload = _durable_commits(s)
    if not is_running(s):
        reload = False  # the server reads the file as it starts
        # the settings' address and port win over the ones written at initdb: a port changed later applies
        _as_owner([str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data_dir(s)),
                   "-o", f"-p {int(s.db_port)} -c listen_addresses={s.db_host}",
                   "-l", str(s.pg_dir / "postgresql.log")])
        log.info("PostgreSQL started on %s:%s", s.db_host, s.db_port)
    _ensure_roles(s, reload)


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


def restart(s: Settings) -> None:
    """Fast restart (sessions cut, as an administrator's `pg_ctl restart -m fast`): the fault tests use it."""
    _as_owner([str(PG_BIN / "pg_ctl"), "restart", "-m", "fast", "-w", "-t", "60", "-D", str(data_dir(s)),
               "-l", str(s.pg_dir / "postgresql.log")])
    log.info("PostgreSQL restarted")


def superuser_conn(s: Settings, dbname: str = "postgres"):
    """A connection as the cluster's superuser `postgres` (over TCP: works for root and others alike).

    Its password is its own secret, `db_superuser_password`. A cluster made before that secret existed gave the
    superuser the application's password (`db_password`): when the own secret is refused (or not known yet),
    that one is tried, and on success the superuser is moved to its own secret at once, so an installation of
    an earlier version starts and migrates as before and never uses the shared password again."""
    try:
        return _connect_as_superuser(s, s.db_superuser_password, dbname)
    except psycopg2.OperationalError as e:
        if not _password_refused(e) or not s.db_password or s.db_password == s.db_superuser_password:
            raise
        first = e
    try:
        conn = _connect_as_superuser(s, s.db_password, dbname)
    except psycopg2.OperationalError as e:
        if _password_refused(e):
            raise first from None  # neither secret: the own secret's refusal is the one to read
        raise
    if s.db_superuser_password:
        _separate_superuser_password(conn, s.db_superuser_password)
    else:
        log.warning("the PostgreSQL superuser still has the application's password: run `dialer setup` "
                    "to give it a secret of its own")
    return conn


def _connect_as_superuser(s: Settings, password: str, dbname: str):
    return psycopg2.connect(host=s.db_host, port=s.db_port, user="postgres", password=password, dbname=dbname)


def _password_refused(e: psycopg2.OperationalError) -> bool:
    """The server refused the password (or wanted one and none was given), as opposed to being unreachable."""
    text = str(e)
    return "password authentication failed" in text or "no password supplied" in text


def _separate_superuser_password(conn, password: str) -> None:
    autocommit = conn.autocommit
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ALTER ROLE postgres PASSWORD %s", (password,))
    conn.autocommit = autocommit
    log.warning("the PostgreSQL superuser had the application's password; it now has its own secret "
                "(db_superuser_password in dialer.json)")


def _ensure_roles(s: Settings, reload: bool = False) -> None:
    """The application role owns the database (and is no superuser); the `asterisk` role only reads the
    realtime views. `reload`: postgresql.conf changed while the server ran."""
    for _ in range(50):
        try:
            conn = superuser_conn(s)
            break
        except psycopg2.OperationalError as e:
            if _password_refused(e):
                raise RuntimeError(f"PostgreSQL refused the superuser's password: {e}".strip()) from None
            time.sleep(0.2)
    else:
        raise RuntimeError("PostgreSQL does not accept connections")
    conn.autocommit = True
    with conn.cursor() as cur:
        for role, password in ((s.db_user, s.db_password), ("asterisk", s.asterisk_password)):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f'{verb} ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %s', (password,))
        cur.execute(f'ALTER ROLE "{s.db_user}" SET synchronous_commit = on')  # see _durable_commits
        if reload:
            cur.execute("SELECT pg_reload_conf()")
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
