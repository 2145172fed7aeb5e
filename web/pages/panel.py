"""The operator panel page (SPEC E1–E6): one page; its script reads /api/panel/* and follows live events.

A user who may use the panel but is linked to no operator (an administrator, say) gets a message and
no panel: no controls, no script, so nothing asks /api/panel for an operator that is not there."""
from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from .. import auth
from .common import page


@get("/panel", opt={"permission": "panel.use"}, include_in_schema=False)
async def panel_page(request: Request) -> Template:
    return page(request, "panel.html", no_operator=auth.principal_of(request).operator_id is None)


ROUTES = [panel_page]
