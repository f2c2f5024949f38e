"""Helpers shared by the tests: PocketBase as superuser, our routes through nginx, the envelope check, a page
in headless Chromium."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile

import pytest
import requests

from ops.pbserver import PocketBaseServer


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

    def user(self, pb_id: str) -> dict:
        """The stored tbl_auth_users record."""
        response = self.request("GET", f"/api/collections/tbl_auth_users/records/{pb_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def users(self, filter_: str) -> list[dict]:
        """Every user matching filter_ (up to 500)."""
        response = self.request("GET", "/api/collections/tbl_auth_users/records",
                                params={"filter": filter_, "perPage": 500})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def total(self, collection: str, filter_: str = "") -> int:
        """totalItems of collection, optionally filtered."""
        params = {"perPage": 1, **({"filter": filter_} if filter_ else {})}
        response = self.request("GET", f"/api/collections/{collection}/records", params=params)
        assert response.status_code == 200, response.text
        return response.json()["totalItems"]


def route(stack, path: str, token: str | None = None, raw_auth: str | None = None, timeout: float = 30,
          **kwargs) -> requests.Response:
    """POST to one of our routes through the stack's nginx: route(stack, "wechat/login", json=...)."""
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if raw_auth is not None:
        headers["Authorization"] = raw_auth
    return requests.post(stack.base_url + "/pb/api/" + path, headers=headers, timeout=timeout, **kwargs)


def login_through(stack, code: str) -> tuple[str, dict]:
    """(token, UserInfo) of a WeChat login through the stack."""
    response = route(stack, "wechat/login", json={"users_wx_code": code})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["token"], body["data"]["user"]


def assert_envelope(response: requests.Response, status: int) -> dict:
    """The response is our {code, msg, data} JSON envelope with code == HTTP status (no token unless 200)."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) >= {"code", "msg", "data"}, body
    assert body["code"] == status and isinstance(body["msg"], str) and body["msg"]
    assert isinstance(body["data"], dict)
    assert "token" not in body or status == 200
    return body


class RealtimeListener:
    """A realtime (SSE) client through nginx, subscribed to one topic with a token ("" = guest)."""

    READ_TIMEOUT = 1.5

    def __init__(self, base_url: str, token: str, topic: str):
        self._stream = requests.get(base_url + "/pb/api/realtime", stream=True, timeout=(5, self.READ_TIMEOUT))
        self._lines = self._stream.iter_lines(decode_unicode=True)
        client_id = json.loads(self.next_data())["clientId"]
        subscribed = requests.post(base_url + "/pb/api/realtime", headers={"Authorization": token} if token else {},
                                   json={"clientId": client_id, "subscriptions": [topic]}, timeout=15)
        assert subscribed.status_code == 204, subscribed.text

    def next_data(self) -> str | None:
        """The data of the next event, or None when none comes within READ_TIMEOUT seconds."""
        try:
            return next(line[5:] for line in self._lines if line.startswith("data:"))
        except requests.exceptions.ConnectionError:  # requests' read timeout while streaming
            return None

    def close(self):
        self._stream.close()


def chromium_page(url: str) -> tuple[str, list[str]]:
    """The DOM of a page after its scripts ran in headless Chromium, and the page's console messages."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make test` installs it (make chromium)")
        pytest.skip("chromium is not installed (make chromium)")
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=8000", "--dump-dom",
             # Console messages (every level, uncaught errors too) go to stderr as "...:CONSOLE:...] ".
             "--enable-logging=stderr", "--log-level=0", url],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
