"""One typed settings object, loaded once: defaults → file → environment (DIALER_*)."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class AsteriskServer:
    """One Asterisk the engine controls over ARI (a list: the door to several servers)."""

    name: str = "pbx"
    ari_url: str = "http://127.0.0.1:8088/ari"
    ari_user: str = "dialer"
    ari_password: str = ""
    trunk: str = "carrier"  # PJSIP endpoint clients are dialled through


@dataclass(frozen=True)
class Settings:
    state_dir: Path = Path("/var/lib/dialer")
    cache_dir: Path = Path("/var/cache/dialer")
    # PostgreSQL cluster owned by our scripts
    db_host: str = "127.0.0.1"
    db_port: int = 5433
    db_name: str = "dialer"
    db_user: str = "dialer"
    db_password: str = ""  # the application role's (db_user)
    # the cluster's superuser `postgres`: only set-up and migration of roles use it, never the running dialer
    db_superuser_password: str = ""
    db_pool_size: int = 16
    # Asterisk
    app_name: str = "dialer"
    asterisk_password: str = ""  # password of the `asterisk` DB role (realtime PJSIP)
    ari_password: str = ""
    agi_port: int = 4573
    pbx_sip_port: int = 5060
    pbx_http_port: int = 8088
    sim_http_port: int = 8089
    sim_trunk_address: str = "127.0.0.2"
    sim_phones_address: str = "127.0.0.3"
    # empty: one server, the local pbx (pbx_http_port, ari_password); in DIALER_ASTERISK_SERVERS a JSON list
    asterisk_servers: tuple[AsteriskServer, ...] = ()
    # a server whose ARI stays unreachable (websocket down and REST refused) this long is lost: its operators are
    # paused and its calls closed; a websocket cut alone (REST answering) is not a loss, its calls go on
    asterisk_lost_after_s: float = 2.0
    # the sandbox's second Asterisk (dialer/dev/instances.py, `pbx2`); 0: derived from pbx's ports
    pbx2_sip_port: int = 0
    pbx2_http_port: int = 0
    # engine
    operator_leg_nailed: bool = True  # keep the operator's leg up between answered calls
    claim_retry_s: float = 1.0  # how often a Ready operator with nothing to call looks again
    # call recording (ari_app/recording.py, dialer/services/recordings.py): files outside any web root
    recordings_dir: str = ""  # empty: <state_dir>/recordings
    recording_encoder: str = "opusenc"  # compresses a call's WAV to Ogg/Opus after the call (opus-tools)
    recording_min_free_mb: int = 500  # below this much free space recording pauses (calls go on), with an alert
    recordings_operators_own: bool = False  # operators (without recordings.listen) may play their own calls
    # consent announcements (B6): uploaded files live in <recordings>/announcements; Asterisk plays them from
    # where it sees that directory (empty: the same path — Asterisk on this host); without a file, this sound
    announcements_asterisk_dir: str = ""
    consent_default_sound: str = "beep"
    # clients calling back (A1, ari_app/inbound.py): how long one waits on hold for a Ready operator, the campaign
    # whose pool takes unknown numbers (0: any Ready operator; such callers get no callback), and the message heard
    # before the callback is scheduled (an Asterisk sound; a Russian prompt is the installation's own recording)
    inbound_hold_s: int = 60
    inbound_unknown_campaign: int = 0
    inbound_callback_sound: str = "tt-allbusy"
    # CRM sync
    crm_outbox_poll_s: float = 1.0  # how often waiting wrap-up results are looked for
    fake_crm_port: int = 8099  # `dialer-dev fake-crm` (tests, demo)
    # web
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    api_token: str = ""
    # operations (docs/operations.md): who may read /metrics — these networks (comma-separated), or anyone
    # sending `Authorization: Bearer <metrics_token>` when a token is set
    metrics_allow: str = "127.0.0.1/32,::1/128"
    metrics_token: str = ""
    # text | json (one object per line) | auto (text on a terminal, JSON otherwise: journald, a pipe)
    log_format: str = "text"
    # the installation's own time zone (IANA name): where reports' days and hours begin
    time_zone: str = "Europe/Moscow"
    shift_report_at: str = "21:00"  # local end of the shift: the daily shift summary PDFs are written then (reports)
    # operators' status history (reports' operator-hours, the supervisor's time in status): kept this many days
    status_history_days: int = 400

    @property
    def dsn(self) -> dict:
        return dict(host=self.db_host, port=self.db_port, user=self.db_user,
                    password=self.db_password, dbname=self.db_name)

    @property
    def pg_dir(self) -> Path:
        return self.state_dir / "postgresql"

    @property
    def asterisk_root(self) -> Path:
        """Cached Debian sid root with Asterisk 22 (development, tests, demo)."""
        return self.cache_dir / "asterisk-sid"

    @property
    def recordings_path(self) -> Path:
        return Path(self.recordings_dir) if self.recordings_dir else self.state_dir / "recordings"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "dialer.json"


_ENV_PREFIX = "DIALER_"


def _coerce(kind, value):
    if kind in (int, "int"):
        return int(value)
    if kind in (float, "float"):
        return float(value)
    if kind in (bool, "bool"):
        return str(value).lower() in ("1", "true", "yes", "on")
    if kind in (Path, "Path"):
        return Path(value)
    return value


def _apply(base: dict, overrides: dict) -> dict:
    types = {f.name: f.type for f in fields(Settings)}
    for key, value in overrides.items():
        if key not in types:
            continue
        if key == "asterisk_servers":
            value = json.loads(value) if isinstance(value, str) else value
            base[key] = tuple(AsteriskServer(**s) for s in value)
        else:
            base[key] = _coerce(types[key], value)
    return base


def load(env: dict | None = None) -> Settings:
    """Defaults, then the state directory's dialer.json, then DIALER_* variables."""
    env = os.environ if env is None else env
    values: dict = {}
    state_dir = Path(env.get("DIALER_STATE_DIR", Settings.state_dir))
    values["state_dir"] = state_dir
    cfg = Path(env.get("DIALER_CONFIG", state_dir / "dialer.json"))
    if cfg.exists():
        _apply(values, json.loads(cfg.read_text()))
    env_values = {k[len(_ENV_PREFIX):].lower(): v for k, v in env.items() if k.startswith(_ENV_PREFIX)}
    env_values.pop("config", None)
    _apply(values, env_values)
    settings = Settings(**values)
    return _fill_servers(settings)


def _fill_servers(s: Settings) -> Settings:
    if s.asterisk_servers:
        return s
    local = AsteriskServer(ari_url=f"http://127.0.0.1:{s.pbx_http_port}/ari", ari_password=s.ari_password)
    return replace(s, asterisk_servers=(local,))


def init_secrets(state_dir: Path) -> Path:
    """Create the state directory's dialer.json with generated secrets once; keep it afterwards."""
    state_dir.mkdir(parents=True, exist_ok=True)
    cfg = state_dir / "dialer.json"
    current = json.loads(cfg.read_text()) if cfg.exists() else {}
    # a secret added in a later version is generated on the next set-up; existing ones are kept
    for key in ("db_password", "db_superuser_password", "asterisk_password", "api_token", "ari_password"):
        current.setdefault(key, secrets.token_urlsafe(18))
    cfg.write_text(json.dumps(current, indent=2))
    cfg.chmod(0o600)
    return cfg
