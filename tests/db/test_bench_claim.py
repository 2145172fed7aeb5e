"""`python -m bench.claim` runs end to end on a small load, in both ways of using connections, and finds what
it must: every claim served, no lead claimed twice, no listed number dialled (the figures themselves are the
benchmark's, not a test's)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dialer.settings import REPO_ROOT

STATE = "/var/lib/dialer-test-bench"  # its own cluster and port: beside the tests' and a full benchmark's


def run_bench(module: str, *args: str) -> dict:
    env = {**os.environ, "DIALER_BENCH_STATE_DIR": STATE, "DIALER_DB_PORT": "5436"}
    done = subprocess.run([sys.executable, "-m", module, *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("connections", ["2", "0"], ids=["engine-pool", "connection-per-claimer"])
def test_bench_claim_small_load(connections):
    out = run_bench("bench.claim", "--leads", "3000", "--claimers", "6", "--seconds", "3", "--warmup-s", "0.5",
                    "--think-ms", "100", "--connections", connections)
    assert out["errors"] == 0, out["first_error"]
    assert out["duplicates"] == 0 and out["do_not_call_dialled"] == 0
    assert out["claims_measured"] > 20 and out["empty_claims"] == 0
    assert out["claims_by_way"]["queued"] > 0  # the claim-queue job ran beside the claimers
    assert out["connections"] == (2 if connections == "2" else "one per claimer")
    assert out["claim_ms_p50"] <= out["claim_ms_p99"] <= out["claim_ms_max"]
    assert out["preview_count_ms"] > 0


def test_the_claim_taken_apart_and_the_round_trip_floor():
    parts = run_bench("bench.claim_parts", "--count", "30")
    for pause in ("0", "20"):
        claim, selections, statement = (parts[f"after_{pause}ms_{k}_p50"] for k in ("claim", "selections", "statement"))
        assert 0 < selections < claim and 0 < statement < claim  # both round trips measured, inside the claim
    floor = run_bench("bench.roundtrip", "--count", "30")
    assert 0 < floor["after_0ms_p50"] <= floor["after_0ms_p99"]
    assert set(floor) >= {f"after_{p}ms_p{q}" for p in (0, 1, 20, 200) for q in (50, 99)}
