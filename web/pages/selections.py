"""«Выборки» of a campaign (SPEC C1–C9): the selections in their priority order (drag or arrows), each with how
many leads it matches now; the editor (a condition builder over every field and the CRM attributes seen in the
campaign, limits, window, order, skill) with «Подходит сейчас: N» while the rule is edited; the version history.
(«Почему не звоним?» for the whole campaign is on its settings tab.) The page reads through the services; the editor saves through the JSON API
(`web/api/selections.py`), whose answers name every mistake by its place in the rule."""
from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath, FromQuery
from litestar.response import Response

from dialer.db import run
from dialer.services import selections_admin
from rules import idle, selections

from .common import page

READ = {"permission": "rules.read"}


def _overview(campaign_id: int, edit_id: int | None) -> dict:
    from dialer.validation import existing_campaign

    campaign = existing_campaign(campaign_id)
    items = selections.list_selections(campaign.id)
    counts = {s["id"]: s for s in idle.idle_reasons(campaign.id)["selections"]}
    for s in items:
        c = counts.get(s["id"], {})
        s["matches"], s["callable_now"] = c.get("matches"), c.get("callable_now")
    editing = next((s for s in items if s["id"] == edit_id), None)
    return {"campaign": {"id": campaign.id, "name": campaign.name, "active": campaign.active},
            "selections": items, "editing": editing,
            "versions": selections.versions(editing["id"]) if editing else [],
            "catalogue": selections_admin.editor_catalogue(campaign.id)}


@get("/campaigns/{campaign_id:int}/selections", opt=READ, include_in_schema=False)
async def selections_page(request: Request, campaign_id: FromPath[int], edit: FromQuery[int | None] = None,
                          new: FromQuery[int | None] = None) -> Response:
    data = await run(request.app.state.db, _overview, campaign_id, edit)
    return page(request, "campaigns/selections.html", tab="selections", new=bool(new), **data)


ROUTES = [selections_page]
