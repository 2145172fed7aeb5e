"""What every page shares: the template context (user, CSRF token, navigation, language) and form input.

A page of any part of the product is a handler that declares its permission and returns
`page(request, "x.html", **values)`; its template extends `base.html` (see docs/access.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from litestar import MediaType, Request
from litestar.exceptions import ClientException
from litestar.response import Template

from dialer.access import SIGNED_IN, allowed
from dialer.permissions import AREAS, CATALOGUE

from .. import auth, i18n
from ..i18n import N_

MAX_FORM_FIELD = 10_000


@dataclass(frozen=True)
class Section:
    """One item of the top navigation: shown when the user may open it and a page serves `href`."""
    key: str
    title: str          # English message id, translated in the catalogue
    href: str
    permissions: tuple[str, ...]  # any one of them opens the section
    needs_operator: bool = False  # the operator panel: shown only to a user linked to an operator


NAV: tuple[Section, ...] = (
    Section("panel", "Operator panel", "/panel", ("panel.use",), needs_operator=True),
    Section("supervisor", N_("Supervisor"), "/supervisor", ("supervisor.view",)),
    Section("campaigns", N_("Campaigns"), "/campaigns", ("campaigns.read",)),
    Section("crm", N_("CRM"), "/crm", ("crm.read",)),
    Section("search", N_("Search"), "/search", ("leads.read",)),
    Section("dnc", N_("Do-not-call list"), "/dnc", ("dnc.read",)),
    Section("reports", N_("Reports"), "/reports", ("reports.read",)),
    Section("monitoring", N_("Monitoring"), "/monitoring", ("monitoring.read",)),
    Section("operators", N_("Operators"), "/operators", ("operators.read",)),
    Section("telephony", N_("Telephony"), "/telephony", ("sip.read", "telephony.settings")),
    Section("access", N_("Access"), "/access", ("users.read", "roles.read", "audit.read")),
)


def nav_for(principal, served: frozenset[str]) -> list[dict]:
    return [{"key": s.key, "title": i18n.gettext(s.title), "href": s.href}
            for s in NAV if s.href in served and any(allowed(principal, p) for p in s.permissions)
            and (not s.needs_operator or principal.operator_id is not None)]


def context(request: Request, **values) -> dict:
    principal = auth.principal_of(request)
    served = getattr(request.app.state, "served_paths", frozenset())
    csrf = principal.session_csrf if principal and principal.session_csrf else request.cookies.get(auth.Cookies.CSRF, "")
    return {"user": principal, "csrf_token": csrf or "", "nav": nav_for(principal, served) if principal else [],
            "lang": i18n.language(), "pick": i18n.pick, "may": (lambda p: allowed(principal, p)),
            "path": request.url.path, "SIGNED_IN": SIGNED_IN,
            "live_from": request.scope.get("live_from", ""), **values}


def page(request: Request, template: str, status_code: int = 200, **values) -> Template:
    return Template(template_name=template, context=context(request, **values), status_code=status_code,
                    media_type=MediaType.HTML)


def permission_groups() -> list[dict]:
    """The catalogue grouped by area, titles in the user's language (roles page, user grants)."""
    groups = []
    for area, (ru, en) in AREAS.items():
        perms = [{"name": p.name, "title": i18n.pick(p.title_ru, p.title_en)} for p in CATALOGUE if p.area == area]
        groups.append({"area": area, "title": i18n.pick(ru, en), "permissions": perms})
    return groups


async def form_data(request: Request) -> dict[str, list[str]]:
    """Form fields as lists of strings; anything that is not a short string field is a 400."""
    form = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or len(value) > MAX_FORM_FIELD:
            raise ClientException(f"field {key!r} is not a short text field")
        out.setdefault(key, []).append(value)
    return out


def one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key)
    return values[0] if values else default


def ids(form: dict[str, list[str]], key: str) -> list:
    """Checkbox lists of ids: digits become ints, anything else is passed on (the service refuses it)."""
    return [int(v) if v.isdigit() and len(v) < 19 else v for v in form.get(key, [])]
