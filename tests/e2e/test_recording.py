"""Call recording end to end (SPEC J1, B6): real pbx + sim, the engine in its own process.

The sim's client plays a known prompt (hello-world) then stays silent; the sim's softphone, the operator, plays a
steady 600 Hz tone: a recording of both parties has the tone all through and the prompt's extra energy at the start.
"""
from __future__ import annotations

import hashlib
import math
import signal
import struct

import pytest

from dialer.dev.testing import add_leads, command_all, make_operators, until
from dialer.models import Attempt
from dialer.services import campaigns

pytestmark = pytest.mark.e2e
CALLER_ID = "74951234567"


def campaign(**kw) -> int:
    values = dict(name="Записи", max_attempts=1, retry_delay_s=3600, ring_timeout_s=5, wrap_up_limit_s=1,
                  caller_id=CALLER_ID)
    values.update(kw)
    cid = campaigns.create_campaign(**values)["id"]
    db = Attempt._meta.database
    if db.execute_sql("SELECT 1 FROM information_schema.columns WHERE table_name = 'campaign'"
                      " AND column_name = 'calling_window'").fetchone():
        db.execute_sql("""UPDATE campaign SET calling_window = '{"any_hour": true}' WHERE id = %s""", (cid,))
    return cid


def set_recording(cid: int, on: bool) -> None:
    Attempt._meta.database.execute_sql("UPDATE campaign SET record_calls = %s WHERE id = %s", (on, cid))


def recording_row(attempt_id: int):
    return Attempt._meta.database.execute_sql(
        "SELECT state, file, bytes, duration_s, sha256, error FROM call_recording WHERE attempt_id = %s",
        (attempt_id,)).fetchone()


def sim_client_caller_ids(settings) -> list[str]:
    """Caller ID of the sim's PSTN channels now (`core show channels concise`: field 8)."""
    from dialer.dev import instances
    out = instances.rx(settings, "sim", "core show channels concise")
    return [f[7] for f in (line.split("!") for line in out.splitlines()) if len(f) > 7 and f[1] == "pstn"]


def decode(settings, data: bytes) -> list[int]:
    """The recording as 8 kHz samples, decoded by pbx's own Asterisk (`file convert`): no decoder of our own."""
    from dialer.dev import instances
    spool = instances.instance_dirs(settings, "pbx")["spool"]
    host = instances.host_path(settings, spool)
    (host / "check.opus").write_bytes(data)
    (host / "check.wav").unlink(missing_ok=True)
    instances.rx(settings, "pbx", f"file convert {spool}/check.opus {spool}/check.wav")
    wav = (host / "check.wav").read_bytes()
    body = wav[wav.find(b"data") + 8:]
    return list(struct.unpack(f"<{len(body) // 2}h", body[: len(body) // 2 * 2]))


def rms(samples) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def tone_share(samples, freq=600.0, rate=8000) -> float:
    """Share of the signal's power at `freq` (Goertzel): near 1 for a pure tone, near 0 without it."""
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    total = sum(x * x for x in samples) * len(samples) / 2
    return power / total if total else 0.0


def test_an_answered_call_is_recorded_whole_with_both_parties_and_a_campaign_without_recording_has_none(engine):
    cid = campaign()
    set_recording(cid, True)
    # answers, plays hello-world, talks 20 s: a file past the writer's first 32 KB flush (a fetch before the
    # recording has really ended would cut it there)
    add_leads(cid, ["79000201001"])
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    # B6: the campaign's caller ID is what the called party sees, not only what we store
    assert until(lambda: sim_client_caller_ids(engine.settings), 20, message="the client's call at the sim") \
        == [CALLER_ID]
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 45, message="the call")
    [a] = Attempt.select()
    assert a.outcome == "ANSWERED"
    until(lambda: (recording_row(a.id) or ["recording"])[0] != "recording", 20, message="the recording stored")
    state, file, size, duration, sha, error = recording_row(a.id)
    assert state == "stored", error
    path = engine.settings.recordings_path / file
    data = path.read_bytes()
    assert file.endswith(f"at{a.id}.opus") and data[:4] == b"OggS" and size == len(data)
    assert hashlib.sha256(data).hexdigest() == sha
    bridged_s = (a.ended_at - a.bridged_at).total_seconds()
    assert abs(duration - bridged_s) <= 1.0, (duration, bridged_s)
    assert len(data) < duration * 4000  # compact: under 32 kbit/s (WAV would be 128)
    samples = decode(engine.settings, data)
    assert abs(len(samples) / 8000 - duration) <= 0.5
    assert rms(samples) > 300, "the recording is silence"
    assert tone_share(samples[-8000:]) > 0.5, "the operator's side (the softphone's tone) is missing"
    # the prompt (over the tone) in the first two seconds: the loudest quarter-second there, as the recording
    # starts a moment after the bridging while the prompt is already playing
    loudest = max(rms(samples[i:i + 2000]) for i in range(0, 16000, 2000))
    assert loudest > 1.2 * rms(samples[-8000:]), "the client's side (the prompt) is missing"

    # the same campaign with recording switched off: the next answered call leaves no row and no file
    set_recording(cid, False)
    add_leads(cid, ["79000031002"])
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 2, 40, message="the second call")
    second = Attempt.select().order_by(Attempt.id.desc()).first()
    assert second.outcome == "ANSWERED"
    assert recording_row(second.id) is None
    assert not list(engine.settings.recordings_path.rglob(f"at{second.id}.*"))


def test_a_call_ended_before_its_compression_is_stored_by_the_next_start(engine, monkeypatch):
    """The engine is killed after the call with its WAV not yet compressed (here: the encoder fails, so it waits
    for sure): nothing is lost, and the next start compresses and stores it, and removes the WAV."""
    cid = campaign()
    set_recording(cid, True)
    add_leads(cid, ["79000051006"])
    engine.kill(signal.SIGKILL)
    monkeypatch.setenv("DIALER_RECORDING_ENCODER", "false")
    engine.restart()
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 40, message="the call")
    [a] = Attempt.select()
    pending = engine.settings.recordings_path / "pending" / f"at{a.id}.wav"
    until(lambda: (recording_row(a.id) or [None] * 6)[5], 20, message="the compression to fail")
    assert recording_row(a.id)[0] == "recording" and pending.read_bytes()[:4] == b"RIFF"
    engine.kill(signal.SIGKILL)
    monkeypatch.delenv("DIALER_RECORDING_ENCODER")
    engine.restart()
    until(lambda: recording_row(a.id)[0] == "stored", 20, message="the recording stored by the next start")
    state, file, size, duration, sha, _error = recording_row(a.id)
    data = (engine.settings.recordings_path / file).read_bytes()
    assert data[:4] == b"OggS" and size == len(data) and hashlib.sha256(data).hexdigest() == sha
    assert abs(duration - (a.ended_at - a.bridged_at).total_seconds()) <= 1.0
    assert not pending.exists()


def tone_wav(seconds: float, freq: float = 440.0) -> bytes:
    rate = 8000
    samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                       for i in range(int(seconds * rate)))
    return (b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", len(samples))
            + samples)


@pytest.fixture
def recordings_in_sandbox(asterisk, monkeypatch):
    """Recordings (and so the announcements) where the sandbox's chrooted Asterisk sees them too, as an Asterisk on
    the dialer's own host would: the uploaded message is played from the file the campaign page stored."""
    from dialer.dev import instances
    inner = instances.instance_dirs(asterisk, "pbx")["spool"] + "/dialer-recordings"
    host = instances.host_path(asterisk, inner)
    monkeypatch.setenv("DIALER_RECORDINGS_DIR", str(host))
    monkeypatch.setenv("DIALER_ANNOUNCEMENTS_ASTERISK_DIR", inner + "/announcements")
    return host


def test_the_uploaded_consent_message_plays_to_the_client_before_the_operator_joins(recordings_in_sandbox, engine):
    from dialer.services import recording_settings
    cid = campaign()
    recording_settings.update_settings(cid, True, 0, True)
    uploaded = recording_settings.upload_announcement(cid, tone_wav(1.5), recordings_in_sandbox)
    add_leads(cid, ["79000041003"])
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 40, message="the call")
    [a] = Attempt.select()
    assert a.outcome == "ANSWERED" and a.bridged_at is not None
    media = Attempt._meta.database.execute_sql(
        "SELECT data->>'media' FROM attempt_event WHERE attempt_id = %s AND kind = 'consent'", (a.id,)).fetchone()
    assert media and media[0].endswith(f"/announcements/{uploaded['consent_file']}")
    assert (a.bridged_at - a.answered_at).total_seconds() >= 1.3  # the whole message, then the operator


@pytest.fixture
def small_disk(asterisk, monkeypatch, tmp_path):
    """Recordings on a 2 MB tmpfs with 1.5 MB taken: below the 1 MB the guard asks for."""
    import subprocess
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    (mount / "filler").write_bytes(bytes(1536 * 1024))
    monkeypatch.setenv("DIALER_RECORDINGS_DIR", str(mount))
    monkeypatch.setenv("DIALER_RECORDING_MIN_FREE_MB", "1")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def open_guard_alerts() -> int:
    return Attempt._meta.database.execute_sql(
        "SELECT count(*) FROM alert WHERE kind = 'recording_paused' AND cleared_at IS NULL").fetchone()[0]


def test_a_nearly_full_disk_pauses_recording_with_an_alert_and_no_call_fails(small_disk, engine):
    cid = campaign()
    set_recording(cid, True)
    add_leads(cid, ["79000031004"])
    until(lambda: open_guard_alerts() == 1, 15, message="the free-space alert")
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 40, message="the call")
    [a] = Attempt.select()
    assert a.outcome == "ANSWERED" and a.bridged_at is not None and a.error is None
    assert recording_row(a.id) is None and not list(small_disk.rglob("*.opus"))
    # space comes back: the alert clears and the next call is recorded again
    (small_disk / "filler").unlink()
    until(lambda: open_guard_alerts() == 0, 15, message="the alert to clear")
    add_leads(cid, ["79000031005"])
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 2, 40, message="the next call")
    second = Attempt.select().order_by(Attempt.id.desc()).first()
    until(lambda: (recording_row(second.id) or ["recording"])[0] == "stored", 20, message="the next recording")
