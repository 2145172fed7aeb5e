"""Large exports stream: the memory an export of the call list takes (tracemalloc's peak, every thread) does not grow
with the number of rows — 15× the rows, about the same peak — and the file holds every row."""
from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import date

import pytest

from dialer.models import Campaign, Lead, Operator
from dialer.services import report_calls, reports, reports_export

# openpyxl allocates a great deal per cell, which tracemalloc makes ~25× slower to run: XLSX is measured on fewer rows
SIZES = {"csv": (2_000, 30_000), "xlsx": (300, 3_000)}
LARGE = max(n for _, n in SIZES.values())


@pytest.fixture
def calls(db):
    c = Campaign.create(name="Большая выгрузка")
    o = Operator.create(name="Оператор", login="big", sip_password="secret-123")
    lead = Lead.create(campaign=c.id, external_id="B-1", phone="+79000000001", name="=HYPERLINK(\"x\")")
    db.execute_sql(
        "INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, reserved_at, answered_at, ended_at, outcome,"
        " wrap_up_at, wrap_up_result)"
        " SELECT %s, %s, %s, '+79000000001', t - interval '2 min', t - interval '1 min', t, 'ANSWERED',"
        "        t + interval '20 s', 'confirmed'"
        "   FROM generate_series(1, %s) i, LATERAL (SELECT timestamptz '2026-10-01 09:00+03' + i * interval '1 s') g(t)",
        (lead.id, c.id, o.id, LARGE))
    return c.id


def _flt(campaign_id, _=None):
    # the rows end one a second from 09:00:01 (Moscow): one day holds them all; a smaller export is a LIMIT
    return reports.Filter(date(2026, 10, 1), date(2026, 10, 1), "Europe/Moscow", campaigns=(campaign_id,))


def _peak(kind: str, flt, limit, keep=False):
    cols = reports_export.TABLES["calls"][2]
    tracemalloc.start()
    try:
        size = 0
        sections = lambda: [("", cols, (reports_export.call_row(r, "ru") for r in report_calls.stream(flt, "ended", limit)))]  # noqa: E731
        body = io.BytesIO() if kind == "csv" else None
        for chunk in reports_export.export(kind, sections, "ru"):
            size += len(chunk)
            if body is not None and keep:
                body.write(chunk)
        return tracemalloc.get_traced_memory()[1], size, body
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_large_export_streams_in_bounded_memory(db, calls, kind, monkeypatch):
    # the cursor's batch is the one thing held whole: smaller than the small export, so both hold a full batch
    monkeypatch.setattr(report_calls, "FETCH", 200)
    flt = _flt(calls, None)
    small, large = SIZES[kind]
    with db.connection_context():
        small_peak, small_size, body = _peak(kind, flt, small, keep=True)
        large_peak, large_size, _ = _peak(kind, flt, large)
    assert large_size > 0.6 * (large / small) * small_size  # the large export did carry its many more rows
    assert large_peak < 1.5 * small_peak + 512 * 1024, (small_peak, large_peak)
    assert large_peak < 16 * 1024 * 1024
    if kind == "csv":
        rows = list(csv.reader(io.StringIO(body.getvalue().decode("utf-8-sig"))))
        assert len(rows) == small + 1 and rows[1][4] == "'=HYPERLINK(\"x\")"  # formula-safe
        with db.connection_context():  # and the stream holds every row once, in order
            ids = [r["id"] for r in report_calls.stream(flt, "ended")]
        assert len(ids) == LARGE == len(set(ids)) and ids == sorted(ids)



async def test_a_download_given_up_halfway_ends_its_transaction(settings, db, calls):
    """Through a real server: the client reads one chunk and goes away; the producer stops and the export's
    transaction (its cursor) ends, and the server answers the next request."""
    import asyncio
    import threading
    import time
    from dataclasses import replace

    import httpx

    from web.server import serve

    from .test_server import free_port

    def open_cursors():
        return db.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                              " AND state LIKE 'idle in transaction%%' AND query LIKE 'FETCH%%report_calls'").fetchone()[0]

    async def until_async(predicate, timeout, message):
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(predicate):
            assert time.monotonic() < deadline, (f"timed out waiting for {message}", db.execute_sql(
                "SELECT state, left(query, 50) FROM pg_stat_activity WHERE datname = current_database()").fetchall())
            await asyncio.sleep(0.05)

    # far more than the loopback's socket buffers hold, so the export is still running when the client leaves:
    # a client's long name on every row (~60 MB of CSV), rather than ten times the rows (their triggers are slow)
    db.execute_sql("UPDATE lead SET name = repeat('Клиент с очень длинным именем ', 70)"
                   " WHERE id = (SELECT lead_id FROM attempt WHERE campaign_id = %s LIMIT 1)", (calls,))
    s = replace(settings, web_host="127.0.0.1", web_port=free_port())
    task = asyncio.create_task(serve(s, db))
    base = f"http://127.0.0.1:{s.web_port}"
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(100):
                try:
                    await client.get("/api/health/web")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            url = f"/reports/export?table=calls&format=csv&from=2026-10-01&to=2026-10-01&campaign={calls}"
            async with client.stream("GET", url) as r:
                assert r.status_code == 200
                first = await r.aiter_bytes().__anext__()
                assert first.startswith("\ufeff".encode())
                assert any(t.name == "report-export" for t in threading.enumerate())  # still producing
            await until_async(lambda: open_cursors() == 0, 20, "the given-up export's transaction to end")
            r = await client.get("/api/reports/summary?from=2026-10-01&to=2026-10-01")
            assert r.json()["kpis"]["attempts"] == LARGE
        await until_async(lambda: not any(t.name == "report-export" for t in threading.enumerate()), 20,
                          "the producer thread to end")
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
