"""What Asterisk's qualify finds about each registration (SPEC A4, F1, F3): reachable or not, and the round-trip.

Asterisk writes registrations to PostgreSQL itself (`ps_contacts`, sql/012_devices.sql), but what its OPTIONS
checks find only comes out as ARI `ContactStatusChange` events — published when a contact's state changes (first
reachable, unreachable, back), with the round-trip time measured by that check. This watcher holds one event
websocket per Asterisk server under an ARI app of its own, subscribed to every PJSIP endpoint, and writes each
change onto the contact's row; the row's trigger makes it a live event and, for a device found unreachable while
its operator is Ready or in a call, the supervisor's alert. Runs in the engine's process (dialer/run.py).
"""
from __future__ import annotations

import asyncio
import logging

from dialer import db as dbm
from dialer.settings import Settings

from .client import AriClient, AriError

log = logging.getLogger(__name__)
APP_SUFFIX = "-contacts"
EVENTS = ("ContactStatusChange",)
WRITE_RETRIES_S = (1, 2, 4, 8, 15, 30)
STATUSES = ("Reachable", "Unreachable", "Unknown", "NonQualified", "Created", "Removed", "Updated")


def contact_change(msg: dict) -> tuple[str, str, str, int | None] | None:
    """(aor, uri, status, rtt in µs) of a ContactStatusChange worth writing; None for anything else. `Removed`
    and `Created` are not written: the registration row itself comes and goes (Asterisk deletes and inserts it)."""
    if msg.get("type") != "ContactStatusChange":
        return None
    info = msg.get("contact_info") or {}
    aor, uri, status = info.get("aor"), info.get("uri"), info.get("contact_status")
    if not isinstance(aor, str) or not isinstance(uri, str) or status not in STATUSES or status in ("Removed", "Created"):
        return None
    rtt = info.get("roundtrip_usec")
    try:
        rtt_us = int(rtt) if rtt not in (None, "") and status == "Reachable" else None
    except (TypeError, ValueError):
        rtt_us = None
    return aor, uri, status, rtt_us


# A round-trip is written when it moved by at least this much (and by a quarter of itself): Asterisk reports every
# qualify (each contact every 15 s) with its round-trip, which jitters by fractions of a millisecond; writing each
# made a live event for every page showing registrations — 100 phones, ~7 a second, a sixth of everything the
# supervisor's screen received — for a figure shown to 0.1 ms. A change of state is always written.
RTT_NOTABLE_US = 5000

# the URI as res_config_pgsql stored it: ';' written as ^3B
_WRITE = f"""
UPDATE ps_contacts SET qualify_status = %(status)s, rtt_us = %(rtt)s, status_at = clock_timestamp()
 WHERE device_login = %(aor)s AND uri = replace(%(uri)s, ';', '^3B')
   AND (qualify_status IS DISTINCT FROM %(status)s
        OR (rtt_us IS NULL) <> (%(rtt)s::bigint IS NULL)
        OR abs(rtt_us - %(rtt)s::bigint) >= greatest({RTT_NOTABLE_US}, rtt_us / 4))"""


def write_change(db, aor: str, uri: str, status: str, rtt_us: int | None) -> int:
    """Note a qualify result on the contact's row (1) unless nothing notable changed (0): see RTT_NOTABLE_US."""
    return db.execute_sql(_WRITE, {"status": status, "rtt": rtt_us, "aor": aor, "uri": uri}).rowcount


class _Client(AriClient):
    """The engine's ARI client with this app's own event filter and subscription."""

    async def _filter_events(self) -> None:
        try:
            await self.request("PUT", f"/applications/{self.app}/eventFilter",
                               body={"allowed": [{"type": t} for t in EVENTS]})
            await self.request("POST", f"/applications/{self.app}/subscription", {"eventSource": "endpoint:PJSIP"})
        except AriError as e:
            log.warning("ARI %s: contact events not subscribed (%s)", self.name, e)


class ContactWatcher:
    def __init__(self, settings: Settings, db):
        self.db = db
        self.clients = [_Client(s, settings.app_name + APP_SUFFIX) for s in settings.asterisk_servers]
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        for client in self.clients:
            self.tasks.append(asyncio.create_task(client.run_events(self.on_event, _nothing),
                                                  name=f"ari-contacts-{client.name}"))

    def on_event(self, msg: dict) -> None:
        change = contact_change(msg)
        if change is None:
            log.debug("ignored %s: not a contact state to record", msg.get("type"))
            return
        task = asyncio.get_running_loop().create_task(self._write(change))
        self.tasks.append(task)
        task.add_done_callback(self.tasks.remove)

    async def _write(self, change) -> None:
        """Retried while the database is away (a restart takes seconds); a state older than a minute is dropped,
        since the next change of the contact writes its state anew."""
        aor, uri, status, rtt_us = change
        for delay in WRITE_RETRIES_S:
            try:
                written = await dbm.run(self.db, write_change, self.db, *change)
                break
            except Exception as e:
                log.warning("contact %s/%s %s not recorded yet (%s); again in %.0f s", aor, uri, status, e, delay)
                await asyncio.sleep(delay)
        else:
            log.error("contact %s/%s %s not recorded: the database did not answer for a minute", aor, uri, status)
            return
        if written:
            log.info("contact %s/%s is %s (rtt %s µs)", aor, uri, status, rtt_us)
        else:  # the same state, a round-trip within the jitter, or no registration row to note it on
            log.debug("contact %s/%s is %s (rtt %s µs): nothing notable", aor, uri, status, rtt_us)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients:
            await client.close()


async def _nothing() -> None:
    """Nothing to reconcile on a (re)connect: the next state change is written as it comes."""
