"""The machine's floor under every claim: one round trip to PostgreSQL, busy and after an idle pause.

    python -m bench.roundtrip [--count 1000]

`SELECT 1` on one connection of the benchmark cluster (the one `bench.claim` uses), psycopg2 over loopback TCP
as the dialer connects, back to back and then with a pause before each: on a machine whose cores sleep between
claims, each of a claim's round trips pays for waking the server process and then the client. A claim is two
round trips and its own work on the server, so its median cannot be under twice this floor.
Last line: one JSON object (milliseconds).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import psycopg2  # noqa: E402

from dialer import pg, settings as settings_mod  # noqa: E402

from .stats import pct  # noqa: E402

PAUSES_MS = (0, 1, 20, 200)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="round trips per pause")
    args = ap.parse_args(argv)
    s = settings_mod.load()
    pg.start_until_exit(s)
    conn = psycopg2.connect(dbname=s.db_name, host=s.db_host, port=s.db_port, user=s.db_user,
                            password=s.db_password)
    conn.autocommit = True
    cur = conn.cursor()
    result: dict = {}
    for pause in PAUSES_MS:
        count = args.count if pause < 100 else max(20, args.count // 10)
        times = []
        for _ in range(count):
            if pause:
                time.sleep(pause / 1000)
            t0 = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchone()
            times.append((time.perf_counter() - t0) * 1000)
        result[f"after_{pause}ms_p50"] = pct(times, 50)
        result[f"after_{pause}ms_p99"] = pct(times, 99)
    conn.close()
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
