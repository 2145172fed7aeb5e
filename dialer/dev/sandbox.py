"""The cached Debian sid root that runs Asterisk 22 in a chroot (Debian 12 has no Asterisk)."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from dialer.settings import Settings

log = logging.getLogger(__name__)

MIRROR = os.environ.get("DIALER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "asterisk,asterisk-modules,asterisk-config"


def asterisk_version(root: Path) -> str | None:
    """`asterisk -V` inside the root, or None when the root is missing or broken."""
    if not (root / "usr/sbin/asterisk").exists():
        return None
    try:
        out = subprocess.run(["chroot", str(root), "asterisk", "-V"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and text.startswith("Asterisk") else None


def ensure_root(settings: Settings) -> Path:
    """Reuse the cached root, or debootstrap a new one into `<root>.tmp` and rename it on success,
    so an interrupted build never looks like a valid root."""
    root = Path(settings.asterisk_root)
    version = asterisk_version(root)
    if version:
        log.info("reusing Asterisk root %s (%s)", root, version)
        return root
    if os.geteuid() != 0:
        raise PermissionError(f"building the Asterisk root {root} needs root (debootstrap, chroot)")
    if root.exists():
        log.warning("%s exists but has no working Asterisk: rebuilding it", root)
        _remove(root)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists() and not asterisk_version(tmp):
        log.info("removing unfinished build %s", tmp)
        _remove(tmp)
    if not tmp.exists():
        _debootstrap(tmp)
    version = asterisk_version(tmp)
    if not version:
        raise RuntimeError(f"debootstrap into {tmp} finished but `asterisk -V` fails there")
    tmp.rename(root)
    log.info("Asterisk root ready at %s (%s)", root, version)
    return root


def _debootstrap(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("debootstrap sid into %s (about a minute, ~500 MB)", target)
    started = time.monotonic()
    cmd = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "sid", str(target), MIRROR]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"debootstrap failed ({proc.returncode}):\n{tail}")
    log.info("debootstrap done in %.0f s", time.monotonic() - started)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _remove(path: Path) -> None:
    """rmtree, but never through a mount: a failed debootstrap can leave the host's /proc or /sys
    mounted inside, and deleting through them would damage the host."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False)
    if _mounts_under(path):
        raise RuntimeError(f"{path} still has mounts inside; refusing to delete it")
    shutil.rmtree(path)
