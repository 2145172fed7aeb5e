"""The installation's day: where "today" of the screens, counters and health figures begins."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def day_start(now: datetime, zone: str | None = None) -> datetime:
    """Midnight of `now`'s day in the installation's time zone (`Settings.time_zone`, an IANA name; None: the
    server's own). A zone's midnight, not a fixed offset's, so a DST day is 23 or 25 hours long."""
    local = now.astimezone(ZoneInfo(zone)) if zone else now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
