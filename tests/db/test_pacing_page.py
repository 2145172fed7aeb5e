"""The «Режим набора» tab through HTTP with real sessions: shown, saved and audited, bad input named with nothing
changed, the autostop confirmed from the page; refused (403, nothing changed) without campaigns.update."""
from __future__ import annotations

from dialer.services import campaigns, pacing

FORM = {"mode": "predictive", "max_ratio": "2,5", "abandon_cap_percent": "1", "window_answered": "300",
        "window_day": "on", "grace_s": "2", "wait_timeout_s": "25", "min_sample_calls": "60",
        "autostop_errors": "4", "autostop_window_s": "20"}


def test_shown_saved_refused(db, signed_in):
    cid = campaigns.create_campaign("Predictive page")["id"]
    admin = signed_in("admin")
    r = admin.get(f"/campaigns/{cid}/dialling")
    assert r.status_code == 200 and 'name="max_ratio"' in r.text and 'data-tab="dialling"' in r.text
    r = admin.post(f"/campaigns/{cid}/dialling", data=FORM, follow_redirects=False)
    assert r.status_code == 303
    s = pacing.get_pacing(cid)
    assert (s["mode"], s["max_ratio"], s["abandon_cap_percent"], s["autostop_errors"]) == ("predictive", 2.5, 1.0, 4)
    r = admin.post(f"/campaigns/{cid}/dialling", data={**FORM, "max_ratio": "9", "mode": "progressive"})
    assert r.status_code == 422 and 'data-testid="form-error"' in r.text and 'name="max_ratio"' in r.text
    assert pacing.get_pacing(cid) == s  # nothing changed, not even the valid field beside it
    tester = signed_in("tester")
    assert tester.get(f"/campaigns/{cid}/dialling").status_code == 200
    assert tester.post(f"/campaigns/{cid}/dialling", data={**FORM, "mode": "progressive"},
                       follow_redirects=False).status_code == 403
    assert pacing.get_pacing(cid) == s


def test_autostop_confirmed_from_the_page(db, signed_in):
    import time
    cid = campaigns.create_campaign("Stopped")["id"]
    pacing.stop_automatically(db, cid, [pacing.Ended(i, time.time() + i, "ERROR", "503") for i in range(1, 6)])
    admin = signed_in("admin")
    r = admin.get(f"/campaigns/{cid}/dialling")
    assert 'data-testid="confirm-autostop"' in r.text
    r = admin.post(f"/campaigns/{cid}/dialling/confirm-autostop", data={}, follow_redirects=False)
    assert r.status_code == 303
    assert pacing.get_pacing(cid)["autostop"] is None and campaigns.get_campaign(cid)["active"] is True
