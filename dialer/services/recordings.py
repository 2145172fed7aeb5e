"""Call recordings for people (SPEC J1, J2): who may listen, the audit of every listening and download,
retention. The files and the engine's bookkeeping are dialer/recording_files.py (Ogg/Opus, and why).

The web serves a file only through the permission-checked route (web/pages/recordings.py).
The pure parts (Range, who may listen, when to audit, retention) are table-tested in tests/unit/test_recordings.py.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import audit
from ..access import Principal, allowed
from ..errors import Forbidden, Invalid, NotFound
from ..recording_files import (ASTERISK_FORMAT, EXT, GUARD_KEY, GUARD_KIND, MIME, StoredFile,  # noqa: F401
                               asterisk_name, guard, low_on_space, ogg_opus_duration, recording_stored,
                               relative_name, store_file)
from ..validation import database, is_id

log = logging.getLogger(__name__)
LISTEN = "recordings.listen"
RESEEK_AUDIT_S = 600
# the audit log's readable names of what happened to a recording
LISTENED, DOWNLOADED, EXPIRED = "Прослушана запись звонка", "Скачана запись звонка", "Запись удалена по сроку хранения"


# ---- pure ------------------------------------------------------------------------------------------------------
class RangeNotSatisfiable(Invalid):
    status = 416


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a `Range: bytes=…` request (RFC 9110 §14), None for the whole file.
    One range only (what `<audio>` asks for); a range past the end is refused with 416."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # a form we do not serve (several ranges, other units): the whole file, as RFC 9110 allows
    first, last = m.group(1), m.group(2)
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable("range-not-satisfiable", "the range is empty",
                                      message_ru="запрошенный диапазон пуст")
        return max(0, size - n), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable("range-not-satisfiable", f"the range starts past the file's {size} bytes",
                                  message_ru=f"диапазон начинается за концом файла ({size} байт)")
    return start, end


def range_start(header: str | None) -> int:
    """Where a request's Range begins (0: no Range, or from the start): a play starts at 0, a seek later;
    a suffix range (`bytes=-N`, the last N bytes) gives -N: a seek to the end, not a new play."""
    m = _RANGE.match((header or "").strip())
    if not m:
        return 0
    if m.group(1):
        return int(m.group(1))
    return -int(m.group(2)) if m.group(2) else 0


def audit_due(start: int, download: bool, audited_recently: bool) -> bool:
    """Every download and every play that starts is audited; a seek (a later range) only if this user's last
    entry for the recording is older than RESEEK_AUDIT_S (a copy fetched in pieces is still in the log)."""
    return download or start == 0 or not audited_recently


def url_for(who: Principal, attempt_id: int) -> str:
    """Holders of `recordings.listen` play through /recordings/…; an operator their own through the panel's route."""
    return f"/recordings/{attempt_id}" if allowed(who, LISTEN) else f"/panel/recordings/{attempt_id}"


def may_listen(who: Principal, call_operator_id: int | None, operators_own: bool) -> bool:
    """`recordings.listen` plays any recording; an operator their own calls only, and only if the installation
    allows it (settings.recordings_operators_own)."""
    if allowed(who, LISTEN):
        return True
    return (operators_own and who.operator_id is not None and who.operator_id == call_operator_id
            and allowed(who, "panel.use"))


def expired(started_at: datetime, retention_days: int, now: datetime) -> bool:
    """0 days: kept for ever."""
    return retention_days > 0 and started_at < now - timedelta(days=retention_days)


# ---- listening (the web) -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Playable:
    attempt_id: int
    path: Path
    bytes: int
    duration_s: float
    sha256: str


_FIND_SQL = """
SELECT r.state, r.file, r.bytes, r.duration_s, r.sha256, a.operator_id
  FROM attempt a LEFT JOIN call_recording r ON r.attempt_id = a.id WHERE a.id = %s"""


def _not_found(attempt_id) -> NotFound:
    return NotFound("recording-not-found", f"there is no recording of call {attempt_id}",
                    message_ru=f"записи звонка {attempt_id} нет")


def card(who: Principal, attempt_id: int, operators_own: bool) -> dict | None:
    """What the call card shows about the recording; None when this user may not listen (nothing is shown)."""
    row = database().execute_sql(_FIND_SQL, (attempt_id,)).fetchone() if is_id(attempt_id) else None
    if row is None or not may_listen(who, row[5], operators_own):
        return None
    state, _file, size, duration, sha, _op = row
    return {"state": state, "bytes": size, "duration_s": duration, "sha256": sha,
            "url": url_for(who, attempt_id) if state == "stored" else None}


def playable(who: Principal, attempt_ids: list[int], operators_own: bool) -> dict[int, str]:
    """{attempt: the file's URL} of the stored recordings among `attempt_ids` this user may play (the lead card)."""
    ids = [i for i in attempt_ids if is_id(i)]
    if not ids:
        return {}
    rows = database().execute_sql("SELECT r.attempt_id, a.operator_id FROM call_recording r JOIN attempt a"
                                  " ON a.id = r.attempt_id WHERE r.attempt_id = ANY(%s) AND r.state = 'stored'",
                                  (ids,)).fetchall()
    return {aid: url_for(who, aid) for aid, op in rows if may_listen(who, op, operators_own)}


_RECENT_SQL = """
SELECT 1 FROM audit_log WHERE object_type = 'recording' AND object_id = %s AND user_id IS NOT DISTINCT FROM %s
   AND name IN (%s, %s) AND at > clock_timestamp() - make_interval(secs => %s)
 LIMIT 1"""


def open_for(who: Principal, attempt_id, root: Path, operators_own: bool, download: bool,
             start: int = 0, own_only: bool = False) -> Playable:
    """The file to send, after the access check; the listening (or download) is written to the audit log.
    `own_only` (the panel's route, for operators): one's own call when the installation allows it, and anything
    else — someone else's, a call that does not exist, the setting off — is the same 404, so ids cannot be probed."""
    row = database().execute_sql(_FIND_SQL, (attempt_id,)).fetchone() if is_id(attempt_id) else None
    call_operator = row[5] if row else None
    if own_only and not (operators_own and who.operator_id is not None and who.operator_id == call_operator):
        raise _not_found(attempt_id)
    if not may_listen(who, call_operator, operators_own):
        raise Forbidden("not-permitted", f"this needs the permission {LISTEN}", permission=LISTEN,
                        message_ru=f"для этого нужно право {LISTEN}")
    if row is None or row[0] != "stored":
        raise _not_found(attempt_id)
    path = (root / row[1]).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise _not_found(attempt_id)
    recent = (not download and start != 0 and database().execute_sql(
        _RECENT_SQL, (str(attempt_id), who.user_id, LISTENED, DOWNLOADED, RESEEK_AUDIT_S)).fetchone() is not None)
    if audit_due(start, download, recent):
        audit.record(database(), "custom", "recording", attempt_id,
                     name=DOWNLOADED if download else LISTENED,
                     new={"attempt_id": attempt_id, "file": row[1], "from_byte": start})
    return Playable(attempt_id, path, row[2], row[3], row[4])


# ---- retention (a job) -----------------------------------------------------------------------------------------
_EXPIRED_SQL = """
SELECT r.attempt_id, r.file, r.started_at, c.recording_retention_days
  FROM call_recording r JOIN campaign c ON c.id = r.campaign_id
 WHERE r.state = 'stored' AND c.recording_retention_days > 0
   AND r.started_at < %s - make_interval(days => c.recording_retention_days)
 ORDER BY r.started_at LIMIT %s"""


def purge_expired(db, root: Path, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete the files past their campaign's retention and mark their rows `deleted` (the row stays: the card
    says a recording existed). A file already gone is marked too; each deletion is in the audit log."""
    now = now or datetime.now(timezone.utc)
    removed = 0
    for attempt_id, file, started_at, days in db.execute_sql(_EXPIRED_SQL, (now, batch)).fetchall():
        if not expired(started_at, days, now):
            continue
        path = root / file
        try:
            path.unlink()
        except FileNotFoundError:
            log.warning("recording of attempt %s was already gone: %s", attempt_id, path)
        with db.atomic():
            db.execute_sql("UPDATE call_recording SET state = 'deleted', deleted_at = %s WHERE attempt_id = %s",
                           (now, attempt_id))
            audit.record(db, "deleted", "recording", attempt_id, name=EXPIRED,
                         old={"file": file, "retention_days": days})
        removed += 1
    if removed:
        log.info("retention: %d recordings deleted", removed)
    return removed
