"""The operator panel page (SPEC E1–E6): one page; its script reads /api/panel/* and follows live events."""
from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from .common import page


@get("/panel", opt={"permission": "panel.use"}, include_in_schema=False)
async def panel_page(request: Request) -> Template:
    return page(request, "panel.html")


ROUTES = [panel_page]
