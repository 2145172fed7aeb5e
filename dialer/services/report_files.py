"""The scheduled daily shift summaries (issue 17, item 8): at the end of each shift a job writes the shift summary
PDF of every campaign that had calls that day, and keeps it in `report_file` for download from «Отчёты» by the
holders of `reports.export` (no e-mail server is assumed).

The shift ends at `Settings.shift_report_at` (local time of the installation, default 21:00). A job that was not
running then (the server was down, the setting moved) catches up: every day of the last CATCH_UP_DAYS whose shift has
ended and that has calls but no file gets one. A file is the summary as it was when written; it is never rewritten.
Files older than KEEP_DAYS are removed.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..access import SYSTEM, Principal
from ..errors import NotFound
from ..validation import database, invalid
from . import reports, reports_pdf

CATCH_UP_DAYS = 7
KEEP_DAYS = 92
LIST_MAX = 200


def parse_at(value: str) -> time:
    """"HH:MM" (00:00–23:59) of the shift's end."""
    try:
        hh, mm = value.strip().split(":")
        if len(hh) != 2 or len(mm) != 2:
            raise ValueError(value)
        return time(int(hh), int(mm))
    except ValueError:
        raise invalid("shift_report_at", "must be a time HH:MM", "должно быть временем ЧЧ:ММ") from None


def due_days(now: datetime, zone: str, at: time, keep: int = CATCH_UP_DAYS) -> list[date]:
    """The local days whose shift has ended by `now`, newest first: today once its shift end has passed, and the
    days before it within the catch-up window."""
    local = now.astimezone(ZoneInfo(zone))
    today = local.date()
    newest = today if local.time() >= at else today - timedelta(days=1)
    return [newest - timedelta(days=i) for i in range(keep)]


def _file_name(day: date, campaign_id: int) -> str:
    return f"shift-campaign-{campaign_id}-{day.isoformat()}.pdf"


def write_due(now: datetime, zone: str, at: str | time, lang: str = "ru") -> int:
    """Writes the missing shift summaries of the due days; returns how many were written."""
    at = parse_at(at) if isinstance(at, str) else at
    zone = reports.zone_or_default(zone)
    db = database()
    made = 0
    for day in due_days(now, zone, at):
        flt = reports.Filter(day, day, zone)
        with_calls = set(reports.grouped(flt, ("campaign",))["campaign"])
        have = {cid for (cid,) in db.execute_sql(
            "SELECT campaign_id FROM report_file WHERE kind = 'shift' AND day = %s", (day,)).fetchall()}
        for cid in sorted(with_calls - have):
            one = reports.Filter(day, day, zone, campaigns=(cid,))
            rep = reports.report(SYSTEM, one, now=now)
            name = reports.names("campaign", [cid]).get(cid, str(cid))
            body = reports_pdf.shift_pdf(rep, one, lang, name)
            made += db.execute_sql(
                "INSERT INTO report_file (kind, day, campaign_id, name, body) VALUES ('shift', %s, %s, %s, %s)"
                " ON CONFLICT (kind, campaign_id, day) DO NOTHING",
                (day, cid, _file_name(day, cid), body)).rowcount
    oldest = due_days(now, zone, at, 1)[0] - timedelta(days=KEEP_DAYS)
    db.execute_sql("DELETE FROM report_file WHERE day < %s", (oldest,))
    return made


def list_files(who: Principal, limit: int = LIST_MAX) -> list[dict]:
    """The kept summaries, newest day first (without their bodies)."""
    reports.require(who, reports.EXPORT)
    rows = database().execute_sql(
        "SELECT f.id, f.day, f.campaign_id, c.name, f.name, f.created_at, length(f.body)"
        "  FROM report_file f JOIN campaign c ON c.id = f.campaign_id"
        " ORDER BY f.day DESC, c.name, f.id LIMIT %s", (limit,)).fetchall()
    return [{"id": i, "day": d, "campaign_id": cid, "campaign": cname, "name": n, "created_at": at, "bytes": size}
            for i, d, cid, cname, n, at, size in rows]


def get_file(who: Principal, file_id: int) -> tuple[str, bytes]:
    reports.require(who, reports.EXPORT)
    row = database().execute_sql("SELECT name, body FROM report_file WHERE id = %s", (file_id,)).fetchone()
    if row is None:
        raise NotFound("report-file-not-found", f"no kept report {file_id}", message_ru=f"нет сохранённого отчёта {file_id}")
    return row[0], bytes(row[1])
