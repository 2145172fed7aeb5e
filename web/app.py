"""Composition root of the web process: one function builds the app from settings and a database."""
from __future__ import annotations

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from peewee import Database

from dialer.settings import Settings

from . import auth, errors
from .api.attempts import AttemptController, health
from .api.campaigns import CampaignController
from .api.operators import COMMAND_ROUTES, OperatorController
from .api.selections import ROUTES as SELECTION_ROUTES

JSON_BODY_LIMIT = 1024 * 1024  # the CSV import raises its own limit


def _openapi() -> OpenAPIConfig:
    # JSON only: the HTML viewers load scripts from CDNs, and installations sit in closed networks
    return OpenAPIConfig(title="Dialer", version="0.1.0", render_plugins=[JsonRenderPlugin(path="/")],
                         openapi_router=Router(path="/api/schema", route_handlers=[],
                                               opt={"permission": auth.PUBLIC}))


def create_app(settings: Settings, db: Database) -> Litestar:
    app = Litestar(
        route_handlers=[CampaignController, OperatorController,
                        Router(path="/api/operators", route_handlers=COMMAND_ROUTES),
                        AttemptController, health, *SELECTION_ROUTES],
        dependencies={"db": Provide(lambda: db, use_cache=True, sync_to_thread=False)},
        guards=[auth.require_permission],
        exception_handlers=errors.HANDLERS,
        openapi_config=_openapi(),
        request_max_body_size=JSON_BODY_LIMIT,
        logging_config=None,  # the process (dialer run) owns logging; keep one log format
        state=State(
            {"api_token": settings.api_token}),
    )
    closed = auth.undeclared_routes(app)
    if closed:  # a route without a permission is a programming error: fail at start, not per request
        raise RuntimeError(f"routes without a declared permission: {closed}")
    return app
