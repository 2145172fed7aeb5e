"""The «Кампании» section (SPEC B4, B6, C4, C5, C8, D5): the list with live counters, a new campaign, a campaign's
settings (timeouts, limits, retry delay per outcome, the default calling window, caller ID, order link, final CRM
status) with «Почему не звоним?», and its wrap-up results. The services check and audit; these handlers turn
form fields into their input and their errors into messages beside the fields."""
from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from dialer.db import run
from dialer.errors import DomainError
from dialer.outcomes import ORDER
from dialer.services import campaigns

from .. import i18n, live
from .common import form_data, one, page
from .operators import errors_of

READ, CREATE, UPDATE = ({"permission": p} for p in ("campaigns.read", "campaigns.create", "campaigns.update"))
RETRY_OUTCOMES = [o for o in ORDER if o.value in campaigns.RETRY_OUTCOMES]
INT_FIELDS = ("max_attempts", "retry_delay_s", "ring_timeout_s", "wrap_up_limit_s", "operator_answer_timeout_s",
              "missed_offers_limit")
RESULT_ROWS = 3  # empty rows offered for new results


def _db(request: Request):
    return request.app.state.db


def _int(value: str, empty=None):
    """Digits become an int; an empty field is `empty`; anything else goes on as written (the service names it)."""
    value = value.strip()
    if not value:
        return empty
    return int(value) if value.lstrip("-").isdigit() and len(value) < 19 else value


def _outcomes() -> list[dict]:
    return [{"code": o.value, "label": i18n.pick(o.label_ru, o.label_en), "colour": o.colour} for o in ORDER]


def settings_of(form: dict[str, list[str]]) -> dict:
    """The settings form as the service's input (types as typed: the service checks every one)."""
    values = {"name": one(form, "name").strip(), "caller_id": one(form, "caller_id").strip(),
              "order_url_template": one(form, "order_url_template").strip(),
              "exhausted_status": one(form, "exhausted_status").strip(),
              "active": one(form, "active") == "on", "auto_ready": one(form, "auto_ready") == "on",
              "max_per_day": _int(one(form, "max_per_day")), "min_pause_minutes": _int(one(form, "min_pause_minutes"))}
    values.update({k: _int(one(form, k), "") for k in INT_FIELDS})
    values["retry_delays"] = {o.value: _int(one(form, f"retry_{o.value}")) for o in RETRY_OUTCOMES}
    if one(form, "any_hour") == "on":
        values["calling_window"] = {"any_hour": True}
    else:
        weekend = None if one(form, "weekend_closed") == "on" else {
            "from": one(form, "weekend_from"), "to": one(form, "weekend_to")}
        values["calling_window"] = {"from": one(form, "window_from"), "to": one(form, "window_to"),
                                    "weekend": weekend, "weekend_days": [_int(d) for d in form.get("weekend_days", [])]}
    return values


# ---- the list ------------------------------------------------------------------------------------------------
def _list_state(db, zone: str | None) -> tuple[dict, str]:
    """The list and the live-event cursor from one snapshot: a change is either in what the page shows or an event
    after its cursor, never both (the page adds each event's facts to its counters) and never neither."""
    with db.atomic(isolation_level="REPEATABLE READ READ ONLY"):
        return campaigns.list_state(None, zone), live.head(db).wire()


def _bars(rows: list[dict], outcomes: list[dict]) -> list[dict]:
    """Each row's outcome bar as plain tuples (SPEC A2 order), so the template only writes them out."""
    for c in rows:
        today = c["today"]
        c["segments"] = [(o["code"], o["colour"], o["label"], today.get(o["code"], 0)) for o in outcomes]
        c["bar_label"] = ", ".join(f"{label} {n}" for _, _, label, n in c["segments"])
    return rows


@get("/campaigns", opt=READ, include_in_schema=False)
async def list_page(request: Request) -> Response:
    db = _db(request)
    state, live_from = await run(db, _list_state, db, request.app.state.settings.time_zone)
    outcomes = _outcomes()
    return page(request, "campaigns/list.html", campaigns=_bars(state["campaigns"], outcomes), outcomes=outcomes,
                live_from=live_from, live_state={k: v for k, v in state.items() if k != "campaigns"}
                | {"campaigns": {c["id"]: {k: c[k] for k in ("active", "leads", "today", "live_attempts")}
                                 for c in state["campaigns"]}})


# ---- a new campaign ------------------------------------------------------------------------------------------
def _defaults() -> dict:
    from rules.window import DEFAULT
    return {"name": "", "active": True, "max_attempts": 5, "retry_delay_s": 1800, "ring_timeout_s": 30,
            "caller_id": "", "wrap_up_limit_s": 0, "auto_ready": True, "operator_answer_timeout_s": 15,
            "missed_offers_limit": 3, "order_url_template": "", "calling_window": DEFAULT, "max_per_day": None,
            "min_pause_minutes": None, "retry_delays": {}, "exhausted_status": ""}


@get("/campaigns/new", opt=CREATE, include_in_schema=False)
async def new_page(request: Request) -> Response:
    return page(request, "campaigns/new.html", c=_defaults(), errors={}, retry_outcomes=_outcomes_for_retry())


def _outcomes_for_retry() -> list[dict]:
    return [{"code": o.value, "label": i18n.pick(o.label_ru, o.label_en), "colour": o.colour} for o in RETRY_OUTCOMES]


@post("/campaigns", opt=CREATE, include_in_schema=False)
async def create_campaign(request: Request) -> Response:
    values = settings_of(await form_data(request))
    name = values.pop("name")
    try:
        created = await run(_db(request), campaigns.create_campaign, name, **values)
    except DomainError as e:
        return page(request, "campaigns/new.html", status_code=e.status, c={**_defaults(), **values, "name": name},
                    errors=errors_of(e), retry_outcomes=_outcomes_for_retry())
    return Redirect(f"/campaigns/{created['id']}?saved=created", status_code=303)


# ---- one campaign's settings ---------------------------------------------------------------------------------
async def _settings_page(request: Request, campaign_id: int, status: int = 200, errors: dict | None = None,
                         draft: dict | None = None) -> Response:
    db = _db(request)
    c = await run(db, campaigns.get_campaign, campaign_id)
    why = await run(db, campaigns.why_idle, campaign_id)
    statuses = await run(db, campaigns.crm_statuses, campaign_id)
    return page(request, "campaigns/settings.html", status_code=status, c={**c, **(draft or {})}, campaign=c,
                errors=errors or {}, why=why, crm_statuses=statuses, retry_outcomes=_outcomes_for_retry(),
                saved=request.query_params.get("saved", ""), tab="settings")


@get("/campaigns/{campaign_id:int}", opt=READ, include_in_schema=False)
async def settings_page(request: Request, campaign_id: FromPath[int]) -> Response:
    return await _settings_page(request, campaign_id)


@post("/campaigns/{campaign_id:int}", opt=UPDATE, include_in_schema=False)
async def save_settings(request: Request, campaign_id: FromPath[int]) -> Response:
    values = settings_of(await form_data(request))
    try:
        await run(_db(request), campaigns.update_campaign, campaign_id, **values)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _settings_page(request, campaign_id, e.status, errors_of(e), values)
    return Redirect(f"/campaigns/{campaign_id}?saved=1", status_code=303)


# ---- wrap-up results -----------------------------------------------------------------------------------------
def results_of(form: dict[str, list[str]]) -> list[dict]:
    """Rows of the results editor in the order shown (the order field sorts them; an empty code drops a row)."""
    codes, titles = form.get("code", []), form.get("title", [])
    positions, statuses = form.get("position", []), form.get("crm_status", [])
    closes = set(form.get("closes_lead", []))  # the codes ticked
    rows = []
    for i, code in enumerate(codes):
        code = code.strip()
        if not code:
            continue
        pos = _int(positions[i] if i < len(positions) else "", 0)
        rows.append((pos if isinstance(pos, int) else 0, i, {
            "code": code, "title": (titles[i] if i < len(titles) else "").strip(), "closes_lead": code in closes,
            "crm_status": (statuses[i] if i < len(statuses) else "") or None}))
    return [r for _, _, r in sorted(rows, key=lambda x: (x[0], x[1]))]


async def _results_page(request: Request, campaign_id: int, status: int = 200, errors: dict | None = None,
                        draft: list | None = None) -> Response:
    db = _db(request)
    c = await run(db, campaigns.get_campaign, campaign_id)
    results = draft if draft is not None else await run(db, campaigns.list_results, campaign_id)
    statuses = await run(db, campaigns.crm_statuses, campaign_id)
    return page(request, "campaigns/results.html", status_code=status, campaign=c, results=results,
                crm_statuses=statuses, errors=errors or {}, extra_rows=RESULT_ROWS,
                saved=request.query_params.get("saved", ""), tab="results")


@get("/campaigns/{campaign_id:int}/results", opt=READ, include_in_schema=False)
async def results_page(request: Request, campaign_id: FromPath[int]) -> Response:
    return await _results_page(request, campaign_id)


@post("/campaigns/{campaign_id:int}/results", opt=UPDATE, include_in_schema=False)
async def save_results(request: Request, campaign_id: FromPath[int]) -> Response:
    results = results_of(await form_data(request))
    try:
        await run(_db(request), campaigns.set_results, campaign_id, results)
    except DomainError as e:
        if e.status == 404:
            raise
        return await _results_page(request, campaign_id, e.status, errors_of(e), results)
    return Redirect(f"/campaigns/{campaign_id}/results?saved=1", status_code=303)


ROUTES = [list_page, new_page, create_campaign, settings_page, save_settings, results_page, save_results]
