#!/usr/bin/env bash
# One command: set up, then run the demo call centre until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/dialer demo "$@"
