"""Phone numbers as people write them → E.164. Core: the lead import, the CRM sync, the do-not-call list
and manual dial all read numbers the same way."""
from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 of `raw` (read in `region` when it has no country code), or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
