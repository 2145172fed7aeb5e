"""Every error leaves as JSON `{"error": id, "message": ...}`; nothing becomes an HTML page or a bare 500."""
from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from dialer.errors import DomainError

log = logging.getLogger(__name__)

_IDS = {400: "invalid-request", 401: "unauthorised", 403: "forbidden", 404: "not-found",
        405: "method-not-allowed", 413: "request-too-large", 415: "unsupported-media-type"}


def on_domain_error(_: Request, exc: DomainError) -> Response:
    return Response(exc.as_dict(), status_code=exc.status)


def on_validation_error(_: Request, exc: ValidationException) -> Response:
    problems = exc.extra if isinstance(exc.extra, list) else []
    detail = "; ".join(f"{p.get('key', 'body')}: {p.get('message')}" for p in problems if isinstance(p, dict))
    return Response({"error": "invalid-request", "message": detail or exc.detail, "problems": problems},
                    status_code=400)


def on_http_error(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    return Response({"error": _IDS.get(status, f"http-{status}"), "message": exc.detail},
                    status_code=status, headers=exc.headers)


def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response({"error": "internal-error", "message": "internal error; see the server log"},
                    status_code=500)


HANDLERS = {DomainError: on_domain_error, ValidationException: on_validation_error,
            HTTPException: on_http_error, Exception: on_unexpected}
