"""The pure parts of call recording (SPEC J1, J2): Range, who may listen, when to audit, retention, the guard."""
from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ari_app.stasis import own_channel
from dialer import recording_files as files
from dialer.access import Principal
from dialer.services import recordings as rec

SIZE = 1000


@pytest.mark.parametrize("header, expected", [
    (None, None), ("", None),
    ("bytes=0-", (0, 999)), ("bytes=0-99", (0, 99)), ("bytes=500-", (500, 999)),
    ("bytes=990-2000", (990, 999)),        # past the end: up to the last byte
    ("bytes=-100", (900, 999)), ("bytes=-5000", (0, 999)),
    ("bytes=0-1,5-6", None), ("items=0-5", None), ("bytes=-", None),  # forms we do not serve: the whole file
])
def test_byte_range(header, expected):
    assert rec.byte_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=10-5", "bytes=-0"])
def test_byte_range_not_satisfiable(header):
    with pytest.raises(rec.RangeNotSatisfiable):
        rec.byte_range(header, SIZE)


@pytest.mark.parametrize("header, start", [(None, 0), ("bytes=0-", 0), ("bytes=700-", 700), ("bytes=-100", -100)])
def test_range_start(header, start):
    assert rec.range_start(header) == start


def who(perms=(), operator_id=None):
    return Principal(1, "u", ("r",), frozenset(perms), operator_id=operator_id)


LISTENER, OPERATOR = {"recordings.listen"}, {"panel.use"}


@pytest.mark.parametrize("principal, call_operator, operators_own, may", [
    (who(LISTENER), 5, False, True),                  # a listener: anyone's
    (who(LISTENER, operator_id=7), 5, False, True),
    (who(OPERATOR, operator_id=5), 5, False, False),  # own, but the installation does not allow it
    (who(OPERATOR, operator_id=5), 5, True, True),    # own, allowed
    (who(OPERATOR, operator_id=5), 6, True, False),   # someone else's
    (who(OPERATOR, operator_id=5), None, True, False),
    (who(OPERATOR), None, True, False),               # a user with no operator owns no call
    (who(set(), operator_id=5), 5, True, False),      # not a panel user
])
def test_may_listen_own_and_someone_elses(principal, call_operator, operators_own, may):
    assert rec.may_listen(principal, call_operator, operators_own) is may


@pytest.mark.parametrize("start, download, recent, due", [
    (0, False, True, True), (0, False, False, True),    # a play starts: always
    (700, False, True, False), (700, False, False, True),  # a seek: unless this play is in the log already
    (-100, False, True, False),                          # the last bytes (a player looking at the end)
    (700, True, True, True), (0, True, True, True),      # every download
])
def test_audit_due(start, download, recent, due):
    assert rec.audit_due(start, download, recent) is due


NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("age_days, keep_days, gone", [
    (31, 30, True), (29, 30, False), (400, 0, False), (0.5, 1, False), (1.01, 1, True)])
def test_expired(age_days, keep_days, gone):
    assert rec.expired(NOW - timedelta(days=age_days), keep_days, NOW) is gone


@pytest.mark.parametrize("free_mb, threshold, low", [(100, 500, True), (499.9, 500, True), (500, 500, False),
                                                     (10_000, 500, False), (0, 0, False)])
def test_low_on_space(free_mb, threshold, low):
    assert rec.low_on_space(int(free_mb * 2**20), threshold) is low


def test_names_and_durations():
    assert rec.relative_name(17, NOW) == "2026/06/01/at17.opus"
    assert rec.asterisk_name(17) == "dialer-at17"
    assert rec.ogg_opus_duration(b"not ogg") == 0.0


# ---- WAV during the call, Ogg/Opus after it (dialer/recording_files.py) --------------------------------------
def wav(seconds: float, rate: int = 8000, header_size: int | None = None) -> bytes:
    import struct
    body = bytes(int(seconds * rate) * 2)
    size = len(body) if header_size is None else header_size
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", size) + body)


@pytest.mark.parametrize("data, seconds", [
    (wav(2.5), 2.5), (wav(0), 0.0), (wav(1, rate=16000), 1.0),
    (wav(3, header_size=0), 3.0),        # a writer killed mid-call: the header never got the size
    (wav(3, header_size=10**9), 3.0),    # a size past the end: what is there
    (b"OggS" + bytes(40), 0.0), (b"", 0.0),
])
def test_wav_duration(data, seconds):
    assert files.wav_duration(data) == pytest.approx(seconds)


def test_encode_command_runs_at_the_lowest_priority_at_16_kbits():
    cmd = files.encode_command("/opt/opus/opusenc --comp 5", Path("/r/pending/at7.wav"), Path("/r/at7.part"))
    assert cmd[:3] == ["nice", "-n", "19"] and cmd[3:5] == ["/opt/opus/opusenc", "--comp"]
    assert cmd[cmd.index("--bitrate") + 1] == "16" and cmd[cmd.index("--comp", 5) + 1] == "2" and cmd[-2:] == ["/r/pending/at7.wav", "/r/at7.part"]


@pytest.mark.parametrize("name, attempt", [("at7.wav", 7), ("at123.wav", 123), ("at7.part", None),
                                           ("x7.wav", None), ("at.wav", None), ("at7.wav.bak", None)])
def test_pending_attempt(name, attempt):
    assert files.pending_attempt(name) == attempt


def test_stray_pending_are_the_wavs_of_recordings_no_longer_waiting(tmp_path):
    for aid in (1, 2, 3):
        files.keep_pending(tmp_path, aid, wav(0.1))
    (tmp_path / "pending" / "notes.txt").write_text("not ours")
    assert sorted(p.name for p in files.stray_pending(tmp_path, {2})) == ["at1.wav", "at3.wav"]
    assert files.stray_pending(tmp_path / "none", set()) == []
    assert files.snoop_id(7) == "rec-at7" and not own_channel(files.snoop_id(7))  # never hung up as an orphan


@pytest.mark.skipif(not shutil.which("opusenc"), reason="opus-tools is installed by scripts/setup.sh")
def test_compress_pending_stores_ogg_opus_and_keeps_the_wav(tmp_path):
    files.keep_pending(tmp_path, 9, wav(3.0))
    stored = files.compress_pending(tmp_path, 9, NOW, "opusenc")
    data = (tmp_path / stored.file).read_bytes()
    assert stored.file == "2026/06/01/at9.opus" and data[:4] == b"OggS" and stored.bytes == len(data)
    assert stored.duration_s == pytest.approx(3.0, abs=0.05) and len(data) < 3 * 4000
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert files.pending_path(tmp_path, 9).is_file()  # removed by the engine only once the row says `stored`


def test_a_failed_compression_keeps_the_wav_and_leaves_no_file(tmp_path):
    files.keep_pending(tmp_path, 9, wav(1.0))
    with pytest.raises(RuntimeError, match="exited with 1"):
        files.compress_pending(tmp_path, 9, NOW, "false")
    assert files.pending_path(tmp_path, 9).is_file() and not list(tmp_path.rglob("*.opus"))
    assert not list(tmp_path.rglob("*.part"))
