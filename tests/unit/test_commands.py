"""The engine-command contract: every kind survives the trip through its stored form, malformed payloads
are refused with a typed error, the engine maps each to its machine event (the wrap-up with everything the
operator chose), and no code but dialer/commands.py inserts a command."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.intake import to_event
from dialer import commands as c

WHEN = datetime(2030, 5, 1, 7, 30, tzinfo=timezone.utc)
SAMPLES = [
    c.Ready(), c.Ready(source="feature-code"), c.Pause(), c.Pause(source="feature-code"), c.Lunch(), c.Hangup(),
    c.Answer(), c.Dial(42), c.AutoAnswer(True), c.AutoAnswer(False),
    c.WrapUp(7, "sold"), c.WrapUp(7, "callback", "вечером", postpone_minutes=60),
    c.WrapUp(7, "later", postpone_until=WHEN), c.WrapUp(7, "refused", do_not_call=True),
]


def test_every_kind_has_one_payload():
    assert set(c.PAYLOADS) == set(c.Kind) and {type(p).kind for p in SAMPLES} == set(c.Kind)


@pytest.mark.parametrize("payload", SAMPLES, ids=repr)
def test_round_trip_through_the_stored_form(payload):
    stored = json.loads(json.dumps(c.as_json(payload)))  # as the jsonb column gives it back
    assert c.parse(payload.kind.value, stored) == payload
    assert c.parse(payload.kind, json.dumps(stored)) == payload  # the text form and the enum are accepted too


def test_the_stored_form_says_only_what_was_asked():
    assert c.as_json(c.Ready()) == {} and c.as_json(c.AutoAnswer(False)) == {"on": False}
    assert c.as_json(c.WrapUp(7, "later", postpone_until=WHEN)) == {
        "attempt_id": 7, "result": "later", "postpone_until": "2030-05-01T07:30:00+00:00"}


def test_postpone_until_is_kept_in_utc_whatever_offset_it_came_with():
    local = "2030-05-01T10:30:00+03:00"
    assert c.WrapUp(7, "later", postpone_until=local).postpone_until == WHEN
    assert c.WrapUp(7, "later", postpone_until=WHEN.astimezone(timezone(timedelta(hours=10)))).postpone_until == WHEN


@pytest.mark.parametrize("kind,payload", [
    ("dance", {}), (None, {}),
    ("ready", "not json"), ("ready", "[]"), ("ready", None), ("ready", {"sauce": 1}), ("lunch", {"source": "x"}),
    ("ready", {"source": 5}),
    ("dial", {}), ("dial", {"lead_id": "7"}), ("dial", {"lead_id": True}), ("dial", {"lead_id": 0}),
    ("dial", {"lead_id": 2**63}), ("dial", {"lead_id": 7.0}),
    ("auto_answer", {}), ("auto_answer", {"on": "yes"}), ("auto_answer", {"on": 1}),
    ("wrap_up", {"result": "ok"}), ("wrap_up", {"attempt_id": 7}), ("wrap_up", {"attempt_id": 7, "result": ""}),
    ("wrap_up", {"attempt_id": 7, "result": 5}), ("wrap_up", {"attempt_id": "7", "result": "ok"}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "comment": None}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": 0}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": "30"}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": True}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": c.MAX_POSTPONE_MINUTES + 1}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_until": "2030-05-01T10:30"}),  # no offset
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_until": "soon"}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_until": 1893456000}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "do_not_call": "true"}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": 30,
                 "postpone_until": "2030-05-01T10:30:00+03:00"}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minutes": 30, "do_not_call": True}),
    ("wrap_up", {"attempt_id": 7, "result": "ok", "postpone_minute": 30}),  # a typo is not silently ignored
])
def test_malformed_payloads_are_refused(kind, payload):
    with pytest.raises(c.MalformedCommand) as e:
        c.parse(kind, payload)
    assert e.value.code == "malformed-command" and e.value.status == 422
    assert e.value.message and e.value.details["message_ru"]


def test_a_malformed_payload_cannot_even_be_made():
    with pytest.raises(c.MalformedCommand):
        c.WrapUp(7, "ok", postpone_minutes=30, do_not_call=True)
    with pytest.raises(TypeError):
        c.enqueue(1, {"kind": "ready"})  # only payloads are queued (refused before the database is touched)


@pytest.mark.parametrize("payload,event", [
    (c.Ready(source="feature-code"), ev.ReadyRequested(at=5)),
    (c.Pause(), ev.PauseRequested("paused", at=5)),
    (c.Lunch(), ev.PauseRequested("lunch", at=5)),
    (c.Hangup(), ev.HangupRequested(at=5)),
    (c.Answer(), ev.AnswerRequested(at=5)),
    (c.Dial(42), ev.DialRequested(42, at=5)),
    (c.AutoAnswer(False), ev.AutoAnswerSet(False, at=5)),
    (c.WrapUp(7, "later", "утром", postpone_until=WHEN),
     ev.WrapUpSubmitted(7, "later", "утром", None, at=5, postpone_until=WHEN.timestamp())),
    (c.WrapUp(7, "refused", do_not_call=True), ev.WrapUpSubmitted(7, "refused", at=5, do_not_call=True)),
], ids=repr)
def test_the_engine_maps_each_payload_to_its_event(payload, event):
    assert to_event(payload, 5) == event


@pytest.mark.parametrize("payload", [c.WrapUp(7, "later", postpone_until=WHEN), c.WrapUp(7, "no", do_not_call=True),
                                     c.WrapUp(7, "cb", "вечером", postpone_minutes=30)], ids=repr)
def test_the_wrap_up_reaches_the_store_with_everything_the_operator_chose(payload):
    s = om.OperatorState(1, status=om.WRAP_UP, wrap_up_attempt=7)
    _, out = om.step(s, to_event(c.parse("wrap_up", c.as_json(payload)), 9))
    [finish] = [x for x in out if isinstance(x, ev.FinishWrapUp)]
    assert finish == ev.FinishWrapUp(7, payload.result, payload.comment, payload.postpone_minutes, 9,
                                     postpone_until=payload.postpone_until and payload.postpone_until.timestamp(),
                                     do_not_call=payload.do_not_call)


ROOT = Path(__file__).resolve().parents[2]
INSERT = re.compile(r"EngineCommand\s*\.\s*(insert|create)|insert\s+into\s+engine_command", re.I)


def test_only_the_contract_inserts_engine_commands():
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (path.suffix not in (".py", ".sql") or rel.parts[0].startswith(".") or "egg-info" in rel.parts[0]
                or path == Path(__file__).resolve()):
            continue
        if INSERT.search(path.read_text(errors="replace")):
            found.append(str(rel))
    assert found == ["dialer/commands.py"]
