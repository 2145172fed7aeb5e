"""A campaign's «Запись» settings (SPEC J1, J2, B6): record calls or not, how many days to keep the files, and the
consent announcement the client hears on answer before the operator joins (an uploaded file or the default).

The announcement is kept as the WAV Asterisk plays without converting (PCM 16-bit, mono, 8 kHz) under
`<recordings>/announcements/`, named by campaign and content (`c3-1a2b3c4d.wav`), so a replaced file never
changes under a call that is playing the old one. Every change is audited; bad input changes nothing.
"""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

from .. import audit
from ..errors import Invalid
from ..recording_files import announcements_dir
from ..validation import database, existing_campaign

MAX_ANNOUNCEMENT_BYTES = 2 * 1024 * 1024
MAX_ANNOUNCEMENT_S = 30
MAX_RETENTION_DAYS = 3650
_FIELDS = "record_calls, recording_retention_days, consent_announcement, consent_file"


def wav_seconds(data: bytes) -> float:
    """Seconds of a WAV Asterisk plays as it is: RIFF/WAVE, PCM 16-bit, mono, 8000 Hz. Anything else is refused
    with what to do about it (a file that Asterisk would have to guess at might play as noise on a live call)."""
    def bad(en: str, ru: str) -> Invalid:
        return Invalid("announcement-format", en, field="file", message_ru=ru)
    if len(data) > MAX_ANNOUNCEMENT_BYTES:
        raise bad(f"the file is larger than {MAX_ANNOUNCEMENT_BYTES // 2**20} MB",
                  f"файл больше {MAX_ANNOUNCEMENT_BYTES // 2**20} МБ")
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise bad("the file is not a WAV file", "файл не в формате WAV")
    pos, fmt, size = 12, None, None
    while pos + 8 <= len(data):
        chunk, length = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", data, pos + 8)
        elif chunk == b"data":
            size = min(length, len(data) - pos - 8)
            break
        pos += 8 + length + (length & 1)
    if fmt is None or size is None:
        raise bad("the WAV file has no audio", "в файле WAV нет звука")
    encoding, channels, rate, _, _, bits = fmt
    if (encoding, channels, rate, bits) != (1, 1, 8000, 16):
        raise bad("save the message as WAV PCM 16-bit, mono, 8 kHz (the telephone's own format)",
                  "сохраните сообщение как WAV PCM 16 бит, моно, 8 кГц (формат телефонной линии)")
    seconds = size / 16000
    if seconds > MAX_ANNOUNCEMENT_S or seconds < 0.2:
        raise bad(f"the message must last 0.2 to {MAX_ANNOUNCEMENT_S} s (it lasts {seconds:.1f} s)",
                  f"сообщение должно длиться от 0,2 до {MAX_ANNOUNCEMENT_S} с (сейчас {seconds:.1f} с)")
    return seconds


def _row(campaign_id: int) -> dict:
    existing_campaign(campaign_id)
    cur = database().execute_sql(f"SELECT {_FIELDS} FROM campaign WHERE id = %s", (campaign_id,))
    return dict(zip([c[0] for c in cur.description], cur.fetchone()))


def get_settings(campaign_id) -> dict:
    return _row(campaign_id)


def _days(value) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 6:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETENTION_DAYS:
        raise Invalid("invalid-retention", f"keep recordings 0 to {MAX_RETENTION_DAYS} days (0: for ever)",
                      field="recording_retention_days",
                      message_ru=f"срок хранения — от 0 до {MAX_RETENTION_DAYS} дней (0 — бессрочно)")
    return value


def update_settings(campaign_id, record_calls: bool, retention_days, consent_announcement: bool) -> dict:
    old = _row(campaign_id)
    new = {**old, "record_calls": bool(record_calls), "recording_retention_days": _days(retention_days),
           "consent_announcement": bool(consent_announcement)}
    db = database()
    with db.atomic():
        db.execute_sql("UPDATE campaign SET record_calls = %s, recording_retention_days = %s,"
                       " consent_announcement = %s WHERE id = %s",
                       (new["record_calls"], new["recording_retention_days"], new["consent_announcement"], campaign_id))
        audit.record(db, "updated", "campaign", campaign_id, name="Запись разговоров кампании изменена", old=old, new=new)
    return new


def upload_announcement(campaign_id, data: bytes, root: Path) -> dict:
    old = _row(campaign_id)
    seconds = wav_seconds(data)
    name = f"c{int(campaign_id)}-{hashlib.sha256(data).hexdigest()[:8]}"
    folder = announcements_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)  # Asterisk (another user) reads it
    os.replace(tmp, folder / f"{name}.wav")
    db = database()
    with db.atomic():
        db.execute_sql("UPDATE campaign SET consent_file = %s WHERE id = %s", (name, campaign_id))
        audit.record(db, "updated", "campaign", campaign_id, name="Сообщение о записи загружено",
                     old={"consent_file": old["consent_file"]},
                     new={"consent_file": name, "seconds": round(seconds, 1)})
    return {**old, "consent_file": name}


def remove_announcement(campaign_id) -> dict:
    """Back to the default message; the file stays for calls that may be playing it (a new upload has a new name)."""
    old = _row(campaign_id)
    db = database()
    with db.atomic():
        db.execute_sql("UPDATE campaign SET consent_file = NULL WHERE id = %s", (campaign_id,))
        audit.record(db, "updated", "campaign", campaign_id, name="Сообщение о записи удалено",
                     old={"consent_file": old["consent_file"]}, new={"consent_file": None})
    return {**old, "consent_file": None}
