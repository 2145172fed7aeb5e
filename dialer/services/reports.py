"""Reports (SPEC G1–G5): the six outcomes of the attempts that ended in a period, by day, by hour, by campaign
and by operator, the KPIs over them, and the list of calls behind every figure.

An attempt belongs to the period in which it *ended* (only an ended attempt has an outcome), and days and hours
are those of the installation's time zone (`Settings.time_zone`). The pure parts — period, filter, the KPI
arithmetic — come first and are table-tested; the SQL groups in the database, one scan for every slice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..access import Principal, allowed
from ..errors import Forbidden
from ..outcomes import ORDER, Outcome
from ..validation import database, invalid, is_id

READ, EXPORT = "reports.read", "reports.export"
CODES = tuple(o.value for o in ORDER)
PRESETS = ("today", "yesterday", "7d", "month", "custom")
MAX_DAYS = 366            # a year and a day: a leap year's report fits
MAX_IDS = 200             # ids per filter field


# ---- the period and the filter (pure) ---------------------------------------------------------------------
def preset_days(preset: str, today: date) -> tuple[date, date]:
    """The first and last local day of a preset: «Месяц» is the calendar month so far, «7 дней» ends today."""
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if preset == "7d":
        return today - timedelta(days=6), today
    if preset == "month":
        return today.replace(day=1), today
    raise ValueError(preset)


@dataclass(frozen=True)
class Filter:
    start: date                  # first day, local
    end: date                    # last day, local, inclusive
    zone: str = "Europe/Moscow"
    preset: str = "custom"
    campaigns: tuple[int, ...] = ()
    operators: tuple[int, ...] = ()
    selections: tuple[int, ...] = ()
    outcomes: tuple[str, ...] = ()

    def bounds(self) -> tuple[datetime, datetime]:
        """[local midnight of the first day, local midnight after the last day), as instants."""
        z = ZoneInfo(self.zone)
        return (datetime.combine(self.start, time(), z).astimezone(timezone.utc),
                datetime.combine(self.end + timedelta(days=1), time(), z).astimezone(timezone.utc))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def narrows_attempts(self) -> bool:
        """A filter other than the operators: then only operators with calls in it are counted."""
        return bool(self.campaigns or self.selections or self.outcomes)

    def query(self) -> list[tuple[str, str]]:
        """The filter as query-string pairs (links to the call list, exports, saved views)."""
        out = [("period", self.preset)]
        if self.preset == "custom":
            out += [("from", self.start.isoformat()), ("to", self.end.isoformat())]
        out += [("campaign", str(i)) for i in self.campaigns] + [("operator", str(i)) for i in self.operators]
        out += [("selection", str(i)) for i in self.selections] + [("outcome", o) for o in self.outcomes]
        return out


def zone_or_default(name: str) -> str:
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"


def _day(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(key, "must be a date YYYY-MM-DD", "должно быть датой ГГГГ-ММ-ДД") from None


def _ids(key: str, values: list[str]) -> tuple[int, ...]:
    if len(values) > MAX_IDS:
        raise invalid(key, f"at most {MAX_IDS} values", f"не больше {MAX_IDS} значений")
    out = []
    for v in values:
        if not (v.isdigit() and len(v) < 19 and is_id(int(v))):
            raise invalid(key, "must be a positive whole number", "должно быть целым положительным числом")
        out.append(int(v))
    return tuple(sorted(set(out)))


def parse_filter(params: Mapping[str, list[str]], zone: str, today: date) -> Filter:
    """Query-string values (lists of strings) into a checked Filter. Nothing given: today."""
    def first(key: str) -> str:
        values = params.get(key) or [""]
        return values[0].strip()

    preset = first("period") or ("custom" if first("from") or first("to") else "today")
    if preset not in PRESETS:
        raise invalid("period", "must be one of: " + ", ".join(PRESETS), "допустимые значения: " + ", ".join(PRESETS))
    if preset == "custom":
        if not first("from") or not first("to"):
            raise invalid("from", "a custom period needs both dates", "для своего периода нужны обе даты")
        start, end = _day("from", first("from")), _day("to", first("to"))
        if end < start:
            raise invalid("to", "must not be before the first day", "не может быть раньше первого дня")
        if (end - start).days + 1 > MAX_DAYS:
            raise invalid("to", f"the period must be at most {MAX_DAYS} days", f"период не длиннее {MAX_DAYS} дней")
    else:
        start, end = preset_days(preset, today)
    outcomes = tuple(dict.fromkeys(params.get("outcome") or []))
    for o in outcomes:
        if o not in CODES:
            raise invalid("outcome", "must be one of: " + ", ".join(CODES), "допустимые значения: " + ", ".join(CODES))
    return Filter(start, end, zone, preset, _ids("campaign", params.get("campaign") or []),
                  _ids("operator", params.get("operator") or []), _ids("selection", params.get("selection") or []),
                  tuple(o for o in CODES if o in outcomes))


# ---- the KPI arithmetic (pure) ------------------------------------------------------------------------------
@dataclass
class Totals:
    """What the KPIs are computed from: attempts per outcome, talk (ANSWERED only) and wrap-up seconds."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CODES, 0))
    talk_s: float = 0.0
    talk_n: int = 0
    wrap_s: float = 0.0
    wrap_n: int = 0

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    def add(self, outcome: str, n: int, talk_s=0.0, talk_n=0, wrap_s=0.0, wrap_n=0) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n
        self.talk_s += float(talk_s or 0)
        self.talk_n += talk_n
        self.wrap_s += float(wrap_s or 0)
        self.wrap_n += wrap_n


def talk_seconds(a: Mapping) -> float | None:
    """Talk: from the client joining the operator (bridged; answered when no bridge was recorded) to the end,
    for ANSWERED attempts only."""
    began = a.get("bridged_at") or a.get("answered_at")
    if a.get("outcome") != Outcome.ANSWERED or began is None or a.get("ended_at") is None:
        return None
    return (a["ended_at"] - began).total_seconds()


def wrap_seconds(a: Mapping) -> float | None:
    """Wrap-up: from the end of the call to the operator's wrap-up being done."""
    if a.get("wrap_up_at") is None or a.get("ended_at") is None:
        return None
    return (a["wrap_up_at"] - a["ended_at"]).total_seconds()


def tally(attempts: Iterable[Mapping]) -> Totals:
    """The definition the SQL must agree with, attempt by attempt (tests recount with it)."""
    t = Totals()
    for a in attempts:
        talk, wrap = talk_seconds(a), wrap_seconds(a)
        t.add(a["outcome"], 1, talk or 0, talk is not None, wrap or 0, wrap is not None)
    return t


def pct(n: float, of: float) -> float | None:
    return None if not of else 100.0 * n / of


def per(value: float, of: float) -> float | None:
    return None if not of else value / of


def kpis(t: Totals, login_s: float | None = None) -> dict:
    """The KPI tiles (G2). None where a figure has nothing to be computed from (no calls, no login time)."""
    n = t.attempts
    answered, lost = t.counts[Outcome.ANSWERED.value], t.counts[Outcome.LOST.value]
    hours = (login_s or 0) / 3600
    return {
        "attempts": n,
        "outcomes": [{"code": o.value, "n": t.counts[o.value], "pct": pct(t.counts[o.value], n)} for o in ORDER],
        "contact_pct": pct(answered + lost, n),          # the client picked up (talked, or hung up on hold)
        "avg_talk_s": per(t.talk_s, t.talk_n),
        "avg_wrap_s": per(t.wrap_s, t.wrap_n),
        "login_h": hours if login_s is not None else None,
        "calls_per_hour": per(n, hours) if login_s is not None else None,
        "talk_min_per_hour": per(t.talk_s / 60, hours) if login_s is not None else None,
        "lost_pct": pct(lost, answered + lost),          # the abandon rate: of the clients who picked up
    }


def require(who: Principal, permission: str) -> None:
    if not allowed(who, permission):
        raise Forbidden("not-permitted", f"this needs the permission {permission}", permission=permission,
                        message_ru=f"для этого нужно право {permission}")


# ---- SQL: one scan, every slice --------------------------------------------------------------------------
def where(flt: Filter) -> tuple[str, list]:
    """Fixed SQL fragments and their parameters: no user text ever becomes SQL."""
    start, end = flt.bounds()
    parts, params = ["a.ended_at >= %s", "a.ended_at < %s"], [start, end]
    for column, values in (("a.campaign_id", flt.campaigns), ("a.operator_id", flt.operators),
                           ("a.selection_id", flt.selections), ("a.outcome", flt.outcomes)):
        if values:
            parts.append(f"{column} = ANY(%s)")
            params.append(list(values))
    return " AND ".join(parts), params


TALK_SQL = ("CASE WHEN a.outcome = 'ANSWERED' THEN extract(epoch FROM a.ended_at - coalesce(a.bridged_at, a.answered_at))"
            " END")
WRAP_SQL = "extract(epoch FROM a.wrap_up_at - a.ended_at)"

# GROUPING(day, hour, campaign_id, operator_id) has a bit set for each column a row is NOT grouped by
SETS = {15: "total", 7: "day", 11: "hour", 13: "campaign", 14: "operator"}
_SLICES_SQL = f"""
SELECT GROUPING(day, hour, campaign_id, operator_id), day, hour, campaign_id, operator_id, outcome, count(*),
       coalesce(sum(talk_s), 0), count(talk_s), coalesce(sum(wrap_s), 0), count(wrap_s)
  FROM (SELECT (a.ended_at AT TIME ZONE %s)::date AS day, extract(hour FROM a.ended_at AT TIME ZONE %s)::int AS hour,
               a.campaign_id, a.operator_id, a.outcome, {TALK_SQL} AS talk_s, {WRAP_SQL} AS wrap_s
          FROM attempt a WHERE {{where}}) x
 GROUP BY GROUPING SETS ((outcome), (day, outcome), (hour, outcome), (campaign_id, outcome), (operator_id, outcome))"""


def slices(flt: Filter) -> dict[str, dict]:
    """{"total": {None: Totals}, "day": {date: Totals}, "hour": {0..23: Totals}, "campaign": {id: Totals},
    "operator": {id or None: Totals}}."""
    clause, params = where(flt)
    out: dict[str, dict] = {name: {} for name in SETS.values()}
    out["total"][None] = Totals()
    rows = database().execute_sql(_SLICES_SQL.format(where=clause), [flt.zone, flt.zone, *params]).fetchall()
    for g, day, hour, campaign_id, operator_id, outcome, n, talk_s, talk_n, wrap_s, wrap_n in rows:
        name = SETS[g]
        key = {"total": None, "day": day, "hour": hour, "campaign": campaign_id, "operator": operator_id}[name]
        out[name].setdefault(key, Totals()).add(outcome, n, talk_s, talk_n, wrap_s, wrap_n)
    return out


_LOGIN_SQL = """
WITH ops AS (SELECT id FROM operator WHERE {ops}),
     spans AS (
       SELECT l.operator_id, l.status, l.at,
              lead(l.at) OVER (PARTITION BY l.operator_id ORDER BY l.at, l.id) AS until
         FROM (SELECT s.* FROM operator_status_log s JOIN ops ON ops.id = s.operator_id
                WHERE s.at >= %s AND s.at < %s
               UNION ALL  -- the status each operator was in when the period began
               SELECT b.* FROM ops CROSS JOIN LATERAL (
                   SELECT * FROM operator_status_log s WHERE s.operator_id = ops.id AND s.at < %s
                    ORDER BY s.at DESC, s.id DESC LIMIT 1) b) l)
SELECT operator_id,
       sum(extract(epoch FROM least(coalesce(until, %s), %s) - greatest(at, %s)))
  FROM spans
 WHERE status <> 'offline' AND coalesce(until, %s) > %s AND at < least(%s, %s)
 GROUP BY operator_id"""


def login_seconds(flt: Filter, operator_ids: list[int] | None, now: datetime | None = None) -> dict[int, float]:
    """Seconds each operator was signed in (any status but «Не в сети») within the period, from the status log;
    the current status lasts until `now`. `operator_ids` None: every operator."""
    start, end = flt.bounds()
    now = now or datetime.now(timezone.utc)
    if operator_ids is not None and not operator_ids:
        return {}
    ops, ops_params = ("id = ANY(%s)", [list(operator_ids)]) if operator_ids is not None else ("true", [])
    params = [*ops_params, start, end, start, now, end, start, now, start, now, end]
    rows = database().execute_sql(_LOGIN_SQL.format(ops=ops), params).fetchall()
    return {oid: float(s) for oid, s in rows if s and s > 0}


def names(table: str, ids) -> dict[int, str]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    assert table in ("campaign", "operator", "selection")  # a fixed table name, never user text
    return dict(database().execute_sql(f"SELECT id, name FROM {table} WHERE id = ANY(%s)", (ids,)).fetchall())


def check_exists(flt: Filter) -> None:
    """Ids in a filter must name existing rows (422 otherwise: a typo must not look like "no calls")."""
    for key, table, ids in (("campaign", "campaign", flt.campaigns), ("operator", "operator", flt.operators),
                            ("selection", "selection", flt.selections)):
        missing = set(ids) - set(names(table, ids))
        if missing:
            listed = ", ".join(map(str, sorted(missing)))
            raise invalid(key, f"no such {key}: {listed}", f"не найдено: {listed}")


def choices() -> dict:
    """What the filter lists offer: campaigns, operators, selections (with their campaign)."""
    db = database()
    return {"campaigns": [{"id": i, "name": n} for i, n in db.execute_sql(
                "SELECT id, name FROM campaign ORDER BY name, id").fetchall()],
            "operators": [{"id": i, "name": n} for i, n in db.execute_sql(
                "SELECT id, name FROM operator ORDER BY name, id").fetchall()],
            "selections": [{"id": i, "name": n, "campaign": c} for i, n, c in db.execute_sql(
                "SELECT s.id, s.name, c.name FROM selection s JOIN campaign c ON c.id = s.campaign_id"
                " ORDER BY c.name, s.position, s.id").fetchall()]}


def row(key, name: str, t: Totals, login_s: float | None = None) -> dict:
    return {"id": key, "name": name, **kpis(t, login_s)}


def report(who: Principal, flt: Filter, now: datetime | None = None) -> dict:
    """The whole «Отчёты» page: KPIs, histograms by day and by hour, slices by campaign and by operator."""
    require(who, READ)
    check_exists(flt)
    s = slices(flt)
    by_op = s["operator"]
    if flt.operators:
        op_ids: list[int] | None = list(flt.operators)
    elif flt.narrows_attempts:
        op_ids = [i for i in by_op if i is not None]
    else:
        op_ids = None
    login = login_seconds(flt, op_ids, now)
    total = s["total"][None]
    camp_names = names("campaign", s["campaign"])
    op_names = names("operator", set(by_op) | set(login))
    operators = [row(oid, op_names.get(oid, "—") if oid is not None else "", by_op.get(oid, Totals()),
                     login.get(oid, 0.0) if oid is not None else None)
                 for oid in sorted(set(by_op) | set(login), key=lambda i: (i is None, op_names.get(i, ""), i or 0))]
    return {
        "period": {"from": flt.start.isoformat(), "to": flt.end.isoformat(), "zone": flt.zone, "preset": flt.preset,
                   "bounds": [b.isoformat() for b in flt.bounds()]},
        "kpis": kpis(total, sum(login.values())),
        "by_day": [{"key": d.isoformat(), "counts": s["day"].get(d, Totals()).counts} for d in flt.days()],
        "by_hour": [{"key": h, "counts": s["hour"].get(h, Totals()).counts} for h in range(24)],
        "campaigns": [row(cid, camp_names.get(cid, "—"), t) for cid, t in
                      sorted(s["campaign"].items(), key=lambda kv: (camp_names.get(kv[0], ""), kv[0]))],
        "operators": operators,
        "totals": row(None, "", total, sum(login.values())),
    }
