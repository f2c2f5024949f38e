"""pb_hooks/settings.pb.js: PocketBase checks its settings at boot (ops/settings.py's forms, through the generated
lib/settings.js) and RATE_LIMITS off, in any form the table accepts, turns its own limiter off for the process,
even when `serve` applies the migrations after boot (a fresh data dir)."""
from __future__ import annotations

import os

import pytest
import requests

from ops.pbserver import PocketBaseServer
from ops.settings import BY_NAME

EMAIL, PASSWORD = "limits@example.com", "Limits-superuser-123"


def serve_fresh(tmp_path, **env) -> PocketBaseServer:
    """PocketBase on a fresh data dir, served straight away: its migrations run after the bootstrap hooks."""
    server = PocketBaseServer(tmp_path / "pb_data", EMAIL, PASSWORD, log_path=tmp_path / "pocketbase.log",
                              env={**os.environ, **env})
    return server.start()


def superuser_logins(server: PocketBaseServer, count: int) -> list[int]:
    """Statuses of count superuser logins sent straight to PocketBase from one client address (X-Real-IP)."""
    return [requests.post(f"{server.url}/api/collections/_superusers/auth-with-password", timeout=10,
                          json={"identity": EMAIL, "password": PASSWORD},
                          headers={"X-Real-IP": "203.0.113.9"}).status_code for _ in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize("rate_limits, limited", [("off", False), ("No", False), ("20r/s,burst=40", True)])
def test_pocketbases_own_limiter_follows_rate_limits(tmp_path, rate_limits, limited):
    server = serve_fresh(tmp_path, RATE_LIMITS=rate_limits)
    try:
        statuses = superuser_logins(server, 14)  # schema.yaml: *:auth allows 10 a minute
    finally:
        server.stop()
    assert (429 in statuses) is limited, statuses
    assert statuses[:10] == [200] * 10


@pytest.mark.parametrize("name, value", [("RATE_LIMITS", "fast"), ("UPLOAD_RATE", "30/h"), ("LOGIN_LOG_DAYS", "0")])
def test_a_value_the_table_does_not_accept_stops_pocketbase_naming_the_setting(tmp_path, name, value):
    with pytest.raises(RuntimeError) as raised:
        serve_fresh(tmp_path, **{name: value})
    assert f"setting {name} must be {BY_NAME[name].forms.described}" in str(raised.value)
