"""`init_secrets` gives the PostgreSQL superuser a secret of its own (issue 12, defect 12): a new installation
at once, an existing one on its next `dialer setup`, its other secrets kept as they were."""
from __future__ import annotations

import json

from dialer import settings


def test_a_new_installation_gets_a_superuser_secret_apart_from_the_applications(tmp_path):
    s = settings.load({"DIALER_STATE_DIR": str(settings.init_secrets(tmp_path).parent)})
    assert s.db_superuser_password and s.db_password and s.db_superuser_password != s.db_password


def test_an_existing_installation_gets_one_and_keeps_its_other_secrets(tmp_path):
    old = {"db_password": "app-secret", "asterisk_password": "a", "api_token": "t", "ari_password": "r",
           "web_port": 8080}
    (tmp_path / "dialer.json").write_text(json.dumps(old))
    settings.init_secrets(tmp_path)
    now = json.loads((tmp_path / "dialer.json").read_text())
    assert {k: now[k] for k in old} == old
    assert now["db_superuser_password"] not in ("", "app-secret")
    again = settings.init_secrets(tmp_path)  # a second set-up changes nothing
    assert json.loads(again.read_text()) == now
