"""Reports (SPEC G1–G5): the six outcomes of the attempts that ended in a period, by day, by hour, by campaign
and by operator, the KPIs over them, and the list of calls behind every figure.

An attempt belongs to the period in which it *ended* (only an ended attempt has an outcome), and days and hours
are those of the installation's time zone (`Settings.time_zone`). The pure parts — period, filter, the KPI
arithmetic — come first and are table-tested; the SQL groups in the database, one statement for every slice.
The figures come from the hourly rollup `report_rollup` (sql/017, kept by a trigger in each attempt's own
transaction) for every whole UTC hour that lies within one local hour, and from `attempt` only for the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
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

GROUPS = {"total": "()", "day": "(day)", "hour": "(hour)", "campaign": "(campaign_id)", "operator": "(operator_id)"}
HOUR = timedelta(hours=1)
MICRO = Decimal(1_000_000)


def _push(ranges: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> None:
    if ranges and ranges[-1][1] == a:
        ranges[-1] = (ranges[-1][0], b)
    else:
        ranges.append((a, b))


def whole_local_hour(h: datetime, zone: ZoneInfo) -> bool:
    """Does the UTC hour starting at `h` lie within one local hour (so one local day and hour of day)? Yes when the
    zone's offset is a whole number of hours and does not change inside that hour (a DST change on the hour is fine;
    India's +05:30 or Lord Howe's half-hour DST is not)."""
    off = h.astimezone(zone).utcoffset()
    return (off == (h + HOUR - timedelta(microseconds=1)).astimezone(zone).utcoffset()
            and off.total_seconds() % 3600 == 0)


def split_hours(start: datetime, end: datetime, zone: str) -> tuple[list, list]:
    """[start, end) cut into ranges the hourly rollup answers — whole UTC hours, each within one local hour — and the
    ranges that must be read from the attempts: parts of hours at the edges, hours of an offset that is not whole."""
    z = ZoneInfo(zone)
    rolled: list[tuple[datetime, datetime]] = []
    raw: list[tuple[datetime, datetime]] = []
    h = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    while h < end:
        a, b = max(h, start), min(h + HOUR, end)
        _push(rolled if (a == h and b == h + HOUR and whole_local_hour(h, z)) else raw, a, b)
        h += HOUR
    return rolled, raw


def _ranges(column: str, ranges: list[tuple[datetime, datetime]]) -> tuple[str, list]:
    sql = " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in ranges)
    return f"({sql})", [t for r in ranges for t in r]


def _dims(alias: str, flt: Filter) -> tuple[list[str], list]:
    parts, params = [], []
    for column, values in (("campaign_id", flt.campaigns), ("operator_id", flt.operators),
                           ("selection_id", flt.selections)):
        if values:
            parts.append(f"{alias}.{column} = ANY(%s)")
            params.append(list(values))
    return parts, params


def _rollup_part(flt: Filter, ranges: list) -> tuple[str, list]:
    """The rollup's rows of the whole hours: each already summed per campaign, operator and selection; an outcome
    filter keeps only its outcomes' columns (and their wrap-ups)."""
    picked = [c for c in CODES if not flt.outcomes or c in flt.outcomes]
    counts = ", ".join(f"r.n_{c.lower()}" if c in picked else "0" for c in CODES)
    talk = "r.talk_n, r.talk_us" if Outcome.ANSWERED.value in picked else "0, 0::bigint"
    wrap_n = " + ".join(f"r.wrap_n_{c.lower()}" for c in picked)
    wrap_s = " + ".join(f"r.wrap_us_{c.lower()}" for c in picked)
    span, params = _ranges("r.hour", ranges)
    parts, dim_params = _dims("r", flt)
    if flt.outcomes:  # rows without any of the chosen outcomes add nothing
        parts.append("(" + " OR ".join(f"r.n_{c.lower()} <> 0" for c in picked) + ")")
    sql = (f"SELECT (r.hour AT TIME ZONE %s)::date AS day, extract(hour FROM r.hour AT TIME ZONE %s)::int AS hour,"
           f" r.campaign_id, r.operator_id, {counts}, {talk}, {wrap_n}, {wrap_s}"
           f" FROM report_rollup r WHERE {' AND '.join([span, *parts])}")
    return sql, [flt.zone, flt.zone, *params, *dim_params]


def _raw_part(flt: Filter, ranges: list) -> tuple[str, list]:
    """The attempts themselves, for what the rollup cannot answer: one row per attempt, in the same columns (talk
    and wrap-up in whole microseconds, as the rollup keeps them)."""
    counts = ", ".join(f"(a.outcome = '{c}')::int" for c in CODES)  # fixed codes, never user text
    span, params = _ranges("a.ended_at", ranges)
    parts, dim_params = _dims("a", flt)
    if flt.outcomes:
        parts.append("a.outcome = ANY(%s)")
        dim_params.append(list(flt.outcomes))
    sql = (f"SELECT (a.ended_at AT TIME ZONE %s)::date, extract(hour FROM a.ended_at AT TIME ZONE %s)::int,"
           f" a.campaign_id, a.operator_id, {counts}, (({TALK_SQL}) IS NOT NULL)::int,"
           f" coalesce(({TALK_SQL}) * 1000000, 0)::bigint, (({WRAP_SQL}) IS NOT NULL)::int,"
           f" coalesce(({WRAP_SQL}) * 1000000, 0)::bigint"
           f" FROM attempt a WHERE {' AND '.join([span, *parts])}")
    return sql, [flt.zone, flt.zone, *params, *dim_params]


def grouped_sql(flt: Filter, sets=tuple(GROUPS), rollup: bool = True) -> tuple[str, list]:
    """One statement for the chosen slices: the rollup's whole hours and the attempts of the rest, united, then
    grouped by GROUPING SETS. `rollup=False` reads every attempt (the reference the rollup must equal)."""
    start, end = flt.bounds()
    rolled, raw = split_hours(start, end, flt.zone) if rollup else ([], [(start, end)])
    parts, params = [], []
    for ranges, part in ((rolled, _rollup_part), (raw, _raw_part)):
        if ranges:
            sql, p = part(flt, ranges)
            parts.append(sql)
            params += p
    sums = ", ".join(f"sum(n{i})" for i in range(len(CODES)))
    names_ = ", ".join(f"n{i}" for i in range(len(CODES)))
    keys = ", ".join(_COLUMN[s] if s in sets else "NULL" for s in _KEYED)
    sql = (f"SELECT {_grouping(sets)}, {keys}, {sums}, sum(talk_n), sum(talk_us), sum(wrap_n), sum(wrap_us)"
           f" FROM ({' UNION ALL '.join(parts)}) AS x (day, hour, campaign_id, operator_id, {names_}, talk_n, talk_us,"
           f" wrap_n, wrap_us)"
           f" GROUP BY GROUPING SETS ({', '.join(GROUPS[s] for s in sets)})")
    return sql, params


_KEYED = ("day", "hour", "campaign", "operator")
_COLUMN = {"day": "day", "hour": "hour", "campaign": "campaign_id", "operator": "operator_id"}


def _grouping(sets) -> str:
    """GROUPING() over the key columns of the chosen sets (a column in no set may not be named there)."""
    present = [_COLUMN[s] for s in _KEYED if s in sets]
    return f"GROUPING({', '.join(present)})" if present else "0"


def _set_of(sets) -> dict[int, str]:
    """GROUPING()'s value → the set: a bit (leftmost column highest) for each present column a row is NOT grouped by."""
    present = [s for s in _KEYED if s in sets]
    full = (1 << len(present)) - 1
    out = {full: "total"}
    for j, s in enumerate(present):
        out[full & ~(1 << (len(present) - 1 - j))] = s
    return out


def grouped(flt: Filter, sets=tuple(GROUPS), rollup: bool = True) -> dict[str, dict]:
    """{slice: {key: (six counts in SPEC order, talk_n, talk_s, wrap_n, wrap_s)}} with exact (Decimal) sums; groups
    with no attempt (a rollup row whose attempts moved away, or that holds only other outcomes) are left out."""
    sql, params = grouped_sql(flt, sets, rollup)
    out: dict[str, dict] = {name: {} for name in sets}
    set_of = _set_of(sets)
    for g, day, hour, campaign_id, operator_id, *figures in database().execute_sql(sql, params).fetchall():
        name = set_of[g]
        counts = tuple(int(n or 0) for n in figures[:len(CODES)])
        if not any(counts):
            continue
        key = {"total": None, "day": day, "hour": hour, "campaign": campaign_id, "operator": operator_id}[name]
        talk_n, talk_us, wrap_n, wrap_us = figures[len(CODES):]
        out[name][key] = (counts, int(talk_n or 0), Decimal(talk_us or 0) / MICRO, int(wrap_n or 0),
                          Decimal(wrap_us or 0) / MICRO)
    return out


def _totals(figures) -> Totals:
    counts, talk_n, talk_s, wrap_n, wrap_s = figures
    return Totals(dict(zip(CODES, counts)), float(talk_s), talk_n, float(wrap_s), wrap_n)


def slices(flt: Filter, sets=tuple(GROUPS), rollup: bool = True) -> dict[str, dict]:
    """{"total": {None: Totals}, "day": {date: Totals}, "hour": {0..23: Totals}, "campaign": {id: Totals},
    "operator": {id or None: Totals}} (only the `sets` asked for)."""
    out = {name: {key: _totals(f) for key, f in groups.items()} for name, groups in grouped(flt, sets, rollup).items()}
    if "total" in out:
        out["total"].setdefault(None, Totals())
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


PARTS = {"kpis": "total", "by_day": "day", "by_hour": "hour", "campaigns": "campaign", "operators": "operator"}


def report(who: Principal, flt: Filter, now: datetime | None = None, parts=tuple(PARTS)) -> dict:
    """The whole «Отчёты» page: KPIs, histograms by day and by hour, slices by campaign and by operator — or only
    the `parts` asked for (one grouping each, in the same statement)."""
    require(who, READ)
    check_exists(flt)
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise invalid("part", "must be one of: " + ", ".join(PARTS), "допустимые значения: " + ", ".join(PARTS))
    sets = ["total", *(PARTS[p] for p in parts)]
    if "kpis" in parts and flt.narrows_attempts and not flt.operators:
        sets.append("operator")  # the operator-hours of the operators with calls in the filter
    s = slices(flt, tuple(dict.fromkeys(sets)))
    by_op = s.get("operator", {})
    login: dict[int, float] = {}
    if "kpis" in parts or "operators" in parts:
        if flt.operators:
            op_ids: list[int] | None = list(flt.operators)
        elif flt.narrows_attempts:
            op_ids = [i for i in by_op if i is not None]
        else:
            op_ids = None
        login = login_seconds(flt, op_ids, now)
    total = s["total"][None]
    out: dict = {"period": {"from": flt.start.isoformat(), "to": flt.end.isoformat(), "zone": flt.zone,
                            "preset": flt.preset, "bounds": [b.isoformat() for b in flt.bounds()]}}
    if "kpis" in parts:
        out["kpis"] = kpis(total, sum(login.values()))
    if "by_day" in parts:
        out["by_day"] = [{"key": d.isoformat(), "counts": s["day"].get(d, Totals()).counts} for d in flt.days()]
    if "by_hour" in parts:
        out["by_hour"] = [{"key": h, "counts": s["hour"].get(h, Totals()).counts} for h in range(24)]
    if "campaigns" in parts:
        camp_names = names("campaign", s["campaign"])
        out["campaigns"] = [row(cid, camp_names.get(cid, "—"), t) for cid, t in
                            sorted(s["campaign"].items(), key=lambda kv: (camp_names.get(kv[0], ""), kv[0]))]
    if "operators" in parts:
        op_names = names("operator", set(by_op) | set(login))
        out["operators"] = [row(oid, op_names.get(oid, "—") if oid is not None else "", by_op.get(oid, Totals()),
                                login.get(oid, 0.0) if oid is not None else None)
                            for oid in sorted(set(by_op) | set(login),
                                              key=lambda i: (i is None, op_names.get(i, ""), i or 0))]
    out["totals"] = row(None, "", total, sum(login.values()))
    return out
