"""Composition root of the web process: one function builds the app from settings and a database."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from peewee import Database

from dialer import logs
from dialer.db import run
from dialer.settings import Settings
from dialer.workers import Workers

from . import auth, errors, i18n, live
from .api.attempts import AttemptController
from .api.campaigns import CampaignController
from .api.crm import CrmController, push_orders
from .api.devices import DEVICE_API
from .api.health import health, monitoring as monitoring_api, web_health
from .api.metrics import ROUTES as METRICS_ROUTES
from .api.operators import COMMAND_ROUTES, OperatorController
from .api.panel import PANEL_API
from .api.selections import ROUTES as SELECTION_ROUTES
from .api.leads import ROUTES as LEAD_API_ROUTES
from .api.reports import REPORTS_API
from .api.supervisor import SUPERVISOR_API
from .api.users import USER_API_ROUTES
from .pages import access as access_pages
from .pages import campaigns as campaign_pages
from .pages import dialling as dialling_pages
from .pages import crm as crm_pages
from .pages import monitoring as monitoring_pages
from .pages import operators as operator_pages
from .pages import telephony as telephony_pages
from .pages import panel as panel_pages
from .pages import reports as report_pages
from .pages import session as session_pages
from .pages import supervisor as supervisor_pages
from .pages import recordings as recording_pages
from .pages import search as search_pages
from .pages import selections as selection_pages
from .pages import dnc as dnc_pages
from .pages import lead_import as lead_import_pages

JSON_BODY_LIMIT = 1024 * 1024  # the CSV import raises its own limit
HERE = Path(__file__).parent
# further pages of other parts are added here; their templates extend base.html (docs/access.md)
PAGES = [*dnc_pages.ROUTES, *lead_import_pages.ROUTES, *selection_pages.ROUTES, *search_pages.ROUTES, *session_pages.ROUTES, *access_pages.ROUTES, *crm_pages.ROUTES, *panel_pages.ROUTES,
         *supervisor_pages.ROUTES, *report_pages.ROUTES, *monitoring_pages.ROUTES, *operator_pages.ROUTES,
         *telephony_pages.ROUTES, *campaign_pages.ROUTES, *dialling_pages.ROUTES, *recording_pages.ROUTES, live.events]


def _openapi() -> OpenAPIConfig:
    # JSON only: the HTML viewers load scripts from CDNs, and installations sit in closed networks
    return OpenAPIConfig(title="Dialer", version="0.1.0", render_plugins=[JsonRenderPlugin(path="/")],
                         openapi_router=Router(path="/api/schema", route_handlers=[],
                                               opt={"permission": auth.PUBLIC}))


def show_value(value) -> str:
    """A value of the audit log as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(show_value, value)) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    return str(value)


def templates() -> TemplateConfig:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["show"] = show_value
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def create_app(settings: Settings, db: Database, extra_routes: list | None = None) -> Litestar:
    hub = live.Hub(settings, db)
    workers = Workers(settings)  # imports of uploaded files: CPU-bound, never on this process's event loop

    async def start() -> None:
        from dialer.services import users
        await run(db, users.seed_roles)
        await hub.start()

    app = Litestar(
        route_handlers=[CampaignController, OperatorController,
                        Router(path="/api/operators", route_handlers=COMMAND_ROUTES),
                        AttemptController, health, web_health, monitoring_api, CrmController, push_orders, PANEL_API, SUPERVISOR_API, *DEVICE_API, REPORTS_API, *SELECTION_ROUTES, *LEAD_API_ROUTES,
                        *USER_API_ROUTES, *METRICS_ROUTES, *PAGES, *(extra_routes or []),
                        create_static_files_router(path="/static", directories=[HERE / "static"],
                                                   opt={"permission": auth.PUBLIC}, include_in_schema=False)],
        dependencies={"db": Provide(lambda: db, use_cache=True, sync_to_thread=False),
                      "workers": Provide(lambda: workers, use_cache=True, sync_to_thread=False)},
        middleware=[logs.request_ids, auth.PrincipalMiddleware(), logs.request_user],  # logs: dialer/logs.py
        guards=[auth.require_permission],
        exception_handlers=errors.HANDLERS,
        openapi_config=_openapi(),
        template_config=templates(),
        request_max_body_size=JSON_BODY_LIMIT,
        logging_config=None,  # the process (dialer run) owns logging; keep one log format
        on_startup=[start],
        on_shutdown=[hub.stop, workers.close],
        state=State({"api_token": settings.api_token, "db": db, "hub": hub, "settings": settings,
                     "workers": workers}),
    )
    app.state.served_paths = frozenset(route.path for route in app.routes)
    closed = auth.undeclared_routes(app)
    if closed:  # a route without a permission is a programming error: fail at start, not per request
        raise RuntimeError(f"routes without a declared permission: {closed}")
    return app
