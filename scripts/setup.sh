#!/usr/bin/env bash
# Set up everything Dialer needs on a Debian 12 machine (root), reusing what is already there:
# Debian packages, the Python virtual environment in .venv, the PostgreSQL cluster and schema,
# and the cached Asterisk 22 sandbox. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium and fonts: the browser tests drive Debian's headless Chromium (playwright cannot fetch its own);
# systemd: `dialer install` makes its user and directories with systemd-sysusers/-tmpfiles, the tests verify its
# units with systemd-analyze (a container may lack them); opus-tools: opusenc compresses call recordings after the call
packages=(postgresql-15 debootstrap python3-venv python3-dev gcc ca-certificates chromium fonts-dejavu-core
          fonts-liberation2 systemd opus-tools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

# the tests start their own database and Asterisk; the demo needs the default ones
[ "${1:-}" = "--packages-only" ] && exit 0
.venv/bin/dialer-dev setup "$@"
