"""`dialer asterisk render DIR`: the pbx configuration as an administrator deploys it to /etc/asterisk."""
from __future__ import annotations

import argparse
from pathlib import Path

from dialer import settings as settings_mod
from dialer.asterisk import render


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `asterisk` command to the main CLI's subparsers (every subcommand sets `func(args) -> int`)."""
    p = subparsers.add_parser("asterisk", help="the Asterisk configuration this installation needs")
    sub = p.add_subparsers(dest="asterisk_command", required=True)
    r = sub.add_parser("render", help="write pbx config as an admin deploys it to /etc/asterisk")
    r.add_argument("dir", type=Path)
    r.set_defaults(func=_render)
    return p


def _render(args) -> int:
    for path in render.render_pbx(settings_mod.load(), args.dir):
        print(path)
    return 0
