"""Campaigns and their leads."""
from __future__ import annotations

from typing import Annotated, Any

import msgspec

from litestar import Controller, get, patch, post
from litestar.params import Body, Parameter
from peewee import Database

from dialer.db import run
from dialer.services import campaigns, leads

from .. import auth
from ..schemas import CampaignCreate, CampaignPatch

CSV_LIMIT = 20 * 1024 * 1024


class CampaignController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @post("/", opt={"permission": auth.CAMPAIGNS_CREATE})
    async def create_campaign(self, data: CampaignCreate, db: Database) -> dict[str, Any]:
        return await run(db, campaigns.create_campaign, **msgspec.structs.asdict(data))

    @get("/", opt={"permission": auth.CAMPAIGNS_READ})
    async def list_campaigns(self, db: Database) -> list[dict[str, Any]]:
        return await run(db, campaigns.list_campaigns)

    @get("/{campaign_id:int}", opt={"permission": auth.CAMPAIGNS_READ})
    async def get_campaign(self, campaign_id: int, db: Database) -> dict[str, Any]:
        return await run(db, campaigns.get_campaign, campaign_id)

    @patch("/{campaign_id:int}", opt={"permission": auth.CAMPAIGNS_UPDATE})
    async def update_campaign(self, campaign_id: int, data: CampaignPatch, db: Database) -> dict[str, Any]:
        return await run(db, campaigns.update_campaign, campaign_id, **data.changes())

    @post("/{campaign_id:int}/leads", status_code=200, request_max_body_size=CSV_LIMIT,
          opt={"permission": auth.LEADS_IMPORT})
    async def import_leads(
        self, campaign_id: int, db: Database,
        data: Annotated[bytes, Body(media_type="text/csv", description="CSV with a header row")],
        region: Annotated[str, Parameter(description="region of numbers without a country code")] = "RU",
    ) -> dict[str, Any]:
        """Import a CSV file; bad lines are reported in the answer (still 200), good ones imported."""
        report = await run(db, leads.import_csv, campaign_id, data, region)
        return report.as_dict()

    @get("/{campaign_id:int}/leads", opt={"permission": auth.LEADS_READ})
    async def list_leads(
        self, campaign_id: int, db: Database,
        lead_state: Annotated[str | None, Parameter(query="state")] = None,  # `state` is reserved by Litestar
        limit: int = 100, before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        return await run(db, leads.list_leads, campaign_id, lead_state, limit, before_id)
