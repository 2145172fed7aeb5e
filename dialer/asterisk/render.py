"""Render Asterisk configuration from the repository's Jinja2 templates.

pbx: `asterisk-conf/*` plus `dialplan/*.conf` (included by extensions.conf).
sim: `sim/*`, falling back to `asterisk-conf/` for the files both share (asterisk.conf, logger.conf,
http.conf, ari.conf...). Asterisk's own `${VAR}` syntax does not clash with Jinja's `{{ }}`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import fields
from pathlib import Path

import jinja2

from dialer.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

PBX_DIR = REPO_ROOT / "asterisk-conf"
DIALPLAN_DIR = REPO_ROOT / "dialplan"
SIM_DIR = REPO_ROOT / "sim"
# Files the sim takes from asterisk-conf/ (everything else of pbx's would load unused modules' config).
SIM_SHARED = ("asterisk.conf", "logger.conf", "http.conf", "ari.conf", "cdr.conf", "cel.conf",
              "indications.conf", "stasis.conf", "ccss.conf", "features.conf", "acl.conf",
              "udptl.conf", "pjproject.conf", "manager.conf", "websocket_client.conf")
SIM_PHONES = "pjsip_phones.conf"
# Only for the sandbox: production admins keep their own asterisk.conf.
SANDBOX_ONLY = ("asterisk.conf",)


def _env(*dirs: Path) -> jinja2.Environment:
    # StrictUndefined: a missing setting fails the render instead of writing an empty value.
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def _context(settings: Settings, name: str, instance_dirs: dict | None, **extra) -> dict:
    ctx = {f.name: getattr(settings, f.name) for f in fields(settings)}
    ctx.update(settings=settings, instance_name=name, dirs=instance_dirs or {}, **extra)
    return ctx


def _write(path: Path, text: str) -> None:
    """Atomic, and private: ari.conf and res_pgsql.conf hold passwords, and a reload must never
    read a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _render_all(env: jinja2.Environment, names: list[str], ctx: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out_dir / name
        _write(path, env.get_template(name).render(ctx))
        written.append(path)
    return written


def _check_secrets(settings: Settings) -> None:
    if not settings.ari_password:
        raise ValueError("ari_password is empty: create the state directory's secrets first "
                         "(dialer.settings.init_secrets) or set DIALER_ARI_PASSWORD")


def _moh_files(instance_dirs: dict | None, settings: Settings) -> bool:
    base = Path(settings.asterisk_root) if instance_dirs else Path("/")
    moh = base / "usr/share/asterisk/moh"
    return moh.is_dir() and any(moh.iterdir())


def render_pbx(settings: Settings, out_dir: Path, instance_dirs: dict | None = None, name: str = "pbx") -> list[Path]:
    """Write pbx's configuration into out_dir (an instance's etc dir, or /etc/asterisk for an
    admin). asterisk.conf only with instance_dirs (the sandbox), whose `systemname` is `name`."""
    _check_secrets(settings)
    out_dir = Path(out_dir)
    dialplan = sorted(p.name for p in DIALPLAN_DIR.glob("*.conf"))
    conf = sorted(p.name for p in PBX_DIR.glob("*.conf"))
    if instance_dirs is None:
        conf = [n for n in conf if n not in SANDBOX_ONLY]
    clash = set(dialplan) & set(conf)
    if clash:
        raise ValueError(f"dialplan/ and asterisk-conf/ both have {sorted(clash)}")
    ctx = _context(settings, name, instance_dirs, http_port=settings.pbx_http_port,
                   dialplan_files=dialplan, moh_files=_moh_files(instance_dirs, settings))
    written = _render_all(_env(PBX_DIR), conf, ctx, out_dir)
    written += _render_all(_env(DIALPLAN_DIR), dialplan, ctx, out_dir)
    log.info("rendered pbx config (%d files) into %s", len(written), out_dir)
    return written


def render_sim(settings: Settings, out_dir: Path, instance_dirs: dict,
               phones: list[tuple[str, str]], ports: dict[str, int] | None = None) -> list[Path]:
    """Write the sim's configuration (PSTN and softphones) into out_dir."""
    _check_secrets(settings)
    out_dir = Path(out_dir)
    names = sorted({p.name for p in SIM_DIR.glob("*.conf")} | set(SIM_SHARED))
    names.remove(SIM_PHONES)
    ctx = _context(settings, "sim", instance_dirs, http_port=settings.sim_http_port)
    written = _render_all(_env(SIM_DIR, PBX_DIR), names, ctx, out_dir)
    written.append(render_sim_phones(settings, out_dir, phones, ports=ports))
    log.info("rendered sim config (%d files, %d phones) into %s", len(written), len(phones), out_dir)
    return written


def render_sim_phones(settings: Settings, out_dir: Path, phones: list[tuple[str, str]],
                      leaving: list[tuple[str, str]] = (), ports: dict[str, int] | None = None) -> Path:
    """Only the softphones' file: re-rendered on every sync, so it must stay cheap for 100+.
    `leaving` phones keep their endpoint and auth but lose their registration. `ports`: the SIP port of the
    pbx a phone registers to, by login (another Asterisk server's phones); pbx's by default."""
    phones = list(phones) + [p for p in leaving if p not in phones]
    for login, password in phones:
        if not login or any(c in login + password for c in "[]\n;"):
            raise ValueError(f"login/password unusable in pjsip.conf: {login!r}")
    ctx = _context(settings, "sim", None, phones=phones,
                   leaving_logins={login for login, _ in leaving}, phone_ports=ports or {})
    path = Path(out_dir) / SIM_PHONES
    _write(path, _env(SIM_DIR).get_template(SIM_PHONES).render(ctx))
    return path
