"""`dialer-dev demo`: a whole call centre on this machine — real Asterisk, simulated clients and softphones.

Sets up what is missing (database, schema, Asterisk sandbox), starts pbx and sim, loads a demo
campaign with a mix of clients (answering, busy, declining, never answering, failing) and
auto-answering operators, then runs engine + web + jobs + AGI until Ctrl-C and stops what it started.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random

from dialer import commands, migrate, pg
from dialer import settings as settings_mod
from . import instances, sandbox
from dialer.db import connect
from dialer.models import Campaign, Operator
from dialer.run import run
from dialer.services import campaigns, operators

log = logging.getLogger(__name__)
CAMPAIGN = "Демо: подтверждение заказов"
# share of clients by how the simulated network answers (see sim/README.md)
MIX = [("79000{talk:02d}{n:04d}", 0.55), ("79001{n:06d}", 0.12), ("79002{n:06d}", 0.06),
       ("79003{n:06d}", 0.15), ("79004{n:06d}", 0.05), ("79005{n:06d}", 0.07)]


def demo_phones(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    patterns, weights = zip(*MIX)
    return ["+" + rng.choices(patterns, weights)[0].format(talk=rng.randint(4, 15), n=i) for i in range(count)]


# the wrap-up results of the demo campaign; dialer/crm/demo.py maps each to a status of the fake CRM
RESULTS = [{"code": "confirmed", "title": "Заказ подтверждён"}, {"code": "accepted", "title": "Принят"},
           {"code": "callback", "title": "Перезвонить", "closes_lead": False},
           {"code": "refused", "title": "Отказ"}, {"code": "cancelled", "title": "Отменён"}]


def load_demo(settings, db, n_operators: int, n_leads: int):
    """Idempotent: reuses the campaign, its CRM connection and the operators.

    The leads come from the fake LeadVertex (started here, returned to be stopped on exit): the
    pull job imports them and every wrap-up is written back to it."""
    from rules import window

    from . import crm_demo

    with db.connection_context():
        campaign = Campaign.get_or_none(Campaign.name == CAMPAIGN)
        cid = campaign.id if campaign else campaigns.create_campaign(
            CAMPAIGN, max_attempts=3, retry_delay_s=120, ring_timeout_s=15, wrap_up_limit_s=3,
            # the demo's simulated clients answer at any hour: an explicit choice, as a real campaign would need
            calling_window={"any_hour": True}, retry_delays={"BUSY": 60})["id"]
        if campaign and campaign.calling_window == window.DEFAULT:
            # a demo database from before the calling window existed got the default by the migration: the demo
            # dials its simulated clients at any hour, as one made now does
            campaigns.update_campaign(cid, calling_window=window.ANY_HOUR)
        if not campaigns.list_results(cid):
            campaigns.set_results(cid, RESULTS)
        if not campaign:  # the demo records its calls, kept a week: the call cards have a player
            from dialer.services import recording_settings
            recording_settings.update_settings(cid, True, 7, False)
        _demo_selections(cid)
        existing = {o["login"]: o["id"] for o in operators.list_operators()}
        ids = []
        for i in range(1, n_operators + 1):
            login = f"demo{i}"
            ids.append(existing.get(login) or operators.create_operator(
                f"Оператор {i}", login, f"demo-secret-{i}", [cid])["id"])
        # a demo start is a new shift: operators left Ready by the last run, holding no call, start signed off (their
        # lines died with the last run's Asterisk: the engine would pause them at its first look, after the demo's
        # «Готов» below had already been taken — and the demo would show nobody calling)
        _offline(ids)
        phones = operators.sip_devices()
    fake_crm, connection = crm_demo.setup(settings, db, cid, orders=n_leads)
    print(f"demo: orders come from the fake LeadVertex at http://127.0.0.1:{settings.fake_crm_port}"
          f" (connection «{connection['name']}», pulled every {connection['pull_interval_s']} s)")
    instances.sync_sim_phones(settings, phones)
    instances.wait_registered(settings, [login for login, _ in phones], timeout=60)
    return ids, fake_crm


def _demo_selections(cid: int) -> None:
    """Two selections for «Выборки»: orders from one source first (a CRM field), then everything else."""
    from rules import selections

    if selections.list_selections(cid):
        return
    selections.create_selection(cid, "Источник source-0 первым", {
        "conditions": [[{"field": "attrs.additional1", "op": "eq", "value": "source-0"}]], "order": "created_at"})
    selections.create_selection(cid, "Все остальные заказы", {"limits": {"max_per_day": 3}})


DEMO_SUPERVISOR = ("supervisor@demo.local", "demo-supervisor")
DEMO_OPERATOR_PASSWORD = "demo-operator-{n}"  # operator{n}@demo.local works as demo operator n


def demo_accounts(db, operator_ids: list[int]) -> tuple[str, str] | None:
    """The first administrator (password returned once), a supervisor and one user per demo operator."""
    from dialer.services import users
    with db.connection_context():
        first = users.create_first_admin()
        users.ensure_user(DEMO_SUPERVISOR[0], "Супервайзер (демо)", DEMO_SUPERVISOR[1], "supervisor")
        for n, oid in enumerate(operator_ids, 1):
            users.ensure_user(f"operator{n}@demo.local", f"Оператор {n}", DEMO_OPERATOR_PASSWORD.format(n=n),
                              "operator", operator_id=oid)
    return first


async def _ready_when_running(db, operator_ids: list[int]) -> None:
    await asyncio.sleep(2)  # let the engine connect to ARI first; commands would wait for it anyway
    def ready():
        with db.connection_context():
            for oid in operator_ids:
                commands.enqueue(oid, commands.Ready())
    await asyncio.to_thread(ready)


def _offline(operator_ids: list[int]) -> None:
    Operator.update(status="offline", leg_channel=None).where(
        Operator.id.in_(operator_ids), Operator.attempt_id.is_null()).execute()


def _sign_off(db, operator_ids: list[int]) -> None:
    """The demo's end is the end of its shift: its operators holding no call sign off before their phones go with
    sim (a phone that goes while its operator is Ready raises «SIP-устройство отключилось», and every restart of the
    demo left five of them for the supervisor)."""
    if not operator_ids:
        return
    try:
        with db.connection_context():
            _offline(operator_ids)
    except Exception as e:  # the database may be gone already: the next start signs them off as well
        print(f"demo: operators not signed off ({e})", flush=True)


def demo(settings, operators: int = 5, leads: int = 300) -> None:
    settings_mod.init_secrets(settings.state_dir)
    settings = settings_mod.load()
    pg_was_running = pg.is_running(settings)
    pg.start(settings)
    migrate.migrate(settings)
    sandbox.ensure_root(settings)
    started = [name for name in ("pbx", "sim") if not instances.status(settings, name).get("running")]
    for name in ("pbx", "sim"):
        instances.start(settings, name)
    db = connect(settings)
    fake_crm, operator_ids = None, []
    try:
        operator_ids, fake_crm = load_demo(settings, db, operators, leads)
        first_admin = demo_accounts(db, operator_ids)
        print("\n" + "=" * 72)
        print(f"Dialer demo is running: {operators} operators, campaign «{CAMPAIGN}»")
        print(f"  Web:      http://{settings.web_host}:{settings.web_port}/")
        if first_admin:
            print(f"  Sign in:  {first_admin[0]}  password {first_admin[1]}  (shown once)")
        else:
            print("  Sign in:  admin@dialer.local (password shown at the first set-up;"
                  " `dialer users password admin@dialer.local` sets a new one)")
        print(f"            {DEMO_SUPERVISOR[0]} / {DEMO_SUPERVISOR[1]};"
              f" operator1@demo.local / {DEMO_OPERATOR_PASSWORD.format(n=1)} (… operator{operators})")
        print(f"  API:      http://{settings.web_host}:{settings.web_port}/api  (OpenAPI: /api/schema)")
        print(f"  Login:    Authorization: Bearer {settings.api_token}")
        print(f"  Try:      curl -H 'Authorization: Bearer {settings.api_token}' "
              f"http://{settings.web_host}:{settings.web_port}/api/attempts?limit=5")
        print("  Ctrl-C stops it.")
        print("=" * 72 + "\n")

        async def main():
            asyncio.create_task(_ready_when_running(db, operator_ids))
            await run(settings, {"engine", "web", "jobs", "agi"})
        # not asyncio.run: it would wait for database threads at the end (see run.run_until_stopped)
        asyncio.new_event_loop().run_until_complete(main())
    except KeyboardInterrupt:
        pass
    finally:
        if fake_crm is not None and fake_crm.poll() is None:
            fake_crm.terminate()
        _sign_off(db, operator_ids)
        for name in reversed(started):
            instances.stop(settings, name)
        if not pg_was_running:
            pg.stop(settings)
        print("demo stopped", flush=True)
        logging.shutdown()
        os._exit(0)
