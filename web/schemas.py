"""Request bodies: types are checked by Litestar (400), ranges and text by the services (422)."""
from __future__ import annotations

import msgspec


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    max_attempts: int = 5
    retry_delay_s: int = 1800
    ring_timeout_s: int = 30
    caller_id: str = ""
    wrap_up_limit_s: int = 0
    auto_ready: bool = True
    # sql/013_campaign_settings.sql; left out: the default window (calling at any hour is {"any_hour": true})
    calling_window: dict | msgspec.UnsetType = msgspec.UNSET
    retry_delays: dict | msgspec.UnsetType = msgspec.UNSET
    exhausted_status: str | msgspec.UnsetType = msgspec.UNSET

    def values(self) -> dict:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}


class CampaignPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed (none of them can be null)."""
    name: str | None = None
    active: bool | None = None
    max_attempts: int | None = None
    retry_delay_s: int | None = None
    ring_timeout_s: int | None = None
    caller_id: str | None = None
    wrap_up_limit_s: int | None = None
    auto_ready: bool | None = None
    operator_answer_timeout_s: int | None = None
    missed_offers_limit: int | None = None
    order_url_template: str | None = None
    calling_window: dict | None = None
    retry_delays: dict | None = None
    exhausted_status: str | None = None
    # null clears these two (no campaign-wide limit); left out keeps them
    max_per_day: int | None | msgspec.UnsetType = msgspec.UNSET
    min_pause_minutes: int | None | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict:
        nullable = {"max_per_day", "min_pause_minutes"}
        return {k: v for k, v in msgspec.structs.asdict(self).items()
                if v is not msgspec.UNSET and (v is not None or k in nullable)}


class OperatorCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    login: str
    sip_password: str | None = None  # generated when absent; returned once in the answer
    campaign_ids: list[int] = []


class OperatorCampaigns(msgspec.Struct, forbid_unknown_fields=True):
    campaign_ids: list[int]


class WrapUp(msgspec.Struct, forbid_unknown_fields=True):
    result: str
    comment: str = ""
    postpone_minutes: int | None = None
    postpone_until: str | None = None  # ISO 8601; without an offset: the client's local time
    do_not_call: bool = False  # «Больше не звонить»


def strict(raw: bytes, schema: type[msgspec.Struct]):
    """Decode a JSON body strictly: Litestar's own decoding turns "5" into 5, we refuse it (400).

    Handlers still declare `data: JSONBody[...]` so the schema appears in the OpenAPI document.
    """
    from litestar.exceptions import ValidationException
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as e:
        raise ValidationException(f"invalid request body: {e}",
                                  extra=[{"key": "body", "message": str(e)}]) from None
    except msgspec.DecodeError as e:
        raise ValidationException(f"malformed JSON: {e}") from None


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    name: str
    password: str
    role_ids: list[int] = []
    operator_id: int | None = None
    language: str = "ru"


class CampaignResultIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    title: str
    closes_lead: bool = True
    crm_status: str | None | msgspec.UnsetType = msgspec.UNSET  # left out: the CRM mapping is kept

    def values(self) -> dict:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not msgspec.UNSET}
