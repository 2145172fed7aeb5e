"""Call recording files and the engine's bookkeeping of them (SPEC J1, B6) — the part the engine and the web share.

Stored format: Ogg/Opus (`.opus`, `audio/ogg`) at 16 kbit/s, about 120 KB a call-minute: every current browser
plays it in `<audio>`, and so do VLC, foobar2000 and the players of Windows 10+, macOS 14+ and Android. WAV (8 kHz
16-bit, 128 kbit/s) would take eight times the disk; GSM does not play in a browser; MP3 is not an Asterisk format.

Asterisk does not encode it: during the call it writes 8 kHz 16-bit WAV (the channel's own audio, no encoder), and
after the call the engine compresses it with `opusenc` (opus-tools) at the lowest CPU priority — Opus at 48 kHz
inside Asterisk cost pbx several times its CPU and slowed every call's bridging (docs/recording.md, Figures).
The WAV waits in `pending/` until the compressed file is stored: an engine killed in between finishes at its start.

Files live under `settings.recordings_path` (outside any web root), `YYYY/MM/DD/at<attempt>.opus`.
The engine (ari_app/recording.py) writes them; the web serves them (dialer/services/recordings.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ASTERISK_FORMAT, EXT, MIME = "wav", "opus", "audio/ogg"  # ARI names a format by its file extension
BITRATE_KBPS = 16  # telephone speech (8 kHz on the wire) stays clear; opusenc's default would spend ~40 kbit/s
# opusenc's default 10 took 0.39 s of CPU per 20 s call, 2 takes 0.14 s at the same size (the development machine):
# 46 s of CPU for the 120 calls of bench.recording; speech at 16 kbit/s needs no more
COMPLEXITY = 2
OPUS_RATE = 48_000  # Ogg/Opus granule positions always count 48 kHz samples (RFC 7845)
GUARD_KIND, GUARD_KEY = "recording_paused", "recordings"


def relative_name(attempt_id: int, at: datetime) -> str:
    """Named by attempt, one directory per day: a retention sweep or an administrator finds a day's files at once."""
    return f"{at:%Y/%m/%d}/at{attempt_id}.{EXT}"


def asterisk_name(attempt_id: int) -> str:
    """The live recording's name on Asterisk (its own spool), before the engine moves it here."""
    return f"dialer-at{attempt_id}"


def snoop_id(attempt_id: int) -> str:
    """The channel that listens to the client both ways: not `at…`/`op…` (those are calls, stasis.own_channel)."""
    return f"rec-at{attempt_id}"


LEG_SNOOP_PREFIX = "rec-op"
_LEG_SNOOP = re.compile(r"rec-(op\d+-.+)-s\d+")


def leg_snoop_id(leg: str, seq: int) -> str:
    """The snoop channel kept on an operator's leg (`op…`) for their recorded calls: named by the leg it listens
    to (a restarted engine finds its operator's again), numbered so that no id is used twice."""
    return f"rec-{leg}-s{seq}"


def snooped_leg(channel_id: str) -> str | None:
    """The leg a leg snoop listens to (None: not a leg snoop)."""
    m = _LEG_SNOOP.fullmatch(channel_id or "")
    return m.group(1) if m else None


def pending_path(root: Path, attempt_id: int) -> Path:
    """The call's WAV, fetched from Asterisk, until its compressed file is stored."""
    return root / "pending" / f"at{attempt_id}.wav"


def pending_attempt(name: str) -> int | None:
    """The attempt a file in `pending/` belongs to (None: not one of ours)."""
    m = re.fullmatch(r"at(\d+)\.wav", name)
    return int(m.group(1)) if m else None


def encode_command(encoder: str, wav: Path, out: Path) -> list[str]:
    """The compression after the call: the lowest CPU priority (calls and pages first), mono speech at 16 kbit/s."""
    return ["nice", "-n", "19", *shlex.split(encoder), "--quiet", "--speech", "--bitrate", str(BITRATE_KBPS),
            "--comp", str(COMPLEXITY), str(wav), str(out)]


def wav_duration(data: bytes) -> float:
    """Seconds of audio in a PCM WAV: the `data` chunk's bytes over the byte rate of `fmt ` (0.0: not a WAV)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0.0
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if kind == b"fmt " and pos + 16 <= len(data):
            byte_rate = struct.unpack_from("<I", data, pos + 16)[0]
        elif kind == b"data":
            size = min(size, len(data) - pos - 8)  # a writer killed mid-call leaves the header's size short or 0
            if not size and len(data) > pos + 8:
                size = len(data) - pos - 8
            return size / byte_rate if byte_rate else 0.0
        pos += 8 + size + (size & 1)
    return 0.0


def ogg_opus_duration(data: bytes) -> float:
    """Seconds of audio in an Ogg/Opus file: the last page's granule position less the pre-skip (RFC 7845 §4)."""
    head = data.find(b"OpusHead")
    last = data.rfind(b"OggS")
    if head < 0 or last < 0 or len(data) < last + 14 or len(data) < head + 12:
        return 0.0
    pre_skip = struct.unpack_from("<H", data, head + 10)[0]
    granule = struct.unpack_from("<q", data, last + 6)[0]
    return max(0.0, (granule - pre_skip) / OPUS_RATE) if granule >= 0 else 0.0


def low_on_space(free_bytes: int, min_free_mb: int) -> bool:
    return free_bytes < min_free_mb * 1024 * 1024



# ---- files ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredFile:
    file: str
    bytes: int
    duration_s: float
    sha256: str


def store_file(root: Path, attempt_id: int, at: datetime, data: bytes) -> StoredFile:
    """Write the recording under `root` atomically (a reader never sees half a file); readable by the owner only."""
    name = relative_name(attempt_id, at)
    write_atomically(root / name, data)
    return StoredFile(name, len(data), round(ogg_opus_duration(data), 2), hashlib.sha256(data).hexdigest())


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def keep_pending(root: Path, attempt_id: int, data: bytes) -> Path:
    """The fetched WAV, on disk (synced) before Asterisk's copy is deleted: from here on it cannot be lost."""
    path = pending_path(root, attempt_id)
    write_atomically(path, data)
    return path


def compress_pending(root: Path, attempt_id: int, at: datetime, encoder: str, timeout_s: float = 600) -> StoredFile:
    """Compress the pending WAV into the stored Ogg/Opus file (written whole or not at all). The WAV stays: the
    caller removes it once the database says `stored` — killed anywhere before, this simply runs again."""
    wav = pending_path(root, attempt_id)
    name = relative_name(attempt_id, at)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = path.with_suffix(".part")
    done = subprocess.run(encode_command(encoder, wav, tmp), capture_output=True, timeout=timeout_s)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{encoder} exited with {done.returncode}: {done.stderr[-300:].decode(errors='replace')}")
    data = tmp.read_bytes()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)
    return StoredFile(name, len(data), round(ogg_opus_duration(data), 2), hashlib.sha256(data).hexdigest())


def stray_pending(root: Path, unfinished_ids: set[int]) -> list[Path]:
    """WAVs in `pending/` whose recording is no longer waiting (stored, failed or deleted: an engine killed between
    writing `stored` and removing its WAV)."""
    folder = root / "pending"
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir()
            if (aid := pending_attempt(p.name)) is not None and aid not in unfinished_ids]


def free_bytes(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


# ---- the engine's bookkeeping (run in its database threads) ------------------------------------------------
def recording_started(db, attempt_id: int, campaign_id: int) -> None:
    db.execute_sql("INSERT INTO call_recording (attempt_id, campaign_id) VALUES (%s, %s) "
                   "ON CONFLICT (attempt_id) DO NOTHING", (attempt_id, campaign_id))


def is_recording(db, attempt_id: int) -> bool:
    return db.execute_sql("SELECT 1 FROM call_recording WHERE attempt_id = %s AND state = 'recording'",
                          (attempt_id,)).fetchone() is not None


def recording_stored(db, attempt_id: int, f: StoredFile) -> None:
    db.execute_sql("UPDATE call_recording SET state = 'stored', file = %s, bytes = %s, duration_s = %s, sha256 = %s,"
                   " stored_at = clock_timestamp(), error = NULL WHERE attempt_id = %s",
                   (f.file, f.bytes, f.duration_s, f.sha256, attempt_id))


def recording_waits(db, attempt_id: int, error: str) -> None:
    """The compression failed (the encoder missing, the disk full): the WAV is kept, the next start tries again."""
    db.execute_sql("UPDATE call_recording SET error = %s WHERE attempt_id = %s AND state = 'recording'",
                   (error[:500], attempt_id))


def recording_failed(db, attempt_id: int, error: str) -> None:
    db.execute_sql("UPDATE call_recording SET state = 'failed', error = %s WHERE attempt_id = %s AND state = 'recording'",
                   (error[:500], attempt_id))


def unfinished(db) -> list[int]:
    """Recordings of attempts that ended while the engine was away: the file waits on Asterisk to be fetched,
    or in `pending/` to be compressed."""
    return [r[0] for r in db.execute_sql(
        "SELECT r.attempt_id FROM call_recording r JOIN attempt a ON a.id = r.attempt_id"
        " WHERE r.state = 'recording' AND a.ended_at IS NOT NULL ORDER BY 1").fetchall()]


# The free-space guard's alert, in the `alert` table the supervisor's screen follows (sql/011_health_alerts.sql):
# written here, by the engine that pauses recording (the engine may not import dialer.services, where the jobs'
# alerts are raised), with the same once-per-cause rule as dialer/services/alerts.py.
_RAISE_SQL = """
INSERT INTO alert (kind, object_key, text_ru, text_en) VALUES (%s, %s, %s, %s)
ON CONFLICT (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL DO NOTHING"""
_CLEAR_SQL = ("UPDATE alert SET cleared_at = clock_timestamp()"
              " WHERE kind = %s AND object_key = %s AND cleared_at IS NULL")


def guard(db, low: bool, free_mb: int, min_mb: int) -> bool:
    """The free-space guard's alert: raised once while space is short, cleared when it is back. True: it changed."""
    if not low:
        return db.execute_sql(_CLEAR_SQL, (GUARD_KIND, GUARD_KEY)).rowcount > 0
    return db.execute_sql(_RAISE_SQL, (
        GUARD_KIND, GUARD_KEY,
        f"Запись разговоров приостановлена: свободно {free_mb} МБ, меньше порога {min_mb} МБ. "
        "Звонки идут без записи; освободите место на диске.",
        f"Call recording paused: {free_mb} MB free, below the {min_mb} MB threshold. "
        "Calls go on unrecorded; free some disk space.")).rowcount > 0


# ---- the consent announcement (B6): what the answered client hears before the operator --------------------------
def announcements_dir(root: Path) -> Path:
    return root / "announcements"


_OPERATOR_RECORDS = """EXISTS (SELECT 1 FROM operator_campaign oc JOIN campaign oc_c ON oc_c.id = oc.campaign_id
  WHERE oc.operator_id = {operator} AND oc_c.active AND oc_c.record_calls)"""
_ANSWERED_SQL = f"""
SELECT a.campaign_id, c.record_calls, c.consent_announcement, c.consent_file,
       c.record_calls OR {_OPERATOR_RECORDS.format(operator="a.operator_id")}
  FROM attempt a JOIN campaign c ON c.id = a.campaign_id WHERE a.id = %s"""


@dataclass(frozen=True)
class AnsweredPlan:
    """What an answered call needs from its campaign, read once when the client answers."""
    campaign_id: int | None
    record: bool = False
    consent_media: str | None = None  # the ARI media URI to play before the operator joins; None: no message
    # this call's operator has a recording campaign (this one or another active one of theirs): their leg keeps its
    # snoop, so an operator between a recording and a non-recording campaign does not make and drop one per call
    operator_records: bool | None = None  # None: as `record`

    @property
    def leg_snoop(self) -> bool:
        return self.record if self.operator_records is None else self.operator_records


def answered_plan(db, attempt_id: int, asterisk_dir: str, default_sound: str) -> AnsweredPlan:
    row = db.execute_sql(_ANSWERED_SQL, (attempt_id,)).fetchone()
    if row is None:
        return AnsweredPlan(None)
    campaign_id, record, consent, consent_file, operator_records = row
    media = None
    if consent:
        media = f"sound:{asterisk_dir.rstrip('/')}/{consent_file}" if consent_file else f"sound:{default_sound}"
    return AnsweredPlan(campaign_id, bool(record), media, bool(operator_records))


def operator_records(db, operator_id: int) -> bool:
    """Whether any active campaign of the operator's records: their leg gets its snoop as it comes up."""
    return bool(db.execute_sql(f"SELECT {_OPERATOR_RECORDS.format(operator='%s')}", (operator_id,)).fetchone()[0])


def consent_played(db, attempt_id: int, media: str) -> None:
    db.execute_sql("INSERT INTO attempt_event (attempt_id, kind, data) VALUES (%s, 'consent', %s)",
                   (attempt_id, json.dumps({"media": media})))
