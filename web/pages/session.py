"""Sign-in, sign-out, the language switch and the home page."""
from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Response

from dialer.access import SIGNED_IN, SESSION_MAX
from dialer.db import run
from dialer.errors import DomainError
from dialer.permissions import PUBLIC
from dialer.services import operators, users

from .. import auth, i18n
from .common import NAV, form_data, one, page

PUBLIC_OPT = {"permission": PUBLIC}


def _safe_next(value: str) -> str:
    """Only a path on this site: never an open redirect."""
    parts = urlsplit(value or "/")
    if parts.scheme or parts.netloc or not (value or "/").startswith("/") or value.startswith("//"):
        return "/"
    return value or "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _csrf_cookie(request: Request) -> tuple[str, list[Cookie]]:
    value = request.cookies.get(auth.Cookies.CSRF)
    if value:
        return value, []
    value = auth.new_csrf_cookie_value()
    return value, [Cookie(key=auth.Cookies.CSRF, value=value, httponly=True, samesite="strict", path="/",
                          secure=_secure(request))]


@get("/login", opt=PUBLIC_OPT, include_in_schema=False)
async def login_form(request: Request, next: str = "/") -> Response:
    if auth.principal_of(request) is not None:
        return Redirect(_safe_next(next))
    token, cookies = _csrf_cookie(request)
    response = page(request, "login.html", next=_safe_next(next), csrf_token=token, error="", email="")
    response.cookies.extend(cookies)
    return response


@post("/login", opt=PUBLIC_OPT, include_in_schema=False)
async def login(request: Request) -> Response:
    form = await form_data(request)
    email, nxt = one(form, "email"), _safe_next(one(form, "next", "/"))
    db = request.app.state.db
    try:
        result = await run(db, users.sign_in, email, one(form, "password"), auth.client_ip(request.scope),
                           request.headers.get("user-agent", ""))
    except DomainError as e:
        return page(request, "login.html", status_code=e.status, next=nxt, error=i18n.error_text(e.as_dict()),
                    email=email[:254], csrf_token=request.cookies.get(auth.Cookies.CSRF, ""))
    response = Redirect(nxt)
    response.cookies.append(Cookie(key=auth.Cookies.SESSION, value=result["token"], httponly=True, samesite="lax",
                                   path="/", secure=_secure(request), max_age=int(SESSION_MAX.total_seconds())))
    return response


@post("/logout", opt=PUBLIC_OPT, include_in_schema=False)
async def logout(request: Request) -> Response:
    token = request.cookies.get(auth.Cookies.SESSION)
    if token:
        await run(request.app.state.db, users.sign_out, token)
    response = Redirect("/login")
    response.delete_cookie(auth.Cookies.SESSION, path="/")
    return response


@get("/lang/{code:str}", opt=PUBLIC_OPT, include_in_schema=False)
async def switch_language(request: Request, code: str) -> Response:
    back = _safe_next(request.headers.get("referer", "/").split(request.url.netloc, 1)[-1]
                      if request.url.netloc in request.headers.get("referer", "") else "/")
    response = Redirect(back)
    if code in i18n.LANGUAGES:
        response.set_cookie(auth.Cookies.LANG, code, path="/", samesite="lax", max_age=365 * 86400)
    return response


@get("/", opt={"permission": SIGNED_IN}, include_in_schema=False)
async def home(request: Request) -> Response:
    """The Dialer home: the operators' state now, live; an operator alone sees their own line."""
    principal = auth.principal_of(request)
    served = request.app.state.served_paths
    if principal.may("panel.use") and "/panel" in served and not principal.may("operators.read"):
        return Redirect("/panel")
    rows = []
    if principal.may("operators.read") or principal.operator_id:
        everyone = await run(request.app.state.db, operators.list_operators)
        rows = [o for o in everyone if principal.may("operators.read") or o["id"] == principal.operator_id]
    sections = [s for s in NAV if s.href in served]
    return page(request, "home.html", operators=rows, sections=sections)


@get("/access", opt={"permission": SIGNED_IN}, include_in_schema=False)
async def access_home(request: Request) -> Response:
    principal = auth.principal_of(request)
    for permission, href in (("users.read", "/access/users"), ("roles.read", "/access/roles"),
                             ("audit.read", "/access/audit")):
        if principal.may(permission):
            return Redirect(href)
    raise_forbidden()


def raise_forbidden():
    from litestar.exceptions import PermissionDeniedException
    raise PermissionDeniedException("no access page is open to this user")


ROUTES = [login_form, login, logout, switch_language, home, access_home]
