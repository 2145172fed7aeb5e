"""The one contract between the control surface (web, CLI, AGI, demo, tests) and the engine: what may be
asked of an operator's actor, as typed payloads.

`enqueue()` is the only insert into `engine_command` (its trigger NOTIFYs the engine at commit); `parse()`
turns a stored row back into the same payload, or refuses it with `MalformedCommand`. A payload is checked
when it is made, so a bad one is never stored, and again when it is read, so a row written by an older
release or by hand cannot reach an operator's machine half understood.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from enum import Enum
from typing import ClassVar

from .errors import Invalid

MAX_POSTPONE_MINUTES = 525_600  # a year: the furthest a wrap-up may put the next call
MAX_ID = 2**63 - 1  # bigint


class Kind(str, Enum):
    READY = "ready"
    PAUSE = "pause"
    LUNCH = "lunch"
    HANGUP = "hangup"
    ANSWER = "answer"
    DIAL = "dial"
    AUTO_ANSWER = "auto_answer"
    WRAP_UP = "wrap_up"


class MalformedCommand(Invalid):
    """A command that does not fit the contract: unknown kind, missing or extra field, wrong type."""

    def __init__(self, what: str, what_ru: str):
        super().__init__("malformed-command", f"malformed engine command: {what}",
                         message_ru=f"неверная команда движку: {what_ru}")


# ---- payloads, one per kind ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    kind: ClassVar[Kind] = Kind.READY
    source: str = ""  # where it was pressed, when not the panel or API (e.g. "feature-code": *71)

    def __post_init__(self):
        _text("source", self.source)


@dataclass(frozen=True)
class Pause:
    kind: ClassVar[Kind] = Kind.PAUSE
    source: str = ""  # e.g. "feature-code": *72

    def __post_init__(self):
        _text("source", self.source)


@dataclass(frozen=True)
class Lunch:
    kind: ClassVar[Kind] = Kind.LUNCH


@dataclass(frozen=True)
class Hangup:
    """«Завершить»: the client is hung up (an offer is declined)."""
    kind: ClassVar[Kind] = Kind.HANGUP


@dataclass(frozen=True)
class Answer:
    """«Ответить»: the offer waiting in the browser is accepted."""
    kind: ClassVar[Kind] = Kind.ANSWER


@dataclass(frozen=True)
class Dial:
    """Manual dial of a lead found (or made) by the control surface."""
    kind: ClassVar[Kind] = Kind.DIAL
    lead_id: int

    def __post_init__(self):
        _id("lead_id", self.lead_id)


@dataclass(frozen=True)
class AutoAnswer:
    kind: ClassVar[Kind] = Kind.AUTO_ANSWER
    on: bool

    def __post_init__(self):
        _flag("on", self.on)


@dataclass(frozen=True)
class WrapUp:
    """The wrap-up of the operator's call. `postpone_until` is absolute (aware, kept in UTC; an ISO 8601
    text with an offset is accepted too); at most one of the two postpones, and none with do-not-call."""
    kind: ClassVar[Kind] = Kind.WRAP_UP
    attempt_id: int
    result: str
    comment: str = ""
    postpone_minutes: int | None = None
    postpone_until: datetime | None = None
    do_not_call: bool = False  # «Больше не звонить»: the number goes on the do-not-call list

    def __post_init__(self):
        _id("attempt_id", self.attempt_id)
        _text("result", self.result)
        if not self.result:
            raise MalformedCommand("result is empty", "результат пуст")
        _text("comment", self.comment)
        if self.postpone_minutes is not None:
            _int("postpone_minutes", self.postpone_minutes, 1, MAX_POSTPONE_MINUTES)
        object.__setattr__(self, "postpone_until", _moment("postpone_until", self.postpone_until))
        _flag("do_not_call", self.do_not_call)
        if self.postpone_minutes is not None and self.postpone_until is not None:
            raise MalformedCommand("postpone_minutes and postpone_until together",
                                   "postpone_minutes и postpone_until вместе")
        if self.do_not_call and (self.postpone_minutes is not None or self.postpone_until is not None):
            raise MalformedCommand("do_not_call with a postpone", "do_not_call вместе с переносом")


Payload = Ready | Pause | Lunch | Hangup | Answer | Dial | AutoAnswer | WrapUp
PAYLOADS: dict[Kind, type] = {cls.kind: cls for cls in (Ready, Pause, Lunch, Hangup, Answer, Dial, AutoAnswer, WrapUp)}


# ---- in and out ------------------------------------------------------------------------------------------
def enqueue(operator_id: int, payload: Payload) -> int:
    """Queue `payload` for the operator's actor in the caller's transaction; the command's id.

    The engine sees the command when the transaction commits (the table's trigger NOTIFYs it)."""
    from .models import EngineCommand

    if type(payload) not in PAYLOADS.values():
        raise TypeError(f"not an engine command payload: {payload!r}")
    return EngineCommand.insert(operator=operator_id, kind=payload.kind.value, payload=as_json(payload)).execute()


def as_json(payload: Payload) -> dict:
    """The stored form: fields at their default are left out, so a row says only what was asked."""
    out = {}
    for f in fields(payload):
        value = getattr(payload, f.name)
        if value == f.default:
            continue
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def parse(kind, payload_json) -> Payload:
    """A stored command back as its payload; `MalformedCommand` when it does not fit the contract."""
    try:
        k = Kind(kind)
    except ValueError:
        raise MalformedCommand(f"unknown kind {kind!r}", f"неизвестный вид {kind!r}") from None
    data = payload_json
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise MalformedCommand("the payload is not JSON", "данные не в формате JSON") from None
    if not isinstance(data, dict):
        raise MalformedCommand("the payload is not an object", "данные не объект")
    cls = PAYLOADS[k]
    known = {f.name: f for f in fields(cls)}
    extra = sorted(set(data) - set(known))
    if extra:
        raise MalformedCommand(f"unknown fields {extra} for {k.value}", f"лишние поля {extra} для {k.value}")
    try:
        return cls(**data)
    except TypeError as e:  # a required field missing
        raise MalformedCommand(f"{k.value}: {e}", f"{k.value}: {e}") from None


# ---- field checks (bool is an int in Python: never let `true` pass as 1) ----------------------------------
def _int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise MalformedCommand(f"{name} must be an integer from {lo} to {hi}, not {value!r}",
                               f"{name} должно быть целым от {lo} до {hi}, а не {value!r}")


def _id(name: str, value) -> None:
    _int(name, value, 1, MAX_ID)


def _flag(name: str, value) -> None:
    if not isinstance(value, bool):
        raise MalformedCommand(f"{name} must be true or false, not {value!r}",
                               f"{name} должно быть true или false, а не {value!r}")


def _text(name: str, value) -> None:
    if not isinstance(value, str):
        raise MalformedCommand(f"{name} must be a string, not {value!r}", f"{name} должно быть строкой, а не {value!r}")


def _moment(name: str, value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise MalformedCommand(f"{name} is not an ISO 8601 date-time: {value!r}",
                                   f"{name} — не дата и время ISO 8601: {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MalformedCommand(f"{name} must be an absolute time (with its UTC offset), not {value!r}",
                               f"{name} должно быть абсолютным временем (со смещением от UTC), а не {value!r}")
    return value.astimezone(timezone.utc)
