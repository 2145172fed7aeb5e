"""`dialer install` into a temporary root (never the real /etc): the configuration, the system user by
systemd-sysusers, the directories by systemd-tmpfiles, and units that `systemd-analyze verify` accepts; the order
of a safe upgrade."""
from __future__ import annotations

import configparser
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from dialer import install
from dialer.install import Layout

needs_systemd_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("systemd-analyze", "systemd-sysusers", "systemd-tmpfiles")),
    reason="systemd's tools are missing: scripts/setup.sh installs them")


def unit(root: Path, name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read(root / "etc/systemd/system" / name)
    return parser


SECRETS = {k: f"s-{k}" for k in install.SECRETS}
# (name, already in /etc/dialer/dialer.json, an earlier `dialer setup`'s, expected subset)
CONFIG_CASES = [
    ("fresh: production defaults, every secret generated", {}, {},
     {"state_dir": "/var/lib/dialer", "log_format": "json", "web_host": "0.0.0.0", "api_token": "new"}),
    ("an earlier setup's secrets and ports are taken over", {}, {"db_password": "old-pw", "db_port": 5433},
     {"db_password": "old-pw", "db_port": 5433, "api_token": "new"}),
    ("what the administrator wrote in /etc wins", {"log_format": "text", "api_token": "mine"},
     {"api_token": "theirs"}, {"log_format": "text", "api_token": "mine"}),
    ("an empty secret is a missing one", {"ari_password": ""}, {}, {"ari_password": "new"}),
]


@pytest.mark.parametrize("name,current,earlier,expected", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_configuration(name, current, earlier, expected):
    got = install.configuration(current, earlier, Layout(), new_secret=lambda: "new")
    assert {k: got[k] for k in expected} == expected
    assert all(got[k] for k in install.SECRETS)


def test_a_template_left_unfilled_is_refused_at_install():
    with pytest.raises(ValueError, match="@NOPE@"):
        install.render("ExecStart=@DIALER@ @NOPE@", {"DIALER": "/x"})


@pytest.mark.parametrize("pending,expected", [
    ([], [("restart", "dialer.target")]),
    (["018_operations.sql"], [("backup", "/b/x.dump"), ("stop", *install.SERVICES),
                              ("migrate", "018_operations.sql"), ("restart", "dialer.target")]),
])
def test_upgrade_backs_up_and_stops_before_it_migrates(pending, expected):
    assert install.upgrade_steps(pending, Path("/b/x.dump")) == expected


@needs_systemd_tools
def test_install_into_a_temporary_root(tmp_path):
    root = tmp_path / "root"
    layout = Layout()
    lines = install.install_files(root, layout)
    assert any("system user dialer" in x for x in lines)
    # the system user and group, made by systemd-sysusers in the root's own /etc
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    assert passwd["dialer"][5] == "/var/lib/dialer" and passwd["dialer"][6] == "/usr/sbin/nologin"
    uid, gid = int(passwd["dialer"][2]), int(passwd["dialer"][3])
    assert uid < 1000  # a system account
    # the directories by systemd-tmpfiles, the configuration readable by the user's group only
    for path in ("var/lib/dialer", "var/lib/dialer/backups", "var/cache/dialer"):
        assert (root / path).stat().st_uid == uid, path
    config = root / "etc/dialer/dialer.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640 and config.stat().st_gid == gid
    values = json.loads(config.read_text())
    assert values["log_format"] == "json" and all(values[k] for k in install.SECRETS)
    # each part its own unit, restartable alone, all under dialer.target, logging to journald
    for part in install.PARTS:
        u = unit(root, f"dialer-{part}.service")
        assert u["Service"]["ExecStart"].endswith(f"dialer run --only {part}")
        assert u["Service"]["User"] == "dialer" and u["Service"]["StandardOutput"] == "journal"
        assert u["Service"]["Environment"].startswith("DIALER_CONFIG=/etc/dialer/dialer.json")
        assert u["Unit"]["PartOf"] == "dialer.target"
        others = {f"dialer-{p}.service" for p in install.PARTS} - {f"dialer-{part}.service"}
        ties = " ".join(u["Unit"].get(k, "") for k in ("Requires", "BindsTo", "PartOf"))
        assert not any(o in ties for o in others)  # restarting one part never restarts another
        assert "dialer-migrate.service" in u["Unit"]["Requires"] and "dialer-migrate.service" in u["Unit"]["After"]
    assert unit(root, "dialer-migrate.service")["Service"]["ExecStart"].endswith("dialer db migrate")
    wants = unit(root, "dialer.target")["Unit"]["Wants"].split()
    assert {f"dialer-{p}.service" for p in install.PARTS} <= set(wants)

    verified = install.verify_units(root, layout)
    assert verified.returncode == 0, verified.stderr
    assert "dialer" not in verified.stderr  # not even a warning about our units


@needs_systemd_tools
def test_a_second_install_keeps_the_secrets_and_the_administrators_changes(tmp_path):
    root = tmp_path / "root"
    install.install_files(root, Layout())
    config = root / "etc/dialer/dialer.json"
    first = json.loads(config.read_text())
    config.write_text(json.dumps({**first, "metrics_allow": "10.0.0.0/8"}))
    install.install_files(root, Layout())
    second = json.loads(config.read_text())
    assert {k: second[k] for k in install.SECRETS} == {k: first[k] for k in install.SECRETS}
    assert second["metrics_allow"] == "10.0.0.0/8"


@needs_systemd_tools
def test_verify_finds_a_broken_unit(tmp_path):
    """The check the units pass is one that can fail: a service whose program does not exist."""
    root = tmp_path / "root"
    layout = Layout(dialer=Path("/nonexistent/bin/dialer"))
    install.write_files(root, layout)
    verified = install.verify_units(root, layout)
    assert verified.returncode != 0 and "/nonexistent/bin/dialer" in verified.stderr


@needs_systemd_tools
def test_an_external_database_has_no_cluster_unit(tmp_path):
    root = tmp_path / "root"
    install.write_files(root, Layout(own_database=False))
    assert not (root / "etc/systemd/system/dialer-postgresql.service").exists()
    assert "postgresql" not in unit(root, "dialer-engine.service")["Unit"]["After"]
    assert install.verify_units(root, Layout(own_database=False)).returncode == 0


def test_the_command_line_installs_into_a_root(tmp_path):
    """`dialer install --root DIR --no-start` as an administrator types it: files only, nothing started."""
    import sys

    done = subprocess.run([sys.executable, "-m", "dialer.cli", "install", "--root", str(tmp_path), "--no-start"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "not started" in done.stdout
    assert (tmp_path / "etc/systemd/system/dialer.target").exists()
