"""Campaigns and their leads."""
from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, RawBody
from peewee import Database

from dialer.db import run
from dialer.services import campaigns, leads
from dialer.workers import Workers

from .. import auth
from ..schemas import CampaignCreate, CampaignPatch, CampaignResultIn, strict

CSV_LIMIT = 20 * 1024 * 1024


class CampaignController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @post("/", opt={"permission": auth.CAMPAIGNS_CREATE})
    async def create_campaign(self, data: JSONBody[CampaignCreate], body: RawBody,
                              db: NamedDependency[Database]) -> dict[str, Any]:
        values = strict(body, CampaignCreate).values()
        return await run(db, campaigns.create_campaign, **values)

    @get("/", opt={"permission": auth.CAMPAIGNS_READ})
    async def list_campaigns(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, campaigns.list_campaigns)

    @get("/{campaign_id:int}", opt={"permission": auth.CAMPAIGNS_READ})
    async def get_campaign(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        return await run(db, campaigns.get_campaign, campaign_id)

    @patch("/{campaign_id:int}", opt={"permission": auth.CAMPAIGNS_UPDATE})
    async def update_campaign(self, campaign_id: FromPath[int], data: JSONBody[CampaignPatch], body: RawBody,
                              db: NamedDependency[Database]) -> dict[str, Any]:
        changes = strict(body, CampaignPatch).changes()
        return await run(db, campaigns.update_campaign, campaign_id, **changes)

    @get("/{campaign_id:int}/results", opt={"permission": auth.CAMPAIGNS_READ})
    async def list_results(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> list[dict[str, Any]]:
        return await run(db, campaigns.list_results, campaign_id)

    @put("/{campaign_id:int}/results", opt={"permission": auth.CAMPAIGNS_UPDATE})
    async def set_results(self, campaign_id: FromPath[int], data: JSONBody[list[CampaignResultIn]], body: RawBody,
                          db: NamedDependency[Database]) -> list[dict[str, Any]]:
        """Replace the wrap-up results: `[{"code": "confirmed", "title": "Подтверждён", "closes_lead": true}, …]`."""
        results = [r.values() for r in strict(body, list[CampaignResultIn])]
        return await run(db, campaigns.set_results, campaign_id, results)

    @get("/overview", opt={"permission": auth.CAMPAIGNS_READ})
    async def overview(self, request: Request, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        """Every campaign with its live counters: leads by state, today's outcomes, calls in progress, pool."""
        return await run(db, campaigns.overview, None, request.app.state.settings.time_zone)

    @get("/{campaign_id:int}/idle", opt={"permission": auth.CAMPAIGNS_READ})
    async def idle(self, campaign_id: FromPath[int], db: NamedDependency[Database]) -> dict[str, Any]:
        """«Почему не звоним?»: the reasons nothing is dialled, counted and in plain words."""
        return await run(db, campaigns.why_idle, campaign_id)

    @post("/{campaign_id:int}/leads", status_code=200, request_max_body_size=CSV_LIMIT,
          opt={"permission": auth.LEADS_IMPORT})
    async def import_leads(
        self, campaign_id: FromPath[int], body: RawBody, workers: NamedDependency[Workers],
        region: Annotated[str, QueryParameter(description="region of numbers without a country code")] = "RU",
    ) -> dict[str, Any]:
        """Import a CSV file (UTF-8, `;` or `,`, header row: external_id|order_id|id, phone, [name], ...).

        Bad lines are reported in the answer, still 200; good lines are imported in one transaction.
        """
        report = await workers.run_in_db(leads.import_csv, campaign_id, body, region)  # CPU-bound: a worker process
        return report.as_dict()

    @get("/{campaign_id:int}/leads", opt={"permission": auth.LEADS_READ})
    async def list_leads(
        self, campaign_id: FromPath[int], db: NamedDependency[Database],
        lead_state: Annotated[str | None, QueryParameter(name="state")] = None,  # `state` is reserved
        limit: FromQuery[int] = 100, before_id: FromQuery[int | None] = None,
    ) -> list[dict[str, Any]]:
        return await run(db, leads.list_leads, campaign_id, lead_state, limit, before_id)
