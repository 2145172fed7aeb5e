#!/usr/bin/env bash
# One command: set up, then run the demo call centre until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# the demo sets up the database and Asterisk itself, and stops at Ctrl-C what it started
./scripts/setup.sh --packages-only
exec .venv/bin/dialer-dev demo "$@"
