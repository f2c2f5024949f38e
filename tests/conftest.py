"""Fixtures: a real PocketBase on a free port in a temp dir, and helpers to talk to it."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests
import yaml

from ops.pbserver import PocketBaseServer

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "openapi-wx.yaml"
PROJECT_SPEC = ROOT / "spec" / "openapi-wx.yaml"

SUPERUSER_EMAIL = "root@example.com"
SUPERUSER_PASSWORD = "Test-superuser-" + secrets.token_hex(8)

pytest_plugins = ["tests.stack_fixtures"] if (Path(__file__).parent / "stack_fixtures.py").exists() else []


class PB:
    """A thin HTTP helper over one PocketBase: superuser, guest or user-token calls."""

    def __init__(self, server: PocketBaseServer):
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        self.superuser_token = server.superuser_token()

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        """token None = superuser, "" = guest."""
        headers = kwargs.pop("headers", {})
        auth = self.superuser_token if token is None else token
        if auth:
            headers["Authorization"] = auth
        return self.session.request(method, self.url + path, headers=headers, timeout=15, **kwargs)

    def create(self, collection: str, data: dict, token: str | None = None, **kwargs) -> requests.Response:
        return self.request("POST", f"/api/collections/{collection}/records", token, json=data, **kwargs)

    def create_user(self, **fields) -> dict:
        """A tbl_auth_users record created as superuser, as the sidecar does."""
        password = secrets.token_urlsafe(32)
        body = {"password": password, "passwordConfirm": password, **fields}
        response = self.create("tbl_auth_users", body)
        assert response.status_code == 200, response.text
        return response.json()

    def user_token(self, record_id: str, duration: int = 3600) -> str:
        response = self.request("POST", f"/api/collections/tbl_auth_users/impersonate/{record_id}",
                                json={"duration": duration})
        assert response.status_code == 200, response.text
        return response.json()["token"]


@pytest.fixture(scope="session")
def pocketbase(tmp_path_factory) -> PocketBaseServer:
    """One PocketBase for the session, with the project's migrations and hooks."""
    base = tmp_path_factory.mktemp("pocketbase")
    server = PocketBaseServer(base / "pb_data", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, log_path=base / "pocketbase.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pb(pocketbase) -> PB:
    return PB(pocketbase)


@pytest.fixture
def unique() -> str:
    """A short random token for names that must not collide across tests."""
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def spec() -> dict:
    """The project's OpenAPI document."""
    return yaml.safe_load(PROJECT_SPEC.read_text(encoding="utf-8"))
