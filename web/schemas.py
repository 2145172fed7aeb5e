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

    def changes(self) -> dict:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


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
