"""The supervisor's screen «Супервайзер» (SPEC F1–F4, F8) and the call card (F7).

The screen is one page; its script (static/js/supervisor.js) reads /api/supervisor/board once the live stream
is open, then applies each live event's facts to the page. The call card is rendered here, whole.
"""
from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from dialer.db import run
from dialer.outcomes import ORDER
from dialer.services import supervisor as sv

from .. import auth, i18n
from ..i18n import N_
from .common import page

# the words the script shows, translated per request (English ids, Russian in the catalogue)
WORDS = {
    "ready": N_("Ready"), "in_call": N_("In call"), "wrap_up": N_("Wrap-up"), "paused": N_("Pause"),
    "lunch": N_("Lunch"), "offline": N_("Offline"),
    "offer": N_("Offer"), "dialling": N_("Dialling"), "talking": N_("Talking"), "wrapping": N_("Wrap-up"),
    "active": N_("Running"), "stopped": N_("Paused"), "pause_campaign": N_("Stop dialling"), "resume_campaign": N_("Resume"),
    "set_ready": N_("Ready"), "set_pause": N_("Pause"), "set_lunch": N_("Lunch"),
    "hangup": N_("End the call"), "release": N_("Release from wrap-up"),
    "sent": N_("Sent to the engine"), "after_call": N_("It takes effect after the call"),
    "queue": N_("queue"), "ringing": N_("ringing"), "talking_n": N_("talking"),
    "acknowledge": N_("Acknowledge"), "acknowledged_by": N_("acknowledged by"),
    "no_alerts": N_("No alerts"), "no_operators": N_("No operators match"), "manual": N_("manual"),
    "order": N_("order"), "open_card": N_("Open the call card"), "actions": N_("Actions"),
    "confirm_hangup": N_("End this operator's call? The client is hung up."),
    "sip_unknown": N_("No registration data yet"), "autostop": N_("Autostop"),
    "sip_online": N_("online"), "sip_offline": N_("offline"), "sip_unreachable": N_("not reachable"),
    "sip_none": N_("No SIP device"),
    "autostop_confirm": N_("Confirm the autostop"),
    "autostop_none": N_("The campaign is not stopped by the autostop: there is nothing to confirm"),
    "autostop_stopped": N_("stopped"),
    "no_day": N_("Not signed in today"), "cleared": N_("cause cleared at"),
    "server_lost": N_("Paused by the dialer: Asterisk server {server} is unreachable"),
}


# the page's stream sends at most one message so often (web/live.py `pace`) and the page draws each as it comes
# (supervisor.js FRAME_MS): an event waits once, on the server, and the browser receives a message per drawing
LIVE_PACE_MS = 70


@get("/supervisor", opt={"permission": sv.VIEW}, include_in_schema=False)
async def supervisor_page(request: Request) -> Template:
    words = {key: i18n.gettext(msg) for key, msg in WORDS.items()}
    outcomes = [{"code": o.value, "label": i18n.pick(o.label_ru, o.label_en), "colour": o.colour} for o in ORDER]
    return page(request, "supervisor/index.html", words=words, outcomes=outcomes,
                statuses=["ready", "in_call", "wrap_up", "paused", "lunch", "offline"],
                zone=request.app.state.settings.time_zone, live_pace=LIVE_PACE_MS)


@get("/supervisor/calls/{attempt_id:int}", opt={"permission": sv.CALLS}, include_in_schema=False)
async def call_page(request: Request, attempt_id: FromPath[int]) -> Template:
    card = await run(request.app.state.db, sv.call_detail, auth.principal_of(request), attempt_id)
    from dialer.services import recordings  # the card's player (web/pages/recordings.py serves the file)
    recording = await run(request.app.state.db, recordings.card, auth.principal_of(request), attempt_id,
                          request.app.state.settings.recordings_operators_own)
    return page(request, "supervisor/call.html", card=card, stage_titles=STAGES, dur=duration, recording=recording)


def duration(seconds) -> str:
    """A stage's length as a person reads it: hundredths under 10 s (bridging takes milliseconds), then m:ss."""
    if seconds is None:
        return "—"
    unit = i18n.gettext("s")
    if seconds < 10:
        return f"{seconds:.2f} {unit}"
    if seconds < 60:
        return f"{seconds:.1f} {unit}"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


STAGES = {"queued": N_("Lead reserved, operator's line"), "offered": N_("Offered to the operator"),
          "operator_answered": N_("Operator answered"), "dial": N_("Dialling the client"),
          "ringing": N_("Ringing"), "answered": N_("Client answered, connecting"), "talk": N_("Talk"),
          "wrap_up": N_("Wrap-up")}

ROUTES = [supervisor_page, call_page]
