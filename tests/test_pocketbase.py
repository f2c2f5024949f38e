"""sidecar/pocketbase.py: superuser session renewal, failures as typed errors, token verification."""
from __future__ import annotations

import pytest

from ops.pbserver import PocketBaseServer
from ops.processes import free_port
from sidecar.errors import ServiceUnavailable
from sidecar.pocketbase import PocketBaseGateway, token_claims


@pytest.fixture
def gateway(sidecar_config):
    return PocketBaseGateway(sidecar_config.PB_URL, sidecar_config.PB_SUPERUSER_EMAIL,
                             sidecar_config.PB_SUPERUSER_PASSWORD)


def test_superuser_session_is_reused(gateway):
    gateway.count_records("tbl_company")
    token = gateway._token
    gateway.count_records("tbl_company")
    assert gateway._token == token


def test_revoked_superuser_token_is_renewed_on_refusal(gateway, pb):
    gateway.count_records("tbl_company")
    gateway._token = gateway._token[:-4] + "AAAA"  # revoked: PocketBase now treats us as a guest
    user = pb.create_user(openid="")
    assert gateway.impersonate("tbl_auth_users", user["id"], 60).count(".") == 2  # 403 as guest -> renewed
    assert not gateway._token.endswith("AAAA")


def test_revoked_superuser_token_is_caught_by_the_periodic_check(gateway, pb):
    pb.create_user(openid="")
    real_total = gateway.count_records("tbl_auth_users")
    gateway._token = gateway._token[:-4] + "AAAA"
    gateway._token_checked -= 10_000  # the re-check is due
    assert gateway.count_records("tbl_auth_users") == real_total > 0  # a guest would count 0


def test_unreachable_pocketbase_is_503():
    gateway = PocketBaseGateway(f"http://127.0.0.1:{free_port()}", "a@b.cd", "x", timeout=2)
    with pytest.raises(ServiceUnavailable):
        gateway.count_records("tbl_company")
    assert gateway.healthy() is False


def test_user_token_is_verified_by_pocketbase(gateway, pb):
    user = pb.create_user(openid="gw-verify")
    token = pb.user_token(user["id"])
    assert gateway.record_for_token("tbl_auth_users", token)["id"] == user["id"]


@pytest.mark.parametrize("make_token", [
    lambda pb: pb.superuser_token,
    lambda pb: "",
    lambda pb: "not.a.jwt",
    lambda pb: pb.user_token(pb.create_user(openid="")["id"])[:-3] + "abc",
    lambda pb: _expired(pb),
    lambda pb: _deleted_users_token(pb),
])
def test_invalid_tokens_are_refused(gateway, pb, make_token):
    assert gateway.record_for_token("tbl_auth_users", make_token(pb)) is None


def _expired(pb) -> str:
    import time
    token = pb.user_token(pb.create_user(openid="")["id"], duration=1)
    time.sleep(2.1)
    return token


def _deleted_users_token(pb) -> str:
    user = pb.create_user(openid="")
    token = pb.user_token(user["id"])
    assert pb.request("DELETE", f"/api/collections/tbl_auth_users/records/{user['id']}").status_code == 204
    return token


def test_token_claims_of_garbage_are_empty():
    assert token_claims("x") == {} and token_claims("a.!!!.c") == {} and token_claims("a.bnVsbA.c") == {}


def test_pocketbase_restart_is_survived(tmp_path):
    server = PocketBaseServer(tmp_path / "data", "restart@example.com", "Restart-pass-123", log_path=tmp_path / "pb.log")
    server.start()
    gateway = PocketBaseGateway(server.url, "restart@example.com", "Restart-pass-123", timeout=2)
    try:
        assert gateway.count_records("tbl_company") == 0
        server.stop()
        with pytest.raises(ServiceUnavailable):
            gateway.count_records("tbl_company")
        server.start()
        assert gateway.count_records("tbl_company") == 0
    finally:
        server.stop()
