"""CRM page figures through the real app with a signed-in administrator: render time of the settings,
mapping and log pages, and a CSV file import of N rows (1 % bad) through the preview and import forms.

    python -m bench.crm_pages [--rows 20000] [--renders 40]

Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from litestar.testing import TestClient  # noqa: E402

from dialer import db as dbm, migrate, pg, settings as settings_mod  # noqa: E402
from dialer.crm import connections, store  # noqa: E402
from dialer.crm.adapter import CrmStatus  # noqa: E402
from dialer.services import campaigns, users  # noqa: E402
from web import auth  # noqa: E402
from web.app import create_app  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1) if ordered else 0.0


def csv_rows(n: int, tag: str) -> bytes:
    lines = ["Номер заказа;Телефон;ФИО;Город;Сумма"]
    for i in range(1, n + 1):
        phone = "не номер" if i % 100 == 0 else f"+7912{i % 10_000_000:07d}"
        lines.append(f"{tag}-{i};{phone};Клиент {i};Москва;{1000 + i % 500}")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--renders", type=int, default=40)
    args = ap.parse_args()
    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    db = dbm.connect(settings)
    tag = f"b{int(time.time())}"
    with db.connection_context():
        users.seed_roles()
        admin_role = next(r["id"] for r in users.list_roles() if r["code"] == "admin")
        users.create_user(f"{tag}@bench.local", "Bench", "bench-password-1", [admin_role])
        session = users.sign_in(f"{tag}@bench.local", "bench-password-1")
        campaign = campaigns.create_campaign(f"Bench CRM pages {tag}")["id"]
        conn = connections.create_connection(db, {"kind": "generic", "campaign_id": campaign, "name": f"Bench {tag}"})
        store.save_statuses(db, conn["id"], [CrmStatus(str(i), f"Статус {i}", "processing") for i in range(1, 31)])
    cid = conn["id"]
    headers = {"Cookie": f"{auth.Cookies.SESSION}={session['token']}"}
    out: dict = {}
    with TestClient(create_app(settings, db)) as client:
        for name, path in (("settings", f"/crm/{cid}"), ("mapping", f"/crm/{cid}/mapping"), ("log", f"/crm/{cid}/log")):
            times = []
            for _ in range(args.renders):
                t = time.perf_counter()
                r = client.get(path, headers=headers)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            out[f"{name}_page_ms_p50"], out[f"{name}_page_ms_p95"] = pct(times, 50), pct(times, 95)
        data = csv_rows(args.rows, tag)
        t = time.perf_counter()
        r = client.post(f"/crm/{cid}/import/preview", headers=headers, data={"_csrf": session["csrf"]},
                        files={"file": ("orders.csv", data, "text/csv")})
        out["preview_s"] = round(time.perf_counter() - t, 2)
        assert r.status_code == 200, r.status_code
        upload_id = re.search(r'name="upload_id" value="([^"]+)"', r.text).group(1)
        form = {"_csrf": session["csrf"], "upload_id": upload_id, "col:0": "external_id", "col:1": "phone",
                "col:2": "name", "col:3": "city", "col:4": "amount"}
        t = time.perf_counter()
        r = client.post(f"/crm/{cid}/import", headers=headers, data=form)
        elapsed = time.perf_counter() - t
        assert r.status_code == 200, r.status_code
        imported = int(re.search(r'data-count="imported">(\d+)<', r.text).group(1))
        rejected = int(re.search(r'data-count="rejected">(\d+)<', r.text).group(1))
        out.update({"rows": args.rows, "import_s": round(elapsed, 2), "import_rows_per_s": round(args.rows / elapsed),
                    "imported": imported, "rejected": rejected, "report_kb": round(len(r.content) / 1024)})
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
