"""`dialer asterisk ...`: the sandbox root, config rendering and the pbx/sim instances."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from dialer import settings as settings_mod
from dialer.asterisk import instances, render, sandbox

log = logging.getLogger(__name__)


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `asterisk` command to the main CLI's subparsers. Every subcommand sets
    `func(args) -> int`."""
    p = subparsers.add_parser("asterisk", help="Asterisk sandbox, config and instances")
    sub = p.add_subparsers(dest="asterisk_command", required=True)
    sub.add_parser("sandbox", help="build or reuse the cached Debian sid root with Asterisk 22"
                   ).set_defaults(func=_sandbox)
    r = sub.add_parser("render", help="write pbx config as an admin deploys it to /etc/asterisk")
    r.add_argument("dir", type=Path)
    r.set_defaults(func=_render)
    for name, func, helptext in (("start", _start, "start instances (render config first)"),
                                 ("stop", _stop, "stop instances")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("which", nargs="?", default="all", choices=("pbx", "sim", "all"))
        c.set_defaults(func=func)
    sub.add_parser("status", help="both instances' state as JSON").set_defaults(func=_status)
    x = sub.add_parser("rx", help="run an Asterisk CLI command on an instance")
    x.add_argument("name", choices=instances.NAMES)
    x.add_argument("cmd", nargs="+")
    x.set_defaults(func=_rx)
    return p


def _which(arg: str) -> tuple[str, ...]:
    # pbx first: the sim's phones register to it.
    return instances.NAMES if arg == "all" else (arg,)


def _sandbox(args) -> int:
    print(sandbox.ensure_root(settings_mod.load()))
    return 0


def _render(args) -> int:
    for path in render.render_pbx(settings_mod.load(), args.dir):
        print(path)
    return 0


def _start(args) -> int:
    s = settings_mod.load()
    for name in _which(args.which):
        print(json.dumps(instances.start(s, name)))
    return 0


def _stop(args) -> int:
    s = settings_mod.load()
    for name in reversed(_which(args.which)):
        instances.stop(s, name)
    return 0


def _status(args) -> int:
    s = settings_mod.load()
    states = {name: instances.status(s, name) for name in instances.NAMES}
    print(json.dumps(states, indent=2))
    return 0 if all(st["healthy"] for st in states.values()) else 1


def _rx(args) -> int:
    print(instances.rx(settings_mod.load(), args.name, " ".join(args.cmd)), end="")
    return 0
