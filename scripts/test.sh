#!/usr/bin/env bash
# One command: set up, then run every test tier (unit, database, end to end on real Asterisk).
# The tests use their own state directory and ports, so a running demo is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --packages-only
exec .venv/bin/pytest -q "$@"
