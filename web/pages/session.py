"""Sign-in, sign-out, the language switch and the home page."""
from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
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
async def login_form(request: Request, next: FromQuery[str] = "/") -> Response:
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
async def switch_language(request: Request, code: FromPath[str]) -> Response:
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.url.netloc
    back = _safe_next(referer.path + (f"?{referer.query}" if referer.query else "")) if same_site else "/"
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
    return Redirect("/")  # none is open to this user: the navigation does not show the section either


@get("/me", opt={"permission": SIGNED_IN}, include_in_schema=False)
async def my_profile(request: Request) -> Response:
    return page(request, "me.html", error="", saved=request.query_params.get("saved") == "1",
                groups=_my_permissions(request))


def _my_permissions(request: Request) -> list[dict]:
    from .common import permission_groups
    mine = auth.principal_of(request).permissions
    groups = [{**g, "permissions": [p for p in g["permissions"] if p["name"] in mine]} for g in permission_groups()]
    return [g for g in groups if g["permissions"]]


@post("/me/password", opt={"permission": SIGNED_IN}, include_in_schema=False)
async def change_password(request: Request) -> Response:
    principal = auth.principal_of(request)
    if principal.user_id is None:  # the API token has no password of its own
        return page(request, "me.html", status_code=409, error=i18n.pick("У API-токена нет пароля",
                                                                         "The API token has no password"),
                    saved=False, groups=_my_permissions(request))
    form = await form_data(request)
    if one(form, "new_password") != one(form, "repeat_password"):
        return page(request, "me.html", status_code=422, saved=False, groups=_my_permissions(request),
                    error=i18n.pick("Новый пароль и повтор не совпадают", "The new password and its repeat differ"))
    try:
        await run(request.app.state.db, users.change_own_password, principal.user_id,  # other sessions end
                  one(form, "current_password"), one(form, "new_password"), request.cookies.get(auth.Cookies.SESSION))
    except DomainError as e:
        return page(request, "me.html", status_code=e.status, error=i18n.error_text(e.as_dict()), saved=False,
                    groups=_my_permissions(request))
    return Redirect("/me?saved=1")


ROUTES = [login_form, login, logout, switch_language, home, access_home, my_profile, change_password]
