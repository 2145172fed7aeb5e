"""Pure parsing of CRM orders into lead fields, or a reason to reject them (no I/O here).

LeadVertex sends numbers as strings or numbers, empty dates as "0000-00-00 00:00:00" or null, and
phones as digits without "+" that may lack the country code: the order's country decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import phonenumbers

from ..phones import normalise_phone
from ..validation import has_control

MAX_EXTERNAL_ID = 100
MAX_TEXT = 200
MAX_ATTR_VALUE = 2000
COLUMNS = ("fio", "phone", "country", "region", "city", "status", "total", "price", "goods",
           "callmodeRecallAt")  # kept as columns; every other field stays in attrs


@dataclass(frozen=True)
class Order:
    external_id: str
    phone: str  # E.164
    name: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    amount: Decimal | None = None
    product: str = ""
    crm_status: str = ""
    recall_at: datetime | None = None  # the CRM's own "call back at"
    attrs: dict = field(default_factory=dict)


class Rejected(ValueError):
    """The order cannot become a lead; the message is the reason shown in the import log."""


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise Rejected(f"expected text, got {type(value).__name__}")


def e164(raw, country: str, default_country: str) -> str:
    digits = text(raw)
    if not digits:
        raise Rejected("phone is empty")
    if len(digits) > 40 or has_control(digits):
        raise Rejected(f"invalid phone number {digits[:40]!r}")
    region = country if country in phonenumbers.SUPPORTED_REGIONS else default_country
    candidates = [digits] if digits.startswith("+") else [digits, "+" + digits]
    for candidate in candidates:  # local form first: "3611234567" in HU is +36 1 123 4567
        phone = normalise_phone(candidate, region)
        if phone is not None:
            return phone
    raise Rejected(f"invalid phone number {digits!r} for country {region}")


def amount(value) -> Decimal | None:
    raw = text(value)
    if not raw:
        return None
    try:
        number = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise Rejected(f"total is not a number: {raw[:40]!r}") from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise Rejected(f"total out of range: {raw[:40]!r}")
    return number.quantize(Decimal("0.01"))


def crm_datetime(value) -> datetime | None:
    raw = text(value)
    if not raw or raw.startswith("0000-00-00"):
        return None
    try:
        parsed = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None  # a broken optional date is dropped, not a reason to lose the order
    return parsed.replace(tzinfo=timezone.utc)


def product(goods) -> str:
    if isinstance(goods, dict):
        names = [text(g.get("name")) for g in goods.values() if isinstance(g, dict)]
        return ", ".join(n for n in names if n)[:MAX_TEXT]
    return ""


def country_code(value) -> str:
    code = text(value).upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else ""


def _attrs(raw: dict) -> dict:
    attrs = {}
    for key, value in raw.items():
        if key in COLUMNS or value is None or isinstance(value, (dict, list)):
            continue
        value = text(value)
        if value and value != "0000-00-00 00:00:00":
            attrs[str(key)[:100]] = value[:MAX_ATTR_VALUE]
    return attrs


def parse_order(external_id, raw, default_country: str = "RU") -> Order:
    """One order of `getOrdersByIds` (or of an inbound push) → Order; raises Rejected with the reason."""
    ext = text(external_id)
    if not ext or len(ext) > MAX_EXTERNAL_ID or has_control(ext):
        raise Rejected("order id is empty, too long or has control characters")
    if not isinstance(raw, dict):
        raise Rejected("order is not an object")
    country = country_code(raw.get("country"))
    name = text(raw.get("fio", raw.get("name")))
    if len(name) > MAX_TEXT or has_control(name):
        raise Rejected(f"name longer than {MAX_TEXT} characters or has control characters")
    return Order(
        external_id=ext, phone=e164(raw.get("phone"), country, default_country), name=name, country=country,
        region=text(raw.get("region"))[:MAX_TEXT], city=text(raw.get("city"))[:MAX_TEXT],
        amount=amount(raw.get("total", raw.get("price"))), product=product(raw.get("goods")),
        crm_status=text(raw.get("status")), recall_at=crm_datetime(raw.get("callmodeRecallAt")),
        attrs=_attrs(raw))


def parse_batch(answer, default_country: str = "RU") -> tuple[list[Order], list[dict]]:
    """A `getOrdersByIds` answer → (orders, rejects); a duplicate id inside one answer counts once."""
    if not isinstance(answer, dict):
        raise Rejected("getOrdersByIds did not answer with an object")
    orders, rejects, seen = [], [], set()
    for ext, raw in answer.items():
        try:
            order = parse_order(ext, raw, default_country)
        except Rejected as e:
            rejects.append({"external_id": str(ext)[:MAX_EXTERNAL_ID], "reason": str(e)})
            continue
        if order.external_id not in seen:
            seen.add(order.external_id)
            orders.append(order)
    return orders, rejects


def unique_ids(ids) -> list[str]:
    """Ids from a `getOrdersIdsInStatus` answer, as strings, each once, in the order given."""
    if not isinstance(ids, list):
        raise Rejected("the id list is not a JSON array")
    out, seen = [], set()
    for value in ids:
        ext = text(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if ext and ext not in seen and len(ext) <= MAX_EXTERNAL_ID:
            seen.add(ext)
            out.append(ext)
    return out
