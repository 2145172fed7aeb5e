"""The demo's leads come from a fake LeadVertex: start it with sample orders and connect a campaign.

`dialer-dev demo` calls `setup(settings, db, campaign_id)`; the pull job then imports the orders and the
outbox writes every wrap-up back, so the demo shows the whole round trip.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from dialer.settings import REPO_ROOT
from dialer.crm import connections, store
from dialer.crm.adapter import CrmStatus
from .fake_leadvertex import sample_shops

NAME = "Демо: LeadVertex"
SHOP = "shop-a"
ACTIONS = {"1": "call", "2": "postpone", "3": "final", "4": "final", "5": "hold", "9": "final"}
RESULTS = {"accepted": "3", "confirmed": "3", "callback": "2", "refused": "4", "cancelled": "4"}


def start_fake(settings, orders: int, log_path=None) -> subprocess.Popen:
    """`dialer-dev fake-crm` as a child process with `orders` orders whose phones the simulated network knows."""
    log = open(log_path or settings.state_dir / "fake-crm.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.dev.cli", "fake-crm", "--port", str(settings.fake_crm_port),
                             "--orders", str(orders), "--demo-phones"], cwd=REPO_ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
    url = f"http://127.0.0.1:{settings.fake_crm_port}/_control"
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake CRM did not start; see {log.name}") from None
            time.sleep(0.1)


def connect(settings, db, campaign_id: int) -> dict:
    """The demo's connection (reused when it exists), its statuses mapped and results mapped."""
    row = db.execute_sql("SELECT id FROM crm_connection WHERE name = %s", (NAME,)).fetchone()
    if row:
        return store.connection(db, row[0])
    shop = sample_shops()[SHOP]
    conn = connections.create_connection(db, {
        "kind": "leadvertex", "campaign_id": campaign_id, "name": NAME, "pull_interval_s": 15,
        "base_url": f"http://127.0.0.1:{settings.fake_crm_port}/{SHOP}/api/admin", "token": shop.token})
    store.save_statuses(db, conn["id"], [CrmStatus(k, v["name"], v["group"]) for k, v in shop.statuses.items()])
    connections.set_status_map(db, conn["id"], [{"status_id": s, "action": a, "postpone_minutes": 30}
                                                for s, a in ACTIONS.items()])
    connections.set_result_map(db, conn["id"], [
        {"result_code": code, "status_id": sid, "comment_template": "{result_title}: {comment} ({operator})"}
        for code, sid in RESULTS.items()])
    return store.connection(db, conn["id"])


def setup(settings, db, campaign_id: int, orders: int = 300) -> tuple[subprocess.Popen, dict]:
    proc = start_fake(settings, orders)
    with db.connection_context():
        return proc, connect(settings, db, campaign_id)
