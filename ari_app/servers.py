"""Losing one of several Asterisk servers (SPEC A5): what its operators' machines are told, and what is written.

A server is lost when its ARI stays unreachable — the event websocket down and REST refused — for
`asterisk_lost_after_s` (ari_app/engine.py watches each server). No event of its calls will come any more: every
operator on it is paused (their softphone's line went with it), each call they held is closed and classified as
far as it got (a talk is ANSWERED, an answered client never bridged LOST, anything else ERROR with the reason), and
the reason is written on the operator and in one supervisor alert. The other servers' calls go on untouched. When
the server answers again the usual reconcile runs; the operators press Ready as after any lost line.

A websocket cut alone (REST answering) is not a loss: the calls live on in Asterisk and are re-adopted at the
reconnect (README, «Failures»).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import attempt as am
from . import events as ev
from . import operator as om

LOST_CAUSE = 38  # Q.850 "network out of order": the server carrying the call is gone


@dataclass(frozen=True)
class ServerLost:
    """Told to each actor of the lost server, in its own queue (so it acts on the state it has then)."""
    reason: str
    at: float = 0.0
    code: str = ""  # what is written on the operator (`pause_code`): each page words it in its own language


def lost_events(s: om.OperatorState, e: ServerLost) -> list:
    """The machine's own events that bring an operator to where the loss leaves them — pure.

    Pause first, so that ending the call does not claim the next lead on a dead server; then the call (never dialled:
    not placed; on Asterisk: gone with the cause); then the line."""
    out: list = []
    if s.status not in (om.LUNCH, om.OFFLINE):
        out.append(ev.PauseRequested(om.PAUSED, at=e.at))
    call = s.call
    if call and call.phase != am.ENDED and not call.waiting_for_answer:
        if call.phase == am.RESERVED:
            out.append(ev.OriginateFailed(call.attempt_id, e.reason, at=e.at))
        else:
            if call.phase in (am.DIALING, am.RINGING):  # the failure is the reason the client was not reached
                out.append(ev.HangupRequested(at=e.at, failure=e.reason))
            out.append(ev.ClientGone(call.attempt_id, cause=LOST_CAUSE, cause_text=e.reason, at=e.at))
    for channel in (s.leg, s.leg_pending):
        if channel:
            out.append(ev.LegGone(channel, at=e.at))
    return out


def affected(s: om.OperatorState) -> bool:
    """Working on that server when it was lost: their pause is the loss's, and says so."""
    return s.status in (om.READY, om.IN_CALL, om.WRAP_UP) or bool(s.leg or s.leg_pending or s.call)


def movable(s: om.OperatorState) -> bool:
    """Nothing of this operator lives on their current server: their calls may go through another from now on."""
    return s.status in (om.OFFLINE, om.PAUSED, om.LUNCH) and not (s.leg or s.leg_pending or s.call or s.claiming)


def pause_code(server: str) -> str:
    """The operator's `pause_reason` when their server is lost; pages word it (supervisor.js, panel.js)."""
    return f"asterisk-lost:{server}"


def reason_text(server: str) -> tuple[str, str]:
    return (f"Asterisk server {server} is unreachable",
            f"сервер Asterisk {server} недоступен")


# ---- reads and writes (in the engine's database threads) ---------------------------------------------------------
def operator_server(db, operator_id: int) -> str | None:
    """The server of the operator's device as it is now (an administrator may have moved it: sql/021)."""
    row = db.execute_sql("SELECT server FROM operator WHERE id = %s", (operator_id,)).fetchone()
    return row[0] if row else None


def note_pause_reason(db, operator_id: int, reason: str) -> None:
    """Behind the operator's own status write (the actor's ordered writes); the next working status clears it
    (sql/021_asterisk_servers.sql)."""
    db.execute_sql("UPDATE operator SET pause_reason = %s WHERE id = %s AND status IN ('paused', 'wrap_up')",
                   (reason, operator_id))


def note_recent_pauses(db, operator_ids: list[int], reason: str, since: float) -> None:
    """Operators of the server whose line went down with it a moment before its websocket did (an Asterisk shutting
    down hangs its channels up and says so): their pause is the loss's too."""
    db.execute_sql("UPDATE operator SET pause_reason = %s WHERE id = ANY(%s) AND status IN ('paused', 'wrap_up') "
                   "AND status_since >= to_timestamp(%s) AND pause_reason IS NULL", (reason, operator_ids, since))


_ALERT_SQL = """
INSERT INTO alert (kind, object_key, text_ru, text_en)
VALUES ('asterisk_lost', %(key)s, %(ru)s, %(en)s)
ON CONFLICT (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL DO NOTHING"""


def raise_alert(db, server: str) -> None:
    en, ru = reason_text(server)
    db.execute_sql(_ALERT_SQL, {"key": f"asterisk:{server}",
                                "en": f"{en}: its calls were closed and its operators paused",
                                "ru": f"{ru}: его звонки закрыты, его операторы на паузе"})


def clear_alert(db, server: str) -> None:
    db.execute_sql("UPDATE alert SET cleared_at = clock_timestamp() WHERE kind = 'asterisk_lost' "
                   "AND object_key = %s AND cleared_at IS NULL", (f"asterisk:{server}",))
