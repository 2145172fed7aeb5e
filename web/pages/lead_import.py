"""A campaign's «Импорт» tab: leads from a CSV or XLSX file — upload, the column-mapping preview of the CRM pages
(`dialer.crm.generic.preview`, the same targets), then the import with bad rows listed by the file's line.
Reading and importing run in the web's worker processes (`dialer.workers`); the upload waits between the two
steps in the state directory, readable only by who uploaded it, for this campaign (`dialer.crm.views.Uploads`)."""
from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Response

from dialer.crm import generic, views
from dialer import audit
from dialer.db import run
from dialer.errors import DomainError
from dialer.services import campaigns, lead_import

from .. import auth, i18n
from .common import form_data, one, page
from .crm import FILE_LIMIT, field_errors

IMPORT = {"permission": "leads.import"}


def _db(request: Request):
    return request.app.state.db


def _uploads(request: Request) -> views.Uploads:
    # a directory of its own: an upload is tied to a campaign id here, to a connection id on the CRM pages
    return views.Uploads(request.app.state.settings.state_dir / "uploads" / "campaigns")


def _user_id(request: Request) -> int | None:
    principal = auth.principal_of(request)
    return principal.user_id if principal else None


def _reason(reason: str) -> str:
    return i18n.pick(views.reason_ru(reason), reason)


async def _campaign(request: Request, campaign_id: int) -> dict:
    return await run(_db(request), campaigns.get_campaign, campaign_id)  # unknown id: 404


def _upload_page(request: Request, c: dict, status: int = 200, error: str = "") -> Response:
    return page(request, "campaigns/import.html", status_code=status, campaign=c, error=error, tab="import")


@get("/campaigns/{campaign_id:int}/import", opt=IMPORT, include_in_schema=False)
async def import_page(request: Request, campaign_id: FromPath[int]) -> Response:
    return _upload_page(request, await _campaign(request, campaign_id))


@post("/campaigns/{campaign_id:int}/import/preview", opt=IMPORT, request_max_body_size=FILE_LIMIT,
      include_in_schema=False)
async def import_preview(request: Request, campaign_id: FromPath[int]) -> Response:
    c = await _campaign(request, campaign_id)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_page(request, c, 422, i18n.pick("Выберите файл CSV или XLSX", "Choose a CSV or XLSX file"))
    data = await upload.read()
    filename = upload.filename[-200:]
    try:
        preview = await request.app.state.workers.run(generic.preview, data, filename)
    except DomainError as e:
        return _upload_page(request, c, e.status, i18n.error_text(e.as_dict()))
    upload_id = _uploads(request).save(data, filename, campaign_id, _user_id(request))
    return _preview_page(request, c, preview, upload_id, filename)


def _preview_page(request: Request, c: dict, preview: dict, upload_id: str, filename: str, status: int = 200,
                  errors: dict | None = None, chosen: dict | None = None) -> Response:
    return page(request, "campaigns/import_preview.html", status_code=status, campaign=c, p=preview,
                upload_id=upload_id, filename=filename, errors=errors or {}, chosen=chosen or preview["suggested"],
                tab="import")


@post("/campaigns/{campaign_id:int}/import", opt=IMPORT, include_in_schema=False)
async def import_file(request: Request, campaign_id: FromPath[int]) -> Response:
    form = await form_data(request)
    c = await _campaign(request, campaign_id)
    uploads, workers = _uploads(request), request.app.state.workers
    upload_id = one(form, "upload_id")
    data, filename = await run(_db(request), uploads.load, upload_id, campaign_id, _user_id(request))
    preview = await workers.run(generic.preview, data, filename)
    mapping = {column: one(form, f"col:{i}") for i, column in enumerate(preview["columns"])}
    try:
        report = await workers.run_in_db(lead_import.import_file, campaign_id, data, filename, mapping,
                                         audit.current_actor())
    except DomainError as e:
        if e.status == 404:
            raise
        errors = field_errors(e) or {"_": i18n.error_text(e.as_dict())}
        return _preview_page(request, c, preview, upload_id, filename, e.status, errors, mapping)
    uploads.drop(upload_id)
    return page(request, "campaigns/import_done.html", campaign=c, r=report, filename=filename, tab="import",
                reason=_reason)


ROUTES = [import_page, import_preview, import_file]
