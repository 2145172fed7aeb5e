"""A 20 MB spreadsheet being read does not stop the web app (issue 12, defect 7): `dialer run` is one process,
and its event loop also carries the ARI events and every other request. While the import's file is being
read (in a worker process, `dialer.workers`), the health check keeps answering within 100 ms (95 % of the
polls; none waits for the file)."""
from __future__ import annotations

import gc
import os
import threading
import time

import pytest

from dialer.services import campaigns
from tests import xlsx_files as x

HEALTH_LIMIT_S = 0.1
CELL = 2000  # characters: a few thousand big rows make 20 MB that openpyxl reads in a second or two


def big_xlsx(size: int = 20 * 1024 * 1024 - 200_000) -> tuple[bytes, int]:
    """An XLSX of about `size` bytes (its sheet stored, not compressed) and its number of data rows."""
    noise = os.urandom(CELL).hex()
    rows, total, n = [], 0, 1
    while total < size:
        n += 1
        row = x.row(n, [str(n), f"+7916{n:07d}", noise[n % 97:][:CELL], "Москва", noise[n % 89:][:CELL]])
        rows.append(row)
        total += len(row)
    header = ["external_id", "phone", "name", "city", "comment"]
    return x.patched(x.workbook([header]), dimension=f"A1:E{n}", extra_rows=rows, stored=True), n - 1


@pytest.fixture
def connection(client, db) -> int:
    campaign = campaigns.create_campaign("Большой файл")["id"]
    r = client.post("/api/crm/connections", json={"kind": "generic", "campaign_id": campaign, "name": "Файлы"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_health_answers_within_100_ms_while_a_20_mb_file_is_read(client, connection):
    data, rows = big_xlsx()
    assert 19 * 1024 * 1024 < len(data) <= 20 * 1024 * 1024
    served = client.app.state.served_paths
    health = "/api/health/web" if "/api/health/web" in served else "/api/health"  # the web process's own check
    assert client.get(health).status_code == 200  # the app is up before the clock starts
    answer = {}

    def upload():
        answer["sent"] = time.monotonic()
        answer["preview"] = client.post(f"/api/crm/connections/{connection}/file/preview",
                                        params={"filename": "orders.xlsx"}, content=data)
        answer["answered"] = time.monotonic()

    importer = threading.Thread(target=upload)
    # this test process holds every test module, hypothesis and pytest: a full collection of its heap took
    # 100-350 ms at random moments. Frozen, the collector looks only at what is made from here on.
    gc.collect()
    gc.freeze()
    try:
        importer.start()
        polls = []  # (sent, answered, status)
        while importer.is_alive():
            sent = time.monotonic()
            status = client.get(health).status_code
            polls.append((sent, time.monotonic(), status))
        importer.join()
    finally:
        gc.unfreeze()

    assert all(code == 200 for *_, code in polls)
    took = answer["answered"] - answer["sent"]
    during = sorted(a - s for s, a, _ in polls if s >= answer["sent"] and a <= answer["answered"])
    assert len(during) >= 10, f"only {len(during)} answers during the {took:.2f} s the import took"
    # on a shared two-core machine a poll now and then waits for a CPU (measured up to 335 ms at a load of 8),
    # whatever the import does; a blocked event loop makes every poll wait for the whole file instead
    p95 = during[int(len(during) * 0.95)]
    assert p95 < HEALTH_LIMIT_S, f"{health}: 95th percentile {p95 * 1000:.0f} ms during the import"
    assert during[-1] < 1, f"{health}: {during[-1]:.2f} s during the {took:.2f} s import"
    assert answer["preview"].status_code == 200, answer["preview"].text[:500]
    assert answer["preview"].json()["rows"] == rows
