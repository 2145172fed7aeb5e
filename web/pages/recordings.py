"""Call recordings over HTTP (SPEC J1): `/recordings/{attempt}` streams the file with Range support, so the
card's `<audio>` seeks; `?download=1` sends it as an attachment. It declares `recordings.listen`.

Operators may play their own calls when the installation allows it (`recordings_operators_own`): through
`/panel/recordings/{attempt}` (`panel.use`), which serves one's own call and answers anything else — someone else's,
one that does not exist, the setting off — with the same 404, so ids cannot be probed.
A play is audited when it starts (no Range, or a Range from byte 0) and every download; seeking within a play
asks for later ranges and is audited at most once per RESEEK_AUDIT_S (no flood of entries, no unaudited copy).
The campaign's «Запись разговора» tab (record, retention, the consent message) is here too.
"""
from __future__ import annotations

import asyncio

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from dialer.db import run
from dialer.errors import DomainError
from dialer.services import campaigns, recording_settings
from dialer.services import recordings as rec

from .. import auth, i18n
from .common import form_data, one, page
from .operators import errors_of


def _read(path, first: int, last: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(first)
        return f.read(last - first + 1)


@get("/recordings/{attempt_id:int}", opt={"permission": rec.LISTEN}, include_in_schema=False)
async def recording_file(request: Request, attempt_id: FromPath[int],
                         download: FromQuery[bool] = False) -> Response:
    return await _send(request, attempt_id, download, own_only=False)


@get("/panel/recordings/{attempt_id:int}", opt={"permission": "panel.use"}, include_in_schema=False)
async def own_recording_file(request: Request, attempt_id: FromPath[int],
                             download: FromQuery[bool] = False) -> Response:
    return await _send(request, attempt_id, download, own_only=True)


async def _send(request: Request, attempt_id: int, download: bool, own_only: bool) -> Response:
    settings = request.app.state.settings
    header = request.headers.get("range")
    playable = await run(request.app.state.db, rec.open_for, auth.principal_of(request), attempt_id,
                         settings.recordings_path, settings.recordings_operators_own, download,
                         rec.range_start(header), own_only)
    size = playable.path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store",
               "Content-Disposition": f'{"attachment" if download else "inline"}; filename="call-{attempt_id}.opus"',
               "X-Content-Type-Options": "nosniff"}
    try:
        wanted = rec.byte_range(header, size)
    except rec.RangeNotSatisfiable:
        return Response(b"", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = wanted or (0, size - 1)
    body = await asyncio.to_thread(_read, playable.path, first, last) if size else b""
    if wanted:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(body, status_code=206 if wanted else 200, media_type=rec.MIME, headers=headers)


ROUTES = [recording_file, own_recording_file]


# ---- the campaign's «Запись» tab: record or not, retention, the consent announcement ------------------------------
READ, UPDATE = ({"permission": p} for p in ("campaigns.read", "campaigns.update"))
ANNOUNCEMENT_LIMIT = 3 * 1024 * 1024  # the service refuses files over 2 MB with a message; this bounds the body


async def _tab(request: Request, campaign_id: int, status: int = 200, errors: dict | None = None,
               draft: dict | None = None) -> Response:
    db = request.app.state.db
    c = await run(db, campaigns.get_campaign, campaign_id)
    s = await run(db, recording_settings.get_settings, campaign_id)
    return page(request, "campaigns/recording.html", status_code=status, campaign=c, s={**s, **(draft or {})},
                errors=errors or {}, saved=request.query_params.get("saved", ""), tab="recording",
                default_sound=request.app.state.settings.consent_default_sound)


@get("/campaigns/{campaign_id:int}/recording", opt=READ, include_in_schema=False)
async def recording_tab(request: Request, campaign_id: FromPath[int]) -> Response:
    return await _tab(request, campaign_id)


@post("/campaigns/{campaign_id:int}/recording", opt=UPDATE, include_in_schema=False)
async def save_recording(request: Request, campaign_id: FromPath[int]) -> Response:
    form = await form_data(request)
    values = {"record_calls": one(form, "record_calls") == "on",
              "retention_days": one(form, "recording_retention_days").strip(),
              "consent_announcement": one(form, "consent_announcement") == "on"}
    try:
        await run(request.app.state.db, recording_settings.update_settings, campaign_id, **values)
    except DomainError as e:
        if e.status == 404:
            raise
        draft = {"record_calls": values["record_calls"], "recording_retention_days": values["retention_days"],
                 "consent_announcement": values["consent_announcement"]}
        return await _tab(request, campaign_id, e.status, errors_of(e), draft)
    return Redirect(f"/campaigns/{campaign_id}/recording?saved=1", status_code=303)


@post("/campaigns/{campaign_id:int}/recording/announcement", opt=UPDATE, request_max_body_size=ANNOUNCEMENT_LIMIT,
      include_in_schema=False)
async def upload_announcement(request: Request, campaign_id: FromPath[int]) -> Response:
    form = await request.form()
    upload = form.get("file")
    if form.get("remove") == "1":
        await run(request.app.state.db, recording_settings.remove_announcement, campaign_id)
        return Redirect(f"/campaigns/{campaign_id}/recording?saved=1", status_code=303)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _tab(request, campaign_id, 422, {"file": i18n.pick("Выберите файл WAV", "Choose a WAV file")})
    data = await upload.read()
    try:
        await run(request.app.state.db, recording_settings.upload_announcement, campaign_id, data,
                  request.app.state.settings.recordings_path)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _tab(request, campaign_id, e.status, errors_of(e))
    return Redirect(f"/campaigns/{campaign_id}/recording?saved=1", status_code=303)


ROUTES += [recording_tab, save_recording, upload_announcement]
