"""«Мониторинг» (`monitoring.read`): the installation's own health on one page — the health check's parts
(Asterisk servers, AGI, jobs, CRM connections, the engine's write backlog and command queue), PostgreSQL and
the live events' lag. The panel is rendered here; the page's script fetches it again every REFRESH_S."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.response import Template

from dialer.services import monitoring as ms

from .. import i18n
from ..api.health import monitoring_data
from .common import page

REFRESH_S = 3


def ago(seconds) -> str:
    """A duration as a person reads it on this page: «4 с», «12 мин», «3 ч 5 мин»."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    unit_s, unit_m, unit_h = i18n.gettext("s"), i18n.gettext("min"), i18n.gettext("h")
    if s < 120:
        return f"{s} {unit_s}"
    if s < 7200:
        return f"{s // 60} {unit_m}"
    return f"{s // 3600} {unit_h} {s % 3600 // 60} {unit_m}"


def clock_of(zone: str):
    tz = ZoneInfo(zone) if zone else None

    def at(iso: str | None, now_iso: str | None = None) -> str:
        """A moment in the installation's time zone: the time, with the date when it is not today."""
        if not iso:
            return "—"
        t = datetime.fromisoformat(iso).astimezone(tz)
        now = datetime.fromisoformat(now_iso).astimezone(tz) if now_iso else None
        return t.strftime("%H:%M:%S") if now and t.date() == now.date() else t.strftime("%d.%m %H:%M")
    return at


def megabytes(n) -> str:
    return "—" if n is None else f"{n / 1024 / 1024:.0f} MB"


async def _context(request: Request) -> dict:
    data = await monitoring_data(request)
    zone = request.app.state.settings.time_zone
    snap = data["snapshot"]
    servers = snap.get("servers", [])
    rows = {(c["component"], c["name"]): c for c in snap.get("components", [])}
    engines = [{"name": s, "row": rows.get(("engine", s))} for s in servers]
    engines += [{"name": c["name"], "row": c, "unconfigured": True} for c in snap.get("components", [])
                if c["component"] == "engine" and c["name"] not in servers]
    codes = {r["code"] for r in data["reasons"]}
    return {"data": data, "snap": snap, "engines": engines, "codes": codes, "zone": zone,
            "agi": [c for c in snap.get("components", []) if c["component"] == "agi"],
            "ago": ago, "at": clock_of(zone), "mb": megabytes, "refresh_s": REFRESH_S}


@get("/monitoring", opt={"permission": ms.MONITORING}, include_in_schema=False)
async def monitoring_page(request: Request) -> Template:
    return page(request, "monitoring/index.html", **await _context(request))


@get("/monitoring/panel", opt={"permission": ms.MONITORING}, include_in_schema=False)
async def monitoring_panel(request: Request) -> Template:
    """The panel alone, for the page's refresh."""
    return page(request, "monitoring/panel.html", **await _context(request))


ROUTES = [monitoring_page, monitoring_panel]
