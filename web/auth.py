"""Security by default: every route names the permission it needs; one guard enforces it.

Who is asking is settled once per request by `PrincipalMiddleware`: a browser session (cookie
`dialer_session`, server-side row in `web_session`) or the installation's API token
(`Authorization: Bearer …`, a system principal holding every permission, for machine clients).
The middleware also names that principal as the actor of every audit entry the request writes.
The guard then checks the route's declared permission and, for state-changing calls made with a
session, the CSRF token (header `X-CSRF-Token` or form field `_csrf`).
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from dialer import audit
from dialer.access import SIGNED_IN, SYSTEM, Acting, Principal, acting, allowed
from dialer.db import run
from dialer.permissions import BY_NAME, PUBLIC

from . import i18n



class Cookies:
    SESSION = "dialer_session"
    CSRF = "dialer_csrf"  # double-submit token for forms shown before sign-in
    LANG = "dialer_lang"


UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# route permissions come from the catalogue (dialer/permissions.py, SPEC H1); the app refuses others
CAMPAIGNS_CREATE = "campaigns.create"
CAMPAIGNS_READ = "campaigns.read"
CAMPAIGNS_UPDATE = "campaigns.update"
LEADS_IMPORT = "leads.import"
LEADS_READ = "leads.read"
OPERATORS_CREATE = "operators.create"
OPERATORS_READ = "operators.read"
OPERATORS_POOLS = "operators.pools"
OPERATORS_CONTROL = "supervisor.operator_control"
OPERATORS_WRAP_UP = "panel.wrap_up"
ATTEMPTS_READ = "calls.read"
assert {CAMPAIGNS_CREATE, CAMPAIGNS_READ, CAMPAIGNS_UPDATE, LEADS_IMPORT, LEADS_READ, OPERATORS_CREATE,
        OPERATORS_READ, OPERATORS_POOLS, OPERATORS_CONTROL, OPERATORS_WRAP_UP, ATTEMPTS_READ} <= BY_NAME.keys()


class CsrfRefused(PermissionDeniedException):
    pass


def declared_permission(handler: BaseRouteHandler) -> str | None:
    return handler.opt.get("permission")


def _bearer(connection: ASGIConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def principal_of(connection: ASGIConnection) -> Principal | None:
    return connection.scope.get("principal")  # type: ignore[return-value]


def acting_of(connection: ASGIConnection) -> Acting:
    """The principal as the operator and call use cases take it: its own operator, supervisor or not.
    Only for guarded routes (a principal is there); the use case, not the route, decides on the target."""
    return acting(principal_of(connection))


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


class PrincipalMiddleware(ASGIMiddleware):
    """Resolve the principal and the language once per request; name the principal in audit entries."""

    def should_bypass_for_scope(self, scope: Scope) -> bool:
        # static files need no principal; decided on the request path (Litestar 3 matches handler paths)
        return scope.get("path", "").startswith("/static/")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection = ASGIConnection(scope)
        app_state = scope["litestar_app"].state
        principal: Principal | None = None
        via = None
        header = connection.headers.get("authorization")
        token = _bearer(connection)
        if header is not None:
            expected = app_state.api_token
            # an installation without a token refuses every protected call rather than allowing them
            if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
                principal, via = SYSTEM, "token"
            else:
                via = "bad-token"
        else:
            cookie = connection.cookies.get(Cookies.SESSION)
            if cookie:
                from dialer.services import users
                principal = await run(app_state.db, users.session_principal, cookie)
                via = "session" if principal else None
        scope["principal"] = principal
        scope["auth_via"] = via
        if via == "session" and _is_page_request(connection):
            # where the page's live events start: read before the page reads its state, so nothing committed
            # between the two is missed (one already shown again is harmless: events carry facts)
            from . import live
            scope["live_from"] = (await run(app_state.db, live.head, app_state.db)).wire()
        lang = connection.cookies.get(Cookies.LANG)
        i18n.set_language(lang if lang in i18n.LANGUAGES else (principal.language if principal else i18n.DEFAULT))
        actor = (audit.Actor(principal.user_id, principal.name, principal.role_label, client_ip(scope))
                 if principal else audit.Actor(None, "anonymous", "-", client_ip(scope)))
        with audit.acting_as(actor):
            await next_app(scope, receive, send)


def _is_page_request(connection: ASGIConnection) -> bool:
    path = connection.scope.get("path", "")
    return (connection.scope.get("method") == "GET" and "text/html" in connection.headers.get("accept", "")
            and not path.startswith(("/api/", "/events")))


async def _csrf_ok(connection: ASGIConnection) -> bool:
    via = connection.scope.get("auth_via")
    if via == "token":  # no cookies involved: a forged cross-site request cannot carry the token
        return True
    principal = principal_of(connection)
    expected = principal.session_csrf if principal and via == "session" else connection.cookies.get(Cookies.CSRF)
    given = connection.headers.get("x-csrf-token")
    if not given and isinstance(connection, Request):
        content_type = connection.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            given = (await connection.form()).get("_csrf")
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


async def _record_denied(connection: ASGIConnection, permission: str) -> None:
    from dialer.services import users
    await run(connection.scope["litestar_app"].state.db, users.record_denied, connection.scope["method"],
              connection.scope["path"], permission)


async def require_permission(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    permission = declared_permission(handler)
    if not permission:
        raise PermissionDeniedException("this route declares no permission and is closed")
    principal = principal_of(connection)
    if permission != PUBLIC and not allowed(principal, permission):
        if principal is None:
            raise NotAuthorizedException("sign in, or send a valid 'Authorization: Bearer <token>' header",
                                         headers={"WWW-Authenticate": "Bearer"})
        await _record_denied(connection, permission)
        raise PermissionDeniedException(f"the permission {permission!r} is required")
    if connection.scope["method"] in UNSAFE and connection.scope.get("auth_via") != "bad-token" \
            and not await _csrf_ok(connection):
        await _record_denied(connection, "csrf")
        raise CsrfRefused("a valid CSRF token is required (header X-CSRF-Token or form field _csrf)")


def new_csrf_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def _is_auto_options(handler) -> bool:
    # Litestar adds OPTIONS on every path by itself; the guard closes them (403), so they need no permission
    return getattr(handler, "http_methods", None) == {"OPTIONS"} and handler.handler_name == "options_handler"


ALLOWED_DECLARATIONS = BY_NAME.keys() | {PUBLIC, SIGNED_IN}


def undeclared_routes(app) -> list[str]:
    """Paths of handlers without a catalogued permission: the app refuses to start with any."""
    return [f"{sorted(getattr(h, 'http_methods', ()))} {route.path}" for route in app.routes
            for h in route.route_handlers
            if not _is_auto_options(h) and getattr(h, "http_methods", None) is not None
            and declared_permission(h) not in ALLOWED_DECLARATIONS]
