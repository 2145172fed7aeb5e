"""Call recordings through HTTP (SPEC J1, J2): who may play and download whose recording × the roles, own and
someone else's, with the installation's "operators their own" setting off and on; Range answers (seek); every
play and download in the audit log; the retention job removes exactly the expired files; the free-space alert."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from litestar.testing import TestClient

from dialer.models import Campaign, Lead, Operator
from dialer.permissions import ROLES
from dialer.services import recordings as rec
from dialer.services import users
from web import auth
from web.app import create_app

PASSWORD = "recording-password-1"
GRANTED = {code: perms for code, _, _, perms in ROLES}
AUDIO = b"OggS" + bytes(range(256)) * 40  # 10,244 bytes: the route serves bytes, it does not decode them


def ogg_page(granule: int, payload: bytes) -> bytes:
    return b"OggS" + bytes([0, 0]) + granule.to_bytes(8, "little", signed=True) + bytes(12) + payload


def recorded_call(db, root, campaign: Campaign, operator: Operator, days_ago: float = 0.0) -> int:
    lead = Lead.create(campaign=campaign.id, external_id=f"R-{operator.id}-{days_ago}", phone="+79000000001")
    aid = db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, ended_at, outcome)"
                         " VALUES (%s, %s, %s, '+79000000001', now(), 'ANSWERED') RETURNING id",
                         (lead.id, campaign.id, operator.id)).fetchone()[0]
    started = datetime.now(timezone.utc) - timedelta(days=days_ago)
    stored = rec.store_file(root, aid, started, AUDIO)
    db.execute_sql("INSERT INTO call_recording (attempt_id, campaign_id, started_at) VALUES (%s, %s, %s)",
                   (aid, campaign.id, started))
    rec.recording_stored(db, aid, stored)
    return aid


@pytest.fixture
def world(db, settings, tmp_path):
    settings = dataclasses.replace(settings, recordings_dir=str(tmp_path / "recordings"))
    users.seed_roles()
    role_ids = {r["code"]: r["id"] for r in users.list_roles()}
    c = Campaign.create(name="Записи")
    anna = Operator.create(name="Анна", login="anna", sip_password="secret-123")
    boris = Operator.create(name="Борис", login="boris", sip_password="secret-123")
    calls = {"own": recorded_call(db, settings.recordings_path, c, anna),
             "else": recorded_call(db, settings.recordings_path, c, boris)}
    sessions = {}

    def session(code):
        if code not in sessions:  # every user is linked to Anna: her calls are their own
            users.create_user(f"{code}@example.org", code, PASSWORD, [role_ids[code]],
                              operator_id=anna.id if code == "operator" else None)
            sessions[code] = users.sign_in(f"{code}@example.org", PASSWORD)
        return sessions[code]
    return {"settings": settings, "calls": calls, "session": session, "campaign": c, "anna": anna}


def app_with(settings, db, operators_own: bool):
    return TestClient(create_app(dataclasses.replace(settings, recordings_operators_own=operators_own), db))


def as_(session, **more):
    return {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", **more}


def audited(db, attempt_id) -> list[str]:
    return [r[0] for r in db.execute_sql("SELECT name FROM audit_log WHERE object_type = 'recording' AND object_id = %s"
                                         " ORDER BY id", (str(attempt_id),)).fetchall()]


@pytest.mark.parametrize("operators_own", [False, True])
@pytest.mark.parametrize("role", list(GRANTED))
def test_play_and_download_own_and_someone_elses_by_role(db, world, role, operators_own):
    """/recordings/… for `recordings.listen` (anyone's; the guard's 403 otherwise); /panel/recordings/… for operators:
    their own call if the installation allows it, else 404 like a call that does not exist."""
    h = as_(world["session"](role))
    listener = "recordings.listen" in GRANTED[role]
    panel_user = "panel.use" in GRANTED[role]
    with app_with(world["settings"], db, operators_own) as app:
        for whose, aid in world["calls"].items():
            own_ok = operators_own and role == "operator" and whose == "own"
            for base, expected in (("/recordings", 200 if listener else 403),
                                   ("/panel/recordings", 200 if own_ok else 404 if panel_user else 403)):
                for query, entry in (("", rec.LISTENED), ("?download=1", rec.DOWNLOADED)):
                    before = audited(db, aid)
                    r = app.get(f"{base}/{aid}{query}", headers=h)
                    assert r.status_code == expected, (role, whose, base, query, r.status_code)
                    if expected == 200:
                        assert r.content == AUDIO and r.headers["content-type"].startswith("audio/ogg")
                        assert r.headers["accept-ranges"] == "bytes"
                        assert ("attachment" in r.headers["content-disposition"]) == bool(query)
                        assert audited(db, aid) == before + [entry]
                    else:
                        assert audited(db, aid) == before
            card = app.get(f"/supervisor/calls/{aid}", headers=as_(world["session"](role), Accept="text/html"))
            if card.status_code == 200:  # the player is on the card exactly for those who may listen
                assert ('data-testid="recording-player"' in card.text) == (listener or own_ok)


def test_guessed_ids_answer_like_someone_elses_and_unknown_ids_are_404_for_listeners(db, world):
    with app_with(world["settings"], db, True) as app:
        op = as_(world["session"]("operator"))
        for aid in (999_999, world["calls"]["else"] + 1000):
            assert app.get(f"/recordings/{aid}", headers=op).status_code == 403
            assert app.get(f"/panel/recordings/{aid}", headers=op).status_code == 404  # like someone else's
            assert app.get(f"/recordings/{aid}", headers=as_(world["session"]("supervisor"))).status_code == 404
        assert app.get(f"/panel/recordings/{world['calls']['else']}", headers=op).status_code == 404
        assert app.get(f"/panel/recordings/{world['calls']['own']}", headers=op).status_code == 200
        app.cookies.clear()  # not signed in: sent to the sign-in page, never the file
        r = app.get(f"/recordings/{world['calls']['own']}", follow_redirects=False)
        assert r.status_code in (401, 302, 303) and r.content != AUDIO


def test_range_requests_seek_and_are_audited_once_per_play(db, world):
    aid = world["calls"]["own"]
    h = as_(world["session"]("supervisor"))
    with app_with(world["settings"], db, False) as app:
        r = app.get(f"/recordings/{aid}", headers={**h, "Range": "bytes=0-"})
        assert r.status_code == 206 and r.content == AUDIO
        assert r.headers["content-range"] == f"bytes 0-{len(AUDIO) - 1}/{len(AUDIO)}"
        r = app.get(f"/recordings/{aid}", headers={**h, "Range": "bytes=5000-5099"})
        assert r.status_code == 206 and r.content == AUDIO[5000:5100]
        assert r.headers["content-range"] == f"bytes 5000-5099/{len(AUDIO)}"
        r = app.get(f"/recordings/{aid}", headers={**h, "Range": "bytes=-100"})
        assert r.status_code == 206 and r.content == AUDIO[-100:]
        r = app.get(f"/recordings/{aid}", headers={**h, "Range": f"bytes={len(AUDIO)}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(AUDIO)}"
    # the play from byte 0 once, the seeks within the same play are not entries of their own
    assert audited(db, aid) == [rec.LISTENED]


def test_retention_removes_exactly_the_expired_files(db, world):
    root = world["settings"].recordings_path
    c, anna = world["campaign"], world["anna"]
    keep_forever = Campaign.create(name="Навсегда")
    old = recorded_call(db, root, c, anna, days_ago=31)
    young = recorded_call(db, root, c, anna, days_ago=29)
    ancient_kept = recorded_call(db, root, keep_forever, anna, days_ago=400)
    db.execute_sql("UPDATE campaign SET recording_retention_days = 30 WHERE id = %s", (c.id,))
    files = {aid: root / db.execute_sql("SELECT file FROM call_recording WHERE attempt_id = %s", (aid,)).fetchone()[0]
             for aid in (old, young, ancient_kept)}
    assert rec.purge_expired(db, root) == 1
    assert not files[old].exists() and files[young].exists() and files[ancient_kept].exists()
    states = dict(db.execute_sql("SELECT attempt_id, state FROM call_recording").fetchall())
    assert states[old] == "deleted" and states[young] == states[ancient_kept] == "stored"
    assert audited(db, old) == [rec.EXPIRED]
    assert rec.purge_expired(db, root) == 0  # nothing twice


def test_stored_file_checksum_duration_and_name(tmp_path):
    head = ogg_page(0, b"OpusHead" + bytes([1, 1]) + (312).to_bytes(2, "little") + bytes(8))
    data = head + ogg_page(312 + 48_000 * 7, b"audio")  # 7 s after the pre-skip
    stored = rec.store_file(tmp_path, 42, datetime(2026, 3, 1, tzinfo=timezone.utc), data)
    assert stored == rec.StoredFile("2026/03/01/at42.opus", len(data), 7.0, hashlib.sha256(data).hexdigest())
    assert (tmp_path / stored.file).read_bytes() == data
    assert (tmp_path / stored.file).stat().st_mode & 0o077 == 0o040  # no one else reads a call


def test_free_space_guard_raises_one_alert_and_clears_it(db):
    def open_alerts():
        return db.execute_sql("SELECT count(*) FROM alert WHERE kind = %s AND cleared_at IS NULL",
                              (rec.GUARD_KIND,)).fetchone()[0]
    rec.guard(db, True, 12, 500)
    rec.guard(db, True, 11, 500)
    assert open_alerts() == 1
    rec.guard(db, False, 900, 500)
    assert open_alerts() == 0


def wav(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    import struct as st
    data = bytes(int(seconds * rate) * 2 * channels)
    return (b"RIFF" + st.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + st.pack("<IHHIIHH", 16, 1, channels, rate,
            rate * 2 * channels, 2 * channels, 16) + b"data" + st.pack("<I", len(data)) + data)


def campaign_row(db, cid):
    return db.execute_sql("SELECT record_calls, recording_retention_days, consent_announcement, consent_file"
                          " FROM campaign WHERE id = %s", (cid,)).fetchone()


def test_campaign_recording_tab_saves_audits_and_refuses_bad_input(db, world, unchanged):
    cid = world["campaign"].id
    sup = world["session"]("supervisor")
    h = as_(sup, **{"X-CSRF-Token": sup["csrf"]})
    with app_with(world["settings"], db, False) as app:
        page = app.get(f"/campaigns/{cid}/recording", headers={**h, "Accept": "text/html"})
        assert page.status_code == 200 and 'data-testid="record-calls"' in page.text
        r = app.post(f"/campaigns/{cid}/recording", headers=h, follow_redirects=False,
                     data={"record_calls": "on", "recording_retention_days": "90", "consent_announcement": "on"})
        assert r.status_code == 303
        assert campaign_row(db, cid) == (True, 90, True, None)
        assert db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'campaign' AND object_id = %s",
                              (str(cid),)).fetchone()[0] == 1
        for bad in ("-1", "abc", "99999"):
            with unchanged():
                r = app.post(f"/campaigns/{cid}/recording", headers={**h, "Accept": "text/html"},
                             data={"record_calls": "", "recording_retention_days": bad})
                assert r.status_code == 422 and "0 до 3650" in r.text  # Russian first
        assert campaign_row(db, cid) == (True, 90, True, None)
        for bad_file in (wav(1, rate=16000), wav(1, channels=2), wav(40), b"ID3 not a wav"):
            with unchanged():
                r = app.post(f"/campaigns/{cid}/recording/announcement", headers={**h, "Accept": "text/html"},
                             files={"file": ("consent.wav", bad_file, "audio/wav")})
                assert r.status_code == 422 and 'data-testid="form-error"' in r.text
        r = app.post(f"/campaigns/{cid}/recording/announcement", headers=h, follow_redirects=False,
                     files={"file": ("consent.wav", wav(2), "audio/wav")})
        assert r.status_code == 303
        name = campaign_row(db, cid)[3]
        stored = world["settings"].recordings_path / "announcements" / f"{name}.wav"
        assert stored.read_bytes() == wav(2)
        op = world["session"]("operator")
        with unchanged():
            r = app.post(f"/campaigns/{cid}/recording", headers=as_(op, **{"X-CSRF-Token": op["csrf"]}),
                         data={"recording_retention_days": "1"})
            assert r.status_code == 403
