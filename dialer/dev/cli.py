"""`dialer-dev`: the development commands (demo, fake CRM, Asterisk sandbox and instances, simulated
softphones); every other command is the production `dialer`'s, passed through unchanged."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from dialer import cli as production
from dialer import settings as settings_mod

from . import instances, sandbox


def cmd_setup(args) -> int:
    """The production set-up, then the cached Asterisk 22 sandbox the demo and the tests run."""
    production.main(["setup"])
    print(f"Asterisk sandbox ready in {sandbox.ensure_root(settings_mod.load())}")
    return 0


def cmd_demo(args) -> int:
    from .demo import demo

    demo(settings_mod.load(), operators=args.operators, leads=args.leads)
    return 0


def cmd_fake_crm(args) -> int:
    from .fake_leadvertex import serve_forever

    serve_forever(args.host, args.port or settings_mod.load().fake_crm_port, args.orders, args.demo_phones)
    return 0


def cmd_sim_sync(args) -> int:
    """Give every operator of the database a simulated auto-answering softphone in `sim`."""
    from dialer.db import connect
    from dialer.services import operators

    s = settings_mod.load()
    db = connect(s)
    with db.connection_context():
        phones = operators.sip_devices()
    instances.sync_sim_phones(s, phones)
    if args.wait:
        instances.wait_registered(s, [login for login, _ in phones], timeout=args.wait)
    print(f"{len(phones)} simulated softphones registered")
    return 0


def _which(arg: str) -> tuple[str, ...]:
    return ("pbx", "sim") if arg == "all" else (arg,)  # pbx first: the sim's phones register to it; pbx2 when named


def cmd_asterisk(args) -> int:
    s = settings_mod.load()
    match args.action:
        case "sandbox":
            print(sandbox.ensure_root(s))
        case "start":
            for name in _which(args.which):
                print(json.dumps(instances.start(s, name)))
        case "stop":
            for name in reversed(_which(args.which)):
                instances.stop(s, name)
        case "status":
            states = {name: instances.status(s, name) for name in instances.NAMES
                      if name != "pbx2" or instances.running(s, name)}  # pbx2 only when it was started
            print(json.dumps(states, indent=2))
            return 0 if all(st["healthy"] for st in states.values()) else 1
    return 0


def cmd_rx(args) -> int:
    print(instances.rx(settings_mod.load(), args.name, " ".join(args.cmd)), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dialer-dev", description="Development commands of the dialer "
                                "(any other command is passed to `dialer`)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("setup", help="`dialer setup`, then the cached Asterisk 22 sandbox").set_defaults(func=cmd_setup)
    demo = sub.add_parser("demo", help="set up everything and run a demo call centre until Ctrl-C")
    demo.add_argument("--operators", type=int, default=5)
    demo.add_argument("--leads", type=int, default=300)
    demo.set_defaults(func=cmd_demo)
    fake = sub.add_parser("fake-crm", help="run a fake LeadVertex CRM (tests, demo) until Ctrl-C")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=0, help="default: the fake_crm_port setting")
    fake.add_argument("--orders", type=int, default=100, help="sample orders per shop")
    fake.add_argument("--demo-phones", action="store_true", help="numbers the simulated network knows")
    fake.set_defaults(func=cmd_fake_crm)
    sim = sub.add_parser("sim-sync", help="register a simulated softphone for every operator")
    sim.add_argument("--wait", type=float, default=30, help="seconds to wait for registrations (0: no wait)")
    sim.set_defaults(func=cmd_sim_sync)
    ast = sub.add_parser("asterisk", help="the sandbox root and the pbx/sim instances")
    ast.add_argument("action", choices=["sandbox", "start", "stop", "status"])
    ast.add_argument("which", nargs="?", default="all", choices=("pbx", "sim", "pbx2", "all"))
    ast.set_defaults(func=cmd_asterisk)
    rx = sub.add_parser("rx", help="run an Asterisk CLI command on an instance")
    rx.add_argument("name", choices=instances.NAMES)
    rx.add_argument("cmd", nargs="+")
    rx.set_defaults(func=cmd_rx)
    return p


DEV_COMMANDS = {"setup", "demo", "fake-crm", "sim-sync", "asterisk", "rx"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not any(a in DEV_COMMANDS for a in argv[:2]) and not (set(argv[:1]) & {"-h", "--help"}):
        return production.main(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
