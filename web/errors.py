"""Errors: under /api (and /events) they leave as JSON `{"error": id, "message": ...}`; on pages a person
sees a page in their language, and a request that needs sign-in goes to the sign-in page.
Nothing becomes a bare 500."""
from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from dialer.errors import DomainError

from . import auth, i18n
from .i18n import N_

log = logging.getLogger(__name__)

_IDS = {400: "invalid-request", 401: "unauthorised", 403: "forbidden", 404: "not-found",
        405: "method-not-allowed", 413: "request-too-large", 415: "unsupported-media-type"}
_TITLES = {400: N_("The request is not valid"), 401: N_("Sign-in required"), 403: N_("Access denied"),
           404: N_("Page not found"), 405: N_("Method not allowed"), 413: N_("The request is too large"),
           500: N_("Something went wrong")}


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not (auth._is_api(path) or path == "/events" or path.startswith("/static/")) \
        and request.scope.get("auth_via") != "token"


def _page(request: Request, status: int, detail: str = "") -> Response:
    if status == 401 and request.method == "GET":
        return Redirect(auth.login_url(request.url.path + (f"?{request.url.query}" if request.url.query else "")))
    from .pages.common import context
    return Template(template_name="error.html", status_code=status, media_type=MediaType.HTML,
                    context=context(request, status=status, title=i18n.gettext(_TITLES.get(status, "Error")),
                                    detail=detail))


def on_domain_error(request: Request, exc: DomainError) -> Response:
    if _wants_page(request):
        return _page(request, exc.status, i18n.error_text(exc.as_dict()))
    return Response(exc.as_dict(), status_code=exc.status)


def on_validation_error(request: Request, exc: ValidationException) -> Response:
    problems = exc.extra if isinstance(exc.extra, list) else []
    detail = "; ".join(f"{p.get('key', 'body')}: {p.get('message')}" for p in problems if isinstance(p, dict))
    if _wants_page(request):
        return _page(request, 400, detail or str(exc.detail))
    return Response({"error": "invalid-request", "message": detail or exc.detail, "problems": problems},
                    status_code=400)


def on_http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if _wants_page(request) and status in _TITLES:
        return _page(request, status)
    return Response({"error": _IDS.get(status, f"http-{status}"), "message": exc.detail},
                    status_code=status, headers=exc.headers)


def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_page(request):
        try:
            return _page(request, 500)
        except Exception:  # the error page itself failed: fall back to JSON below
            log.exception("the error page failed")
    return Response({"error": "internal-error", "message": "internal error; see the server log"},
                    status_code=500)


HANDLERS = {DomainError: on_domain_error, ValidationException: on_validation_error,
            HTTPException: on_http_error, Exception: on_unexpected}
