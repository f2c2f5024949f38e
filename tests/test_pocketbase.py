"""sidecar/pocketbase.py: superuser session renewal, failures as typed errors, internal routes, native auth-refresh."""
from __future__ import annotations

import secrets
import time

import pytest

from ops.pbserver import PocketBaseServer
from ops.processes import free_port
from sidecar.pocketbase import (
    RECHECK_SECONDS, PocketBaseError, PocketBaseGateway, PocketBaseUnavailable, token_claims,
)


class FakeClock:
    """Wall-clock seconds that only move when a test moves them."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def superuser(pb):
    """A superuser of its own (email, password, record id): revoking its tokens leaves the other tests' alone."""
    email, password = f"gw-{secrets.token_hex(4)}@example.com", "Gw-pass-" + secrets.token_hex(8)
    created = pb.create("_superusers", {"email": email, "password": password, "passwordConfirm": password})
    assert created.status_code == 200, created.text
    yield email, password, created.json()["id"]
    pb.request("DELETE", f"/api/collections/_superusers/records/{created.json()['id']}")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gateway(pb, superuser, clock):
    email, password, _ = superuser
    return PocketBaseGateway(pb.url, email, password, clock=clock)


def revoke_tokens(pb, superuser) -> None:
    """Every token of that superuser stops working (a new tokenKey), as a password change or an operator would."""
    response = pb.request("PATCH", f"/api/collections/_superusers/records/{superuser[2]}",
                          json={"tokenKey": secrets.token_hex(25)})
    assert response.status_code == 200, response.text


def users_count(gateway) -> int:
    return gateway.internal("GET", "users-count")["total"]


def test_superuser_session_is_reused_until_its_recheck_is_due(gateway, pb, superuser, clock):
    users_count(gateway)
    token = gateway._token
    clock.now += RECHECK_SECONDS - 1
    users_count(gateway)
    assert gateway._token == token
    revoke_tokens(pb, superuser)
    clock.now += 2  # due: auth-refresh of a revoked token fails, so the gateway signs in again
    assert users_count(gateway) >= 0 and gateway._token != token


def test_revoked_superuser_token_is_renewed_on_refusal(gateway, pb, superuser):
    users_count(gateway)
    revoke_tokens(pb, superuser)
    assert users_count(gateway) >= 0  # 401 as a guest -> signed in again, the call repeated


def test_revoked_superuser_token_is_caught_by_the_periodic_check(gateway, pb, superuser, clock):
    user = pb.create_user(openid="")

    def rows_seen() -> int:  # a guest is refused nothing here: it sees no row (tbl_auth_users' list rule)
        return gateway.call("GET", "/api/collections/tbl_auth_users/records",
                            params={"filter": f'id="{user["id"]}"'})["totalItems"]

    assert rows_seen() == 1
    revoke_tokens(pb, superuser)
    assert rows_seen() == 0  # what the periodic check is for: a revoked token silently reads as a guest
    clock.now += RECHECK_SECONDS
    assert rows_seen() == 1


def test_unreachable_pocketbase_is_503():
    gateway = PocketBaseGateway(f"http://127.0.0.1:{free_port()}", "a@b.cd", "x", timeout=2)
    with pytest.raises(PocketBaseUnavailable):
        gateway.collection_id("tbl_company")
    assert gateway.healthy() is False


def test_user_token_is_refreshed_by_pocketbase(gateway, pb, unique):
    token = gateway.internal("POST", "wechat-login", {"openid": f"gw-{unique}", "create": True})["token"]
    refreshed = gateway.auth_refresh("tbl_auth_users", token)
    assert token_claims(refreshed)["id"] == token_claims(token)["id"]


def test_internal_refusal_is_not_taken_for_a_revoked_superuser_token(gateway):
    users_count(gateway)
    token = gateway._token
    with pytest.raises(PocketBaseError) as refused:
        gateway.internal("POST", "profile", {"token": "x", "changes": {}})
    assert (refused.value.status, refused.value.reason) == (401, "token_invalid") and gateway._token == token


def _login_token(gateway) -> str:
    """A refreshable token of a new user, as the login route hands out."""
    return gateway.internal("POST", "wechat-login", {"openid": "gw-" + secrets.token_hex(6), "create": True})["token"]


@pytest.mark.parametrize("make_token", [
    lambda gateway, pb: pb.superuser_token,
    lambda gateway, pb: "",
    lambda gateway, pb: "not.a.jwt",
    lambda gateway, pb: _login_token(gateway)[:-3] + "abc",
    lambda gateway, pb: _expired(pb),
    lambda gateway, pb: _deleted_users_token(gateway, pb),
], ids=["superuser", "empty", "garbage", "bad-signature", "expired", "deleted-user"])
def test_invalid_tokens_are_refused(gateway, pb, make_token):
    assert gateway.auth_refresh("tbl_auth_users", make_token(gateway, pb)) == ""


def _expired(pb) -> str:
    token = pb.user_token(pb.create_user(openid="")["id"], duration=1)
    time.sleep(2.1)
    return token


def _deleted_users_token(gateway, pb) -> str:
    token = _login_token(gateway)
    user_id = token_claims(token)["id"]
    assert pb.request("DELETE", f"/api/collections/tbl_auth_users/records/{user_id}").status_code == 204
    return token


def test_token_claims_of_garbage_are_empty():
    assert token_claims("x") == {} and token_claims("a.!!!.c") == {} and token_claims("a.bnVsbA.c") == {}


def test_pocketbase_restart_is_survived(tmp_path):
    server = PocketBaseServer(tmp_path / "data", "restart@example.com", "Restart-pass-123", log_path=tmp_path / "pb.log")
    server.start()
    gateway = PocketBaseGateway(server.url, "restart@example.com", "Restart-pass-123", timeout=2)
    try:
        assert users_count(gateway) == 0
        server.stop()
        with pytest.raises(PocketBaseUnavailable):
            users_count(gateway)
        server.start()
        assert users_count(gateway) == 0
    finally:
        server.stop()
