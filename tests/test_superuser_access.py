"""Operator switches for superusers (pb_hooks/superuser_access.pb.js): SUPERUSER_MFA and SUPERUSER_ALLOWED_IPS."""
from __future__ import annotations

import http.client
import json

import pytest
import requests

from ops.stack import StackConfig, StackError
from tests.helpers import login_through


def through_nginx(stack, source_ip: str, method: str, path: str, body: dict | None = None,
                  token: str = "") -> tuple[int, dict]:
    """One request to nginx from a given loopback source address; (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.config.http_port, timeout=10,
                                            source_address=(source_ip, 0))
    try:
        headers = {"Content-Type": "application/json", **({"Authorization": token} if token else {})}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def superuser_login(stack) -> dict:
    return {"identity": stack.config.superuser_email, "password": stack.config.superuser_password}


def test_switches_are_off_by_default(stack, stack_pb):
    superusers = stack_pb.request("GET", "/api/collections/_superusers").json()
    assert superusers["mfa"]["enabled"] is False and superusers["otp"]["enabled"] is False
    status, body = through_nginx(stack, "127.0.0.2", "POST", "/pb/api/collections/_superusers/auth-with-password",
                                 superuser_login(stack))
    assert status == 200 and body["token"]


def test_mfa_and_ip_allow_list_for_superusers(make_stack):
    stack = make_stack(SUPERUSER_MFA="on", SUPERUSER_ALLOWED_IPS="127.0.0.3, 2001:db8::/32")
    auth = "/pb/api/collections/_superusers/auth-with-password"
    # From an address not on the list: no superuser login, and a superuser token is refused.
    status, body = through_nginx(stack, "127.0.0.2", "POST", auth, superuser_login(stack))
    assert status == 403 and "token" not in body and "mfaId" not in body
    token = stack.pb.superuser_token()  # directly from loopback: the password alone, no MFA
    # The collection named by its id is the same door (the hook looks the id up; none is written in it).
    superusers_id = requests.get(f"{stack.pb.url}/api/collections/_superusers", timeout=10,
                                 headers={"Authorization": token}).json()["id"]
    status, body = through_nginx(stack, "127.0.0.2", "POST",
                                 f"/pb/api/collections/{superusers_id}/auth-with-password", superuser_login(stack))
    assert status == 403 and "token" not in body
    status, _ = through_nginx(stack, "127.0.0.2", "GET", "/pb/api/collections/tbl_auth_users/records", token=token)
    assert status == 403
    # Public routes still answer there.
    status, _ = through_nginx(stack, "127.0.0.2", "GET", "/pb/api/collections/tbl_document/records")
    assert status == 200
    # From an allowed address: the token works; a password login must pass MFA (a one-time code next).
    status, _ = through_nginx(stack, "127.0.0.3", "GET", "/pb/api/collections/tbl_auth_users/records", token=token)
    assert status == 200
    status, body = through_nginx(stack, "127.0.0.3", "POST", auth, superuser_login(stack))
    assert status == 401 and body["mfaId"] and "token" not in body
    # The sidecar logs in from loopback and keeps working.
    assert login_through(stack, "switches")[0]


@pytest.mark.parametrize("settings", [{"SUPERUSER_MFA": "yes"}, {"SUPERUSER_ALLOWED_IPS": "10.0.0.0/33"},
                                      {"SUPERUSER_ALLOWED_IPS": "10.0.0.1, office"}])
def test_bad_switches_are_refused(tmp_path, settings):
    with pytest.raises(StackError):
        StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, **settings},
                             dotenv_path=None)
