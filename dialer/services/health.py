"""The installation's health (SPEC K4; `/api/health`, `dialer status`, «Мониторинг»): is every part working?

The parts report themselves (dialer/heartbeat.py, dialer/job_history.py); this reads their rows in one short
read-only transaction with a statement timeout, and `assess` — pure, table-tested — turns what it read into
reasons, each with a stable code (`ari-disconnected:pbx`) and a message in English and Russian. No reason: healthy.

What is checked, and when it is a reason (the figures are the module's constants):
- database: it answers within STATEMENT_TIMEOUT_MS;
- each configured Asterisk server: the engine's row is fresher than STALE_S, and its ARI websocket is connected;
- the engine's database writes: none waiting longer than WRITES_FAILING_S, fewer than BACKLOG_MAX waiting;
- engine commands: none waiting longer than COMMAND_LAG_S;
- AGI: its row is fresh and it listens;
- jobs: each job's last run did not fail, and none is overdue (next run + max(JOB_GRACE_S, 2 intervals));
- CRM connections: none unreachable for longer than its own alert limit (the CRM alert's rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STATEMENT_TIMEOUT_MS = 500
STALE_S = 15.0          # three missed reports (dialer/heartbeat.py EVERY_S)
WRITES_FAILING_S = 10.0
BACKLOG_MAX = 1000
COMMAND_LAG_S = 10.0
JOB_GRACE_S = 30.0


@dataclass(frozen=True)
class Reason:
    code: str      # stable id, with its object after a colon: `ari-disconnected:pbx`
    message: str
    message_ru: str

    def wire(self) -> dict:
        return {"code": self.code, "message": self.message, "message_ru": self.message_ru}


def _age(seconds: float) -> tuple[str, str]:
    s = int(seconds)
    if s < 120:
        return f"{s} s", f"{s} с"
    if s < 7200:
        return f"{s // 60} min", f"{s // 60} мин"
    return f"{s // 3600} h", f"{s // 3600} ч"


def assess(snap: dict) -> list[Reason]:
    """Reasons the installation is not healthy, from a snapshot (`read`); none: all is well."""
    if snap.get("database_error"):
        e = snap["database_error"]
        return [Reason("database-unavailable", f"the database did not answer: {e}", f"база данных не ответила: {e}")]
    out: list[Reason] = []
    rows = {(r["component"], r["name"]): r for r in snap["components"]}
    for server in snap["servers"]:
        out += _engine(server, rows.get(("engine", server)))
    agi = [r for r in snap["components"] if r["component"] == "agi"]
    out += _agi(agi)
    out += _commands(snap["commands"])
    for job in snap["jobs"]:
        out += _job(job, snap["now"])
    if not snap["jobs"]:
        out.append(Reason("jobs-not-running", "the background jobs have never reported (is the jobs process running?)",
                          "фоновые задачи ни разу не отчитались (запущен ли процесс задач?)"))
    for conn in snap["crm"]:
        out += _crm(conn, snap["now"])
    return out


def _engine(server: str, row: dict | None) -> list[Reason]:
    if row is None:
        return [Reason(f"engine-not-reporting:{server}", f"the engine has never reported on Asterisk «{server}»",
                       f"движок ни разу не сообщил о состоянии Asterisk «{server}»")]
    if row["age_s"] > STALE_S:
        en, ru = _age(row["age_s"])
        return [Reason(f"engine-not-reporting:{server}", f"the engine's report on Asterisk «{server}» is {en} old"
                       " (is the engine running?)", f"отчёт движка об Asterisk «{server}» устарел на {ru}"
                       " (запущен ли движок?)")]
    out = []
    if not row["ok"]:
        en, ru = _age(row["state_age_s"])
        out.append(Reason(f"ari-disconnected:{server}", f"the engine has had no ARI connection to «{server}» for {en}",
                          f"у движка нет ARI-соединения с «{server}» уже {ru}"))
    failing = float((row.get("detail") or {}).get("writes_failing_s") or 0)
    if failing >= WRITES_FAILING_S or row["write_backlog"] >= BACKLOG_MAX:
        out.append(Reason(f"engine-write-backlog:{server}",
                          f"{row['write_backlog']} engine writes wait for the database (failing for {failing:.0f} s)",
                          f"{row['write_backlog']} записей движка ждут базу данных (не проходят {failing:.0f} с)"))
    return out


def _agi(rows: list[dict]) -> list[Reason]:
    if not rows:
        return [Reason("agi-not-reporting", "the AGI server has never reported", "сервер AGI ни разу не отчитался")]
    out = []
    for r in rows:
        if r["age_s"] > STALE_S:
            en, ru = _age(r["age_s"])
            out.append(Reason(f"agi-not-reporting:{r['name']}", f"the AGI server's report ({r['name']}) is {en} old",
                              f"отчёт сервера AGI ({r['name']}) устарел на {ru}"))
        elif not r["ok"]:
            out.append(Reason(f"agi-down:{r['name']}", f"the AGI server does not listen on {r['name']}",
                              f"сервер AGI не принимает соединения на {r['name']}"))
    return out


def _commands(c: dict) -> list[Reason]:
    if c["pending"] and c["oldest_s"] > COMMAND_LAG_S:
        en, ru = _age(c["oldest_s"])
        return [Reason("commands-waiting", f"{c['pending']} engine commands wait, the oldest for {en}",
                       f"{c['pending']} команд ждут движок, самая старая — {ru}")]
    return []


def job_overdue(job: dict, now: datetime) -> bool:
    if job["next_run_at"] is None:
        return False
    grace = max(JOB_GRACE_S, 2 * (job["interval_s"] or 0))
    return now - job["next_run_at"] > timedelta(seconds=grace)


def _job(job: dict, now: datetime) -> list[Reason]:
    name = job["job"]
    if job["consecutive_failures"] and (job["last_success_at"] is None or job["last_failure_at"] > job["last_success_at"]):
        err = job["last_error"] or ""
        return [Reason(f"job-failing:{name}", f"job «{name}» failed {job['consecutive_failures']} times in a row: {err}",
                       f"задача «{name}» не выполнилась {job['consecutive_failures']} раз подряд: {err}")]
    if job_overdue(job, now):
        en, ru = _age((now - job["next_run_at"]).total_seconds())
        return [Reason(f"job-late:{name}", f"job «{name}» is {en} overdue (is the jobs process running?)",
                       f"задача «{name}» опаздывает на {ru} (запущен ли процесс задач?)")]
    return []


def _crm(conn: dict, now: datetime) -> list[Reason]:
    since = conn["unreachable_since"]
    if since is None or now - since <= timedelta(seconds=conn["alert_after_s"]):
        return []
    en, ru = _age((now - since).total_seconds())
    err = conn["last_error"] or ""
    return [Reason(f"crm-unreachable:{conn['id']}", f"CRM «{conn['name']}» has been unreachable for {en}: {err}",
                   f"CRM «{conn['name']}» недоступна уже {ru}: {err}")]


# ---- reading ----------------------------------------------------------------------------------------------
_COMPONENTS_SQL = """
SELECT component, name, host, pid, started_at, ok, state_since, reconnects_today, write_backlog, detail, updated_at,
       extract(epoch FROM clock_timestamp() - updated_at)::float8, extract(epoch FROM clock_timestamp() - state_since)::float8
  FROM component_health ORDER BY component, name"""
_COMPONENT_KEYS = ("component", "name", "host", "pid", "started_at", "ok", "state_since", "reconnects_today",
                   "write_backlog", "detail", "updated_at", "age_s", "state_age_s")
_JOBS_SQL = """
SELECT job, interval_s, next_run_at, last_started_at, last_success_at, last_failure_at, last_error, runs, failures,
       consecutive_failures, CASE WHEN failures_day = %s THEN failures_today ELSE 0 END, updated_at
  FROM job_run ORDER BY job"""
_JOB_KEYS = ("job", "interval_s", "next_run_at", "last_started_at", "last_success_at", "last_failure_at", "last_error",
             "runs", "failures", "consecutive_failures", "failures_today", "updated_at")
_CRM_SQL = """
SELECT id, name, kind, unreachable_since, alert_after_s, last_error, last_ok_at, last_pull_at
  FROM crm_connection WHERE enabled ORDER BY id"""
_CRM_KEYS = ("id", "name", "kind", "unreachable_since", "alert_after_s", "last_error", "last_ok_at", "last_pull_at")
# the oldest command not done, found through the pending commands' own index
_COMMANDS_SQL = """
SELECT (SELECT count(*) FROM engine_command WHERE done_at IS NULL),
       coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at FROM engine_command WHERE done_at IS NULL
                                                         ORDER BY id LIMIT 1))::float8, 0)"""


def read(db, servers: list[str], today) -> dict:
    """What `assess` needs, in one read-only transaction whose statements give up after STATEMENT_TIMEOUT_MS.
    `today`: the installation's date (the jobs' failures today)."""
    with db.atomic():
        db.execute_sql("SET TRANSACTION READ ONLY")
        db.execute_sql(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        (now,) = db.execute_sql("SELECT clock_timestamp()").fetchone()
        components = [dict(zip(_COMPONENT_KEYS, r)) for r in db.execute_sql(_COMPONENTS_SQL).fetchall()]
        jobs = [dict(zip(_JOB_KEYS, r)) for r in db.execute_sql(_JOBS_SQL, (today,)).fetchall()]
        crm = [dict(zip(_CRM_KEYS, r)) for r in db.execute_sql(_CRM_SQL).fetchall()]
        pending, oldest = db.execute_sql(_COMMANDS_SQL).fetchone()
    return {"now": now, "servers": list(servers), "components": components, "jobs": jobs, "crm": crm,
            "commands": {"pending": pending, "oldest_s": oldest}}


def check(db, servers: list[str], today) -> dict:
    """The snapshot and its reasons; a database that does not answer is itself the reason."""
    try:
        snap = read(db, servers, today)
    except Exception as e:
        snap = {"database_error": short(e), "servers": list(servers)}
    return {"snapshot": snap, "reasons": assess(snap)}


def short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:300]


def describe(snap: dict, reasons: list[Reason], lang: str = "en") -> str:
    """`dialer status`'s text: the verdict, each part in a line, then the reasons."""
    ru = lang == "ru"
    lines = [("Состояние: всё работает" if ru else "Status: all is well") if not reasons else
             (f"Состояние: проблемы ({len(reasons)})" if ru else f"Status: {len(reasons)} problem(s)")]
    if snap.get("database_error"):
        lines.append(f"  database          {snap['database_error']}")
    else:
        lines.append("  database          ok")
        rows = {(r["component"], r["name"]): r for r in snap["components"]}
        for server in snap["servers"]:
            r = rows.get(("engine", server))
            state = "no report" if r is None else (
                f"ARI {'connected' if r['ok'] else 'DISCONNECTED'} for {_age(r['state_age_s'])[0]},"
                f" {r['reconnects_today']} reconnects today, {r['write_backlog']} writes waiting,"
                f" report {_age(r['age_s'])[0]} old")
            lines.append(f"  asterisk {server:8} {state}")
        for r in [r for r in snap["components"] if r["component"] == "agi"] or [None]:
            lines.append("  agi               no report" if r is None else
                         f"  agi {r['name']:13} {'listening' if r['ok'] else 'NOT LISTENING'},"
                         f" report {_age(r['age_s'])[0]} old")
        c = snap["commands"]
        lines.append(f"  commands          {c['pending']} waiting" + (f", the oldest {_age(c['oldest_s'])[0]}"
                                                                       if c["pending"] else ""))
        for j in snap["jobs"]:
            last = j["last_success_at"].isoformat(timespec="seconds") if j["last_success_at"] else "never"
            lines.append(f"  job {j['job']:18} last success {last}, {j['failures_today']} failures today")
        for conn in snap["crm"]:
            lines.append(f"  crm {conn['id']} {conn['name']}: "
                         + ("unreachable since " + conn["unreachable_since"].isoformat(timespec="seconds")
                            if conn["unreachable_since"] else "reachable"))
    for r in reasons:
        lines.append(f"- {r.code}: {r.message_ru if ru else r.message}")
    return "\n".join(lines)
