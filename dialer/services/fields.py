"""The field checks of `dialer.validation`, under the name the service modules import them by
(`from . import fields as f`). New code imports `dialer.validation` itself."""
from __future__ import annotations

from ..validation import (MAX_ID, MAX_LIMIT, boolean, campaign_not_found, choice, database, existing_campaign,
                          has_control, integer, invalid, is_id, iso, limit, optional_integer, text)

__all__ = ["MAX_ID", "MAX_LIMIT", "boolean", "campaign_not_found", "choice", "database", "existing_campaign",
           "has_control", "integer", "invalid", "is_id", "iso", "limit", "optional_integer", "text"]
