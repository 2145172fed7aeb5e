"""SIP devices on a real PostgreSQL: what Asterisk reads (the realtime views), what it writes (ps_contacts, as the
`asterisk` role) and what that sets off (live events, the supervisor's alert), the password policy, bindings, and
bad input on every field changing nothing. The end-to-end proof with a real Asterisk is tests/e2e/test_devices_live.py."""
from __future__ import annotations

import time

import psycopg2
import pytest

from dialer.access import ACTING_SYSTEM
from dialer.errors import Conflict, Invalid, NotFound
from dialer.models import Operator, SipDevice
from dialer.services import devices, operators


def view(db, name, login):
    cur = db.execute_sql(f"SELECT * FROM {name} WHERE id = %s", (login,))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def register(settings, login, ip="127.0.1.23", port=5060, agent="MicroSIP/3.21", expires_in=120, suffix="a1"):
    """A registration as Asterisk writes it: its own role, ';' written as ^3B by res_config_pgsql."""
    conn = psycopg2.connect(host=settings.db_host, port=settings.db_port, dbname=settings.db_name,
                            user="asterisk", password=settings.asterisk_password)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ps_contacts (id, uri, expiration_time, qualify_frequency, via_addr, via_port,"
                    " user_agent, reg_server, endpoint, prune_on_boot) VALUES (%s, %s, %s, 30, %s, %s, %s, 'pbx', %s, 'no')",
                    (f"{login}^3B@{suffix}", f"sip:{login}@{ip}:{port}^3Bline=x", str(int(time.time()) + expires_in),
                     ip, port, agent, login))
    conn.close()


def unregister(settings, login):
    conn = psycopg2.connect(host=settings.db_host, port=settings.db_port, dbname=settings.db_name,
                            user="asterisk", password=settings.asterisk_password)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM ps_contacts WHERE id LIKE %s", (f"{login}^3B@%",))
    conn.close()


def events(db, kind="sip.registration"):
    return [d for (d,) in db.execute_sql("SELECT data FROM live_event WHERE kind = %s ORDER BY id", (kind,)).fetchall()]


def test_a_new_device_is_in_every_view_asterisk_reads_and_its_password_is_shown_once(db):
    d = devices.create_device("desk-12", seat="Место 12", codecs=["alaw", "g722"], transport="tcp",
                              direct_media=True, rewrite_contact=False)
    password = d["password"]
    assert not devices.password_problem(password) and len(password) == 20
    assert "password" not in devices.get_device(d["id"]) and all("password" not in x for x in devices.list_devices())
    [endpoint] = view(db, "ps_endpoints", "desk-12")
    assert (endpoint["transport"], endpoint["allow"], endpoint["direct_media"], endpoint["rewrite_contact"],
            endpoint["rtp_symmetric"], endpoint["force_rport"], endpoint["context"]) == \
        ("transport-tcp", "alaw,g722", "yes", "no", "yes", "yes", "dialer-operators")
    assert endpoint["callerid"] == '"Место 12" <desk-12>'
    assert view(db, "ps_auths", "desk-12")[0]["password"] == password
    assert view(db, "ps_aors", "desk-12")[0]["qualify_frequency"] > 0
    assert devices.get_device(d["id"])["registration"] == {"online": False}
    audit = db.execute_sql("SELECT changes::text FROM audit_log WHERE object_type = 'sip_device'").fetchall()
    assert audit and all(password not in row[0] for row in audit)


def test_an_operator_gets_a_device_under_their_own_login(db):
    o = operators.create_operator("Анна", "anna", "Str0ng-pass-1")
    [dev] = devices.list_devices()
    assert (dev["login"], dev["operator_id"], dev["operator_name"]) == ("anna", o["id"], "Анна")
    assert view(db, "ps_auths", "anna")[0]["password"] == "Str0ng-pass-1"
    assert operators.sip_devices() == [("anna", "Str0ng-pass-1")]


def test_an_operator_inserted_with_a_password_the_foundations_way_gets_a_device(db):
    op = Operator.create(name="Old", login="old1", sip_password="secret-123")
    assert Operator.get_by_id(op.id).sip_password is None  # kept only on the device
    assert SipDevice.get(SipDevice.login == "old1").operator_id == op.id
    assert view(db, "ps_auths", "old1")[0]["password"] == "secret-123"


def test_a_seat_phone_given_to_an_operator_is_dialled_under_the_operators_login(db):
    o = operators.create_operator("Борис", "boris", device=False)
    d = devices.create_device("seat-7", seat="Место 7")
    assert view(db, "ps_endpoints", "boris") == []
    devices.update_device(d["id"], operator_id=o["id"])
    [alias] = view(db, "ps_endpoints", "boris")
    assert (alias["aors"], alias["auth"], alias["callerid"]) == ("seat-7", "seat-7", '"Борис" <boris>')
    assert devices.get_device(d["id"])["seat"] is None  # bound to the operator now, not to the seat
    devices.update_device(d["id"], seat="Место 7")
    assert view(db, "ps_endpoints", "boris") == []


REALTIME = (("ps_endpoints", "sip_endpoints_wanted"), ("ps_auths", "sip_auths_wanted"), ("ps_aors", "sip_aors_wanted"))


def realtime_differs(db) -> list[str]:
    """The tables Asterisk reads that are not exactly what the device views say (sql/019_devices_servers.sql)."""
    return [table for table, wanted in REALTIME if db.execute_sql(
        f"SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT SELECT * FROM {wanted})"
        f" UNION ALL (SELECT * FROM {wanted} EXCEPT SELECT * FROM {table})) d").fetchone()[0]]


def test_what_asterisk_reads_follows_every_change_in_the_same_transaction(db):
    """Asterisk reads tables with a primary key (planning the views took milliseconds per SIP request): every change
    to a device or to what the views read of an operator brings them to exactly the views, before commit."""
    boris = operators.create_operator("Борис", "boris", device=False)
    anna = operators.create_operator("Анна", "anna", "Str0ng-pass-1")
    seat = devices.create_device("seat-7", seat="Место 7", codecs=["alaw"])
    steps = [lambda: devices.update_device(seat["id"], operator_id=boris["id"]),   # an alias endpoint appears
             lambda: Operator.update(name='Борис "Б"').where(Operator.id == boris["id"]).execute(),
             lambda: Operator.update(login="boris2").where(Operator.id == boris["id"]).execute(),
             lambda: devices.update_device(seat["id"], transport="tcp", direct_media=True),
             lambda: devices.set_password(seat["id"], "Another-pass-9"),
             lambda: operators.set_active(anna["id"], False),
             lambda: operators.set_active(anna["id"], True),
             lambda: devices.update_device(seat["id"], active=False),
             lambda: devices.delete_device(seat["id"])]
    assert realtime_differs(db) == [] and view(db, "ps_auths", "anna")[0]["password"] == "Str0ng-pass-1"
    for step in steps:
        with db.atomic():
            step()
            assert realtime_differs(db) == [], step
    assert view(db, "ps_endpoints", "seat-7") == [] and view(db, "ps_endpoints", "anna")
    db.execute_sql("TRUNCATE operator RESTART IDENTITY CASCADE")
    assert [db.execute_sql(f"SELECT count(*) FROM {t}").fetchone()[0] for t, _ in REALTIME] == [0, 0, 0]


def test_deactivated_devices_and_operators_vanish_from_asterisk_and_lose_their_registration(settings, db):
    o = operators.create_operator("Анна", "anna")
    register(settings, "anna")
    assert devices.get_device(1)["registration"]["online"]
    devices.update_device(1, active=False)
    assert view(db, "ps_endpoints", "anna") == [] and view(db, "ps_auths", "anna") == []
    assert not devices.get_device(1)["registration"]["online"]
    devices.update_device(1, active=True)
    register(settings, "anna")
    operators.set_active(o["id"], False)
    assert view(db, "ps_endpoints", "anna") == [] and not devices.get_device(1)["registration"]["online"]
    with pytest.raises(Conflict) as e:
        operators.request(ACTING_SYSTEM, o["id"], "ready")
    assert e.value.code == "operator-inactive"
    operators.set_active(o["id"], True)
    assert view(db, "ps_endpoints", "anna")


def test_a_new_password_refuses_the_old_one_at_once_and_is_never_recorded(settings, db):
    d = devices.create_device("desk-1", seat="Место 1")
    register(settings, "desk-1")
    changed = devices.set_password(d["id"], "Typed-pass-2024")
    assert changed["password"] == "Typed-pass-2024" and view(db, "ps_auths", "desk-1")[0]["password"] == "Typed-pass-2024"
    assert not changed["registration"]["online"]  # the old registration is gone with the old password
    generated = devices.set_password(d["id"])["password"]
    assert generated != "Typed-pass-2024" and not devices.password_problem(generated)
    text = " ".join(r[0] for r in db.execute_sql("SELECT changes::text FROM audit_log").fetchall())
    assert "Typed-pass-2024" not in text and generated not in text and d["password"] not in text


def test_deleting_a_device_deletes_its_registrations_and_says_so_live(settings, db):
    d = devices.create_device("desk-2", seat="Место 2")
    register(settings, "desk-2")
    devices.delete_device(d["id"])
    assert db.execute_sql("SELECT count(*) FROM ps_contacts").fetchone()[0] == 0
    assert view(db, "ps_endpoints", "desk-2") == []
    assert events(db)[-1] == {"login": "desk-2", "device_id": None, "registration": {"online": False}}
    with pytest.raises(NotFound):
        devices.get_device(d["id"])


def test_registrations_written_by_asterisk_become_live_events_with_what_pages_show(settings, db):
    o = operators.create_operator("Анна", "anna")
    register(settings, "anna", ip="10.0.0.5", port=5062, agent="Zoiper 5")
    [ev] = events(db)
    reg = ev["registration"]
    assert (ev["login"], ev["operator_id"], reg["online"], reg["ip"], reg["port"], reg["user_agent"], reg["server"]) == \
        ("anna", o["id"], True, "10.0.0.5", 5062, "Zoiper 5", "pbx")
    assert reg["uri"] == "sip:anna@10.0.0.5:5062;line=x" and reg["expires_at"] and reg["registered_at"]
    perm, op = db.execute_sql("SELECT permission, operator_id FROM live_event").fetchone()
    assert (perm, op) == ("sip.read", o["id"])
    unregister(settings, "anna")
    assert events(db)[-1]["registration"] == {"online": False}


def test_an_expired_registration_is_offline_even_before_asterisk_prunes_it(settings, db):
    operators.create_operator("Анна", "anna")
    register(settings, "anna", expires_in=-5)
    assert devices.get_device(1)["registration"] == {"online": False}


@pytest.mark.parametrize("status,alerted", [("ready", True), ("in_call", True), ("paused", False), ("wrap_up", False)])
def test_a_device_going_offline_while_ready_or_talking_alerts_once_until_it_is_back(settings, db, status, alerted):
    o = operators.create_operator("Анна", "anna")
    register(settings, "anna")
    Operator.update(status=status).where(Operator.id == o["id"]).execute()
    unregister(settings, "anna")
    open_ = "SELECT count(*) FROM alert WHERE kind = 'sip_offline' AND cleared_at IS NULL"
    assert db.execute_sql(open_).fetchone()[0] == int(alerted)
    register(settings, "anna", suffix="b2")
    unregister(settings, "anna")  # again: still one open alert per device at most
    assert db.execute_sql(open_).fetchone()[0] == int(alerted)
    register(settings, "anna", suffix="c3")
    assert db.execute_sql(open_).fetchone()[0] == 0  # back: the cause cleared
    if alerted:
        text_ru, text_en = db.execute_sql("SELECT text_ru, text_en FROM alert").fetchone()
        assert "anna" in text_ru and "Анна" in text_en and "offline" in text_en


def test_a_second_registration_replacing_the_first_raises_no_alert(settings, db):
    """Asterisk adds the new contact before removing the old one (remove_existing): never offline meanwhile."""
    o = operators.create_operator("Анна", "anna")
    Operator.update(status="ready").where(Operator.id == o["id"]).execute()
    register(settings, "anna", suffix="old")
    register(settings, "anna", suffix="new", port=5070)
    db.execute_sql("DELETE FROM ps_contacts WHERE id = 'anna^3B@old'")
    assert db.execute_sql("SELECT count(*) FROM alert").fetchone()[0] == 0


# ---- bad input: a clear message in both languages, nothing changed ------------------------------------------
BAD_CREATE = [
    ({"login": "A"}, "login"), ({"login": "Desk 1"}, "login"), ({"login": "x" * 41}, "login"),
    ({"login": "стол"}, "login"), ({"login": None}, "login"),
    ({"password": "short1"}, "password"), ({"password": "onlyletterslong"}, "password"),
    ({"password": "1234567890123"}, "password"), ({"password": "has space 123"}, "password"),
    ({"password": 'quote"12345678'}, "password"), ({"password": "Ab1"}, "password"),
    ({"password": "пароль123456"}, "password"), ({"password": 1234567890}, "password"),
    ({"codecs": []}, "codecs"), ({"codecs": ["mp3"]}, "codecs"), ({"codecs": ["ulaw", "ulaw"]}, "codecs"),
    ({"codecs": "ulaw,speex"}, "codecs"), ({"codecs": [1]}, "codecs"),
    ({"transport": "sctp"}, "transport"), ({"transport": None}, "transport"),
    ({"direct_media": "yes"}, "direct_media"), ({"rtp_symmetric": 1}, "rtp_symmetric"),
    ({"force_rport": None}, "force_rport"), ({"rewrite_contact": "true"}, "rewrite_contact"),
    ({"active": "no"}, "active"), ({"seat": "x" * 101}, "seat"), ({"seat": "tab\there"}, "seat"),
    ({"server": "nowhere"}, "server"), ({"server": ""}, "server"),
    ({"operator_id": 1, "seat": "Место 1"}, "seat"), ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("change,field", BAD_CREATE)
def test_bad_device_input_changes_nothing(db, unchanged, change, field):
    operators.create_operator("Анна", "anna", device=False)
    values = {"login": "desk-1", "password": None, "seat": None, **change}
    with unchanged(), pytest.raises(Invalid) as e:
        devices.create_device(values.pop("login"), values.pop("password"), servers=("pbx",), **values)
    assert e.value.details["field"] == field
    assert e.value.message.startswith(field) and e.value.details["message_ru"].startswith(field)
    if field == "password":  # the rule is stated
        assert "10" in e.value.message and "digit" in e.value.message and "цифр" in e.value.details["message_ru"]


@pytest.mark.parametrize("operator_id,error", [(999, NotFound), (0, Invalid), ("1", Invalid), ("", Invalid)])
def test_binding_to_an_unknown_operator_changes_nothing(db, unchanged, operator_id, error):
    with unchanged(), pytest.raises(error) as e:
        devices.create_device("desk-1", operator_id=operator_id)
    assert e.value.details["field"] == "operator_id"


def test_conflicts_name_what_is_taken(db, unchanged):
    anna = operators.create_operator("Анна", "anna")
    boris = operators.create_operator("Борис", "boris", device=False)
    devices.create_device("desk-1", seat="Место 1")
    cases = [(lambda: devices.create_device("anna"), "device-login-taken"),
             (lambda: devices.create_device("desk-1"), "device-login-taken"),
             (lambda: devices.create_device("boris"), "device-login-taken"),  # another operator's login
             (lambda: devices.create_device("desk-9", operator_id=anna["id"]), "operator-has-device"),
             (lambda: devices.create_device("desk-9", seat="место 1"), "seat-taken"),
             (lambda: devices.update_device(2, operator_id=anna["id"]), "operator-has-device"),
             (lambda: operators.create_operator("Дубль", "desk-1"), "operator-login-taken")]
    for action, code in cases:
        with unchanged(), pytest.raises(Conflict) as e:
            action()
        assert e.value.code == code and e.value.details.get("message_ru")
    assert devices.create_device("boris", operator_id=boris["id"])["operator_id"] == boris["id"]


@pytest.mark.parametrize("change,field", [({"login": "other"}, "login"), ({"codecs": ["x"]}, "codecs"),
                                          ({"active": None}, "active"), ({"password": "x"}, "password")])
def test_bad_update_changes_nothing(db, unchanged, change, field):
    d = devices.create_device("desk-1", seat="Место 1")
    before = devices.get_device(d["id"])
    with unchanged(), pytest.raises(Invalid) as e:
        devices.update_device(d["id"], **change)
    assert e.value.details["field"] == field and devices.get_device(d["id"]) == before


def test_weak_new_password_changes_nothing(settings, db, unchanged):
    d = devices.create_device("desk-1", seat="Место 1")
    register(settings, "desk-1")
    with unchanged(), pytest.raises(Invalid) as e:
        devices.set_password(d["id"], "weak")
    assert e.value.details["field"] == "password"
    assert devices.get_device(d["id"])["registration"]["online"]
    with pytest.raises(NotFound):
        devices.set_password(999, None)


@pytest.mark.parametrize("password,bad", [
    ("Abcdefgh12", False), ("abcdefghi1", False), ("a1!#$%&'()*", False), ("x" * 120 + "1", False),
    ("Abcdefg12", True), ("abcdefghij", True), ("1234567890", True), ("Abc 1234567", True), ('Abc"1234567', True),
    ("MyAnna-2024x", False), ("a" * 128 + "1", True), ("Пароль12345", True), (None, True), (b"Abcdefgh12", True),
])
def test_password_policy(password, bad):
    assert devices.password_problem(password) is bad


# ---- what qualify finds (ari_app/contacts.py): ARI ContactStatusChange onto the registration's row -------------
def status_event(status, rtt="", uri="sip:anna@10.0.0.5:5062;line=x", aor="anna"):
    """A ContactStatusChange as Asterisk 22 sends it (main/stasis_endpoints.c: roundtrip_usec is a string)."""
    info = {"uri": uri, "contact_status": status, "aor": aor}
    if rtt:
        info["roundtrip_usec"] = rtt
    return {"type": "ContactStatusChange", "timestamp": "2026-11-29T19:07:16.630+0000", "contact_info": info,
            "endpoint": {"technology": "PJSIP", "resource": aor, "state": "online", "channel_ids": []},
            "application": "dialer-contacts"}


@pytest.mark.parametrize("msg,expected", [
    (status_event("Reachable", "769"), ("anna", "sip:anna@10.0.0.5:5062;line=x", "Reachable", 769)),
    (status_event("Unreachable"), ("anna", "sip:anna@10.0.0.5:5062;line=x", "Unreachable", None)),
    (status_event("Unreachable", "0"), ("anna", "sip:anna@10.0.0.5:5062;line=x", "Unreachable", None)),
    (status_event("NonQualified"), ("anna", "sip:anna@10.0.0.5:5062;line=x", "NonQualified", None)),
    (status_event("Reachable", "x"), ("anna", "sip:anna@10.0.0.5:5062;line=x", "Reachable", None)),
    (status_event("Removed"), None), (status_event("Created"), None), (status_event("Bogus"), None),
    ({"type": "EndpointStateChange"}, None), ({"type": "ContactStatusChange"}, None),
    ({"type": "ContactStatusChange", "contact_info": {"aor": 1, "uri": "x", "contact_status": "Reachable"}}, None),
])
def test_contact_changes_worth_recording(msg, expected):
    from ari_app.contacts import contact_change
    assert contact_change(msg) == expected


def test_qualify_results_reach_the_row_the_page_and_the_alert(settings, db):
    from ari_app.contacts import contact_change, write_change
    o = operators.create_operator("Анна", "anna")
    register(settings, "anna", ip="10.0.0.5", port=5062)
    assert write_change(db, *contact_change(status_event("Reachable", "1500"))) == 1
    assert write_change(db, *contact_change(status_event("Reachable", "1500"))) == 0  # nothing new: no write
    reg = devices.get_device(1)["registration"]
    assert (reg["qualify_status"], reg["rtt_us"], reg["online"]) == ("Reachable", 1500, True)
    assert events(db)[-1]["registration"]["rtt_us"] == 1500
    Operator.update(status="in_call").where(Operator.id == o["id"]).execute()
    write_change(db, *contact_change(status_event("Unreachable")))
    assert events(db)[-1]["registration"]["qualify_status"] == "Unreachable"
    assert db.execute_sql("SELECT count(*) FROM alert WHERE kind = 'sip_offline' AND cleared_at IS NULL").fetchone()[0] == 1
    write_change(db, *contact_change(status_event("Reachable", "900")))
    assert db.execute_sql("SELECT count(*) FROM alert WHERE cleared_at IS NULL").fetchone()[0] == 0
    assert write_change(db, *contact_change(status_event("Reachable", "5", uri="sip:other@1.2.3.4"))) == 0


def test_a_round_trip_is_written_only_when_it_moved_notably(settings, db):
    """Each qualify reports a round-trip that jitters: only a move of ≥ 5 ms and ≥ a quarter makes a write (and a
    live event); a change of state is always written."""
    from ari_app.contacts import contact_change, write_change
    operators.create_operator("Анна", "anna")
    register(settings, "anna", ip="10.0.0.5", port=5062)
    steps = [  # (status, rtt µs reported, written, rtt shown after)
        ("Reachable", "1500", True, 1500),
        ("Reachable", "1900", False, 1500),     # jitter
        ("Reachable", "6400", False, 1500),     # 4.9 ms more: under 5 ms
        ("Reachable", "6500", True, 6500),      # 5 ms more
        ("Reachable", "10000", False, 6500),    # 3.5 ms: under 5 ms
        ("Reachable", "80000", True, 80000),
        ("Reachable", "95000", False, 80000),   # 15 ms, but under a quarter of 80 ms
        ("Reachable", "100000", True, 100000),  # a quarter
        ("Unreachable", "", True, None),        # a change of state, always
        ("Unreachable", "", False, None),
        ("Reachable", "100000", True, 100000),
    ]
    for status, rtt, written, shown in steps:
        before = len(events(db))
        assert write_change(db, *contact_change(status_event(status, rtt))) == int(written), (status, rtt)
        assert len(events(db)) == before + int(written), (status, rtt)
        assert devices.get_device(1)["registration"]["rtt_us"] == shown, (status, rtt)
