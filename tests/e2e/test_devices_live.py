"""SPEC A4 on the real pbx + sim: a SIP device saved through the service registers within about a second, a new
password refuses the old credentials at once, a deleted device cannot register — and pbx is never reloaded.
Registrations are Asterisk's own rows in PostgreSQL (ps_contacts), read here as the pages read them."""
from __future__ import annotations

import re
import time

import pytest

from dialer.dev import instances
from dialer.models import Operator
from dialer.services import devices, operators
from dialer.dev.testing import until

pytestmark = pytest.mark.e2e
SIM_USER_AGENT = "DialerSim"


def contact_rows(db, login):
    return db.execute_sql("SELECT via_addr, user_agent, reg_server FROM ps_contacts WHERE device_login = %s",
                          (login,)).fetchall()


def sim_registration(settings, login) -> str:
    """The sim phone's own view of its registration to pbx: Registered, Rejected, Unregistered..."""
    out = instances.rx(settings, "sim", "pjsip show registrations")
    m = re.search(rf"^\s*phone-{re.escape(login)}/\S+\s+\S+\s+(\w+)", out, re.M)
    return m.group(1) if m else ""


def reloads(settings) -> tuple[int, int]:
    out = instances.rx(settings, "pbx", "core show uptime seconds")
    return int(re.search(r"System uptime: (\d+)", out).group(1)), int(re.search(r"Last reload: (\d+)", out).group(1))


@pytest.fixture
def live(asterisk, db):
    """A clean database and a sim with no phones (so the only registrations are this test's)."""
    instances.sync_sim_phones(asterisk, [])
    db.execute_sql("DELETE FROM ps_contacts")
    yield asterisk
    instances.sync_sim_phones(asterisk, [])


def test_a_saved_device_registers_at_once_a_new_password_locks_out_the_old_and_deletion_is_final(live, db):
    settings = live
    uptime, last_reload = reloads(settings)
    assert abs(uptime - last_reload) <= 1  # pbx has not been reloaded since it started ...

    device = devices.create_device("e2e-desk1", seat="Место 1")
    started = time.monotonic()
    instances.sync_sim_phones(settings, [("e2e-desk1", device["password"])])
    until(lambda: contact_rows(db, "e2e-desk1"), 2, 0.02, "the new device's registration")
    took = time.monotonic() - started
    assert took < 1.5, took  # the sim's reload, and the second it waits after it before a new phone registers
    [(ip, agent, server)] = contact_rows(db, "e2e-desk1")
    assert (ip, agent, server) == (settings.sim_phones_address, SIM_USER_AGENT, "pbx")
    reg = devices.get_device(device["id"])["registration"]
    assert reg["online"] and reg["ip"] == settings.sim_phones_address and reg["user_agent"] == SIM_USER_AGENT
    assert "e2e-desk1" in instances.registered(settings)  # Asterisk reads the same row
    event = db.execute_sql("SELECT data FROM live_event WHERE kind = 'sip.registration' ORDER BY id DESC LIMIT 1"
                           ).fetchone()[0]
    assert event["login"] == "e2e-desk1" and event["registration"]["online"]

    # a new password: the old registration is dropped at once and the old credentials are refused
    new = devices.set_password(device["id"])["password"]
    assert not contact_rows(db, "e2e-desk1") and "e2e-desk1" not in instances.registered(settings)
    instances.rx(settings, "sim", "pjsip send register phone-e2e-desk1")
    until(lambda: sim_registration(settings, "e2e-desk1") == "Rejected", 3, 0.05, "the old password refused")
    assert not contact_rows(db, "e2e-desk1")
    # the softphone set up with the new one registers (when is the sim's business: its retry timer runs)
    instances.sync_sim_phones(settings, [("e2e-desk1", new)])
    until(lambda: contact_rows(db, "e2e-desk1"), 4, 0.02, "registration with the new password")

    # deleted: gone at once, and it cannot register again
    devices.delete_device(device["id"])
    assert not contact_rows(db, "e2e-desk1") and "e2e-desk1" not in instances.registered(settings)
    instances.rx(settings, "sim", "pjsip send register phone-e2e-desk1")
    until(lambda: sim_registration(settings, "e2e-desk1") == "Rejected", 3, 0.05, "the deleted device refused")
    assert not contact_rows(db, "e2e-desk1")

    uptime, last_reload = reloads(settings)
    assert abs(uptime - last_reload) <= 1  # ... nor during any of this


def test_a_phone_already_knocking_is_let_in_the_moment_its_device_is_saved(live, db):
    """pbx's side: the softphone is set up first and refused (no such device), then the device is saved and the very
    next REGISTER succeeds — no cache, no reload. Asterisk's outbound registration (the sim's phone) always waits
    one second before a REGISTER it is asked for (res_pjsip_outbound_registration: schedule_registration(..., 1)),
    so 1.0 s of the bound is the sim's own."""
    settings = live
    instances.sync_sim_phones(settings, [("e2e-desk2", "Typed-Secret-22")])
    until(lambda: sim_registration(settings, "e2e-desk2") == "Rejected", 5, 0.05, "refused: no such device yet")
    device = devices.create_device("e2e-desk2", "Typed-Secret-22", seat="Место 2")
    started = time.monotonic()
    instances.rx(settings, "sim", "pjsip send register phone-e2e-desk2")
    until(lambda: contact_rows(db, "e2e-desk2"), 2, 0.01, "registration")
    assert time.monotonic() - started < 1.5
    assert devices.get_device(device["id"])["registration"]["online"]


def test_an_operator_going_offline_while_ready_raises_the_alert_and_coming_back_clears_it(live, db):
    settings = live
    op = operators.create_operator("Оператор E2E", "e2e-op1", "e2e-Secret-1")
    instances.sync_sim_phones(settings, [("e2e-op1", "e2e-Secret-1")])
    until(lambda: contact_rows(db, "e2e-op1"), 2, 0.02, "registration")
    Operator.update(status="ready").where(Operator.id == op["id"]).execute()  # as the engine would write it
    instances.sync_sim_phones(settings, [])  # the softphone unregisters (closed)
    until(lambda: not contact_rows(db, "e2e-op1"), 3, 0.02, "unregistration")
    [(kind, text_en, cleared)] = db.execute_sql("SELECT kind, text_en, cleared_at FROM alert").fetchall()
    assert kind == "sip_offline" and "e2e-op1" in text_en and cleared is None
    instances.sync_sim_phones(settings, [("e2e-op1", "e2e-Secret-1")])
    until(lambda: db.execute_sql("SELECT cleared_at FROM alert").fetchone()[0], 3, 0.05, "the alert cleared")


def registered_logins(db, prefix: str) -> set[str] | None:
    """Devices with a registration row, on a pooled connection given back at once; None while the database is down."""
    from dialer.db import unavailable

    try:
        with db.connection_context():
            return {r[0] for r in db.execute_sql("SELECT device_login FROM ps_contacts WHERE device_login LIKE %s",
                                                 (prefix + "%",)).fetchall()}
    except Exception as e:
        if unavailable(e):
            return None
        raise


def test_phones_registering_while_the_database_restarts_all_get_in_and_what_was_registered_stays(live, db):
    """PostgreSQL restarted (`pg_ctl restart -m fast`, sessions cut) just as ten softphones start registering, with
    ten others registered before: pbx's realtime connection comes back by itself, the REGISTERs refused meanwhile
    are retried by the phones, and every device ends up registered — in PostgreSQL and in pbx's own view. The
    registrations made before are still there, and a device saved after the restart is let in as usual."""
    from dialer import pg as cluster

    settings = live
    made = [devices.create_device(f"e2e-rs{i:02d}", seat=f"Стол {i}") for i in range(20)]
    phones = [(d["login"], d["password"]) for d in made]
    instances.sync_sim_phones(settings, phones[:10])
    until(lambda: len(registered_logins(db, "e2e-rs") or ()) == 10, 10, 0.05, "the first ten registered")

    instances.sync_sim_phones(settings, phones)  # ten more phones: their REGISTERs leave in about a second ...
    cluster.restart(settings)                     # ... into a database going down and coming back
    logins = {login for login, _ in phones}
    until(lambda: registered_logins(db, "e2e-rs") == logins, 30, 0.2, "every phone registered after the restart")
    until(lambda: logins <= instances.registered(settings), 10, 0.2, "pbx reading every registration")

    with db.connection_context():
        late = devices.create_device("e2e-rs-late", seat="Стол 99")
    instances.sync_sim_phones(settings, phones + [(late["login"], late["password"])])
    until(lambda: "e2e-rs-late" in (registered_logins(db, "e2e-rs") or ()), 5, 0.05, "a device saved afterwards")
