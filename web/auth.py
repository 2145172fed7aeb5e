"""Security by default: every route names the permission it needs; one guard enforces it.

Today a non-public permission needs the installation's API token; sign-in with users and roles
(SPEC H) will replace `_allowed` and keep the rest.
"""
from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from dialer.permissions import BY_NAME, PUBLIC

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


def declared_permission(handler: BaseRouteHandler) -> str | None:
    return handler.opt.get("permission")


def _bearer(connection: ASGIConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _allowed(connection: ASGIConnection, permission: str) -> bool:
    expected = connection.app.state.api_token
    given = _bearer(connection)
    # an installation without a token refuses every protected call rather than allowing them
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_permission(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    permission = declared_permission(handler)
    if not permission:
        raise PermissionDeniedException("this route declares no permission and is closed")
    if permission == PUBLIC:
        return
    if not _allowed(connection, permission):
        raise NotAuthorizedException("a valid 'Authorization: Bearer <token>' header is required",
                                     headers={"WWW-Authenticate": "Bearer"})


def _is_auto_options(handler) -> bool:
    # Litestar adds OPTIONS on every path by itself; the guard closes them (403), so they need no permission
    return getattr(handler, "http_methods", None) == {"OPTIONS"} and handler.handler_name == "options_handler"


def undeclared_routes(app) -> list[str]:
    """Paths of handlers without a catalogued permission: the app refuses to start with any."""
    return [f"{sorted(getattr(h, 'http_methods', ()))} {route.path}" for route in app.routes
            for h in route.route_handlers
            if not _is_auto_options(h) and declared_permission(h) not in BY_NAME.keys() | {PUBLIC}]
