"""POST /pb/api/system/refresh-token and /users-count, GET /pb/api/system/health."""
from __future__ import annotations

import time

import pytest
import yaml

from sidecar.pocketbase import token_claims
from sidecar.limits import SCHEMA_PATH

REFRESH, COUNT, HEALTH = "/pb/api/system/refresh-token", "/pb/api/system/users-count", "/pb/api/system/health"


def user_of(client, token) -> str:
    """pb_id of the token's user, proven by a profile call with it."""
    response = client.post("/pb/api/wechat/profile", json={}, headers={"Authorization": token})
    assert response.status_code == 200, response.json
    return response.json["data"]["user"]["pb_id"]


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", ""])
def test_refresh_with_a_valid_token(client, login, conforms, scheme):
    token, user = login()
    response = client.post(REFRESH, headers={"Authorization": scheme + token})
    assert response.status_code == 200
    conforms("RefreshTokenResponse", response.json)
    assert (response.json["msg"], response.json["data"]) == ("刷新成功", {})
    assert user_of(client, response.json["token"]) == user["pb_id"]


def test_tokens_are_refreshable_natively_and_live_as_long_as_the_collection_says(client, login, pb):
    token, user = login()
    duration = next(c for c in yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))["collections"]
                    if c["name"] == "tbl_auth_users")["auth"]["token_duration"]
    assert abs(token_claims(token)["exp"] - time.time() - duration) < 60
    native = pb.request("POST", "/api/collections/tbl_auth_users/auth-refresh", token=token)
    assert native.status_code == 200 and native.json()["record"]["id"] == user["pb_id"]
    refreshed = client.post(REFRESH, headers={"Authorization": native.json()["token"]}).json["token"]
    assert token_claims(refreshed)["refreshable"] is True and user_of(client, refreshed) == user["pb_id"]


@pytest.mark.parametrize("header", [None, "Bearer junk", "Bearer a.b.c"])
def test_refresh_with_a_wechat_code_when_the_token_is_unusable(client, login, wechat, unique, header):
    _, user = login(f"refresher-{unique}")
    headers = {"Authorization": header} if header else {}
    response = client.post(REFRESH, json={"users_wx_code": f"refresher-{unique}.again"}, headers=headers)
    assert response.status_code == 200
    assert user_of(client, response.json["token"]) == user["pb_id"]


def test_refresh_never_creates_a_user(client, pb, unique):
    response = client.post(REFRESH, json={"users_wx_code": f"stranger-{unique}"})
    assert response.status_code == 404 and response.json["code"] == 404 and "token" not in response.json
    assert pb.total("tbl_auth_users", f'openid = "oid-stranger-{unique}"') == 0  # the user it would have made


@pytest.mark.parametrize("kwargs, status", [
    ({}, 401),
    ({"json": {}}, 401),
    ({"json": {"users_wx_code": None}}, 401),
    ({"json": {"users_wx_code": ""}}, 401),
    ({"headers": {"Authorization": "Bearer junk"}}, 401),
    ({"json": {"users_wx_code": 5}}, 400),
    ({"json": [1]}, 400),
    ({"data": "code=1", "content_type": "text/plain"}, 415),
])
def test_refresh_refusals(client, kwargs, status):
    response = client.post(REFRESH, **kwargs)
    assert response.status_code == status and response.json["code"] == status
    assert "token" not in response.json


def test_refresh_with_a_refused_wechat_code(client, wechat, unique):
    wechat.errors[f"used-{unique}"] = 40163
    response = client.post(REFRESH, json={"users_wx_code": f"used-{unique}"})
    assert response.status_code == 400 and "已被使用" in response.json["msg"]


def test_users_count_counts_a_registration_and_a_deletion_at_once(client, login, conforms, pb):
    before = client.post(COUNT)
    conforms("UsersCountResponse", before.json)
    _, user = login()
    after = client.post(COUNT, json={}).json["data"]["total_users"]
    assert after == before.json["data"]["total_users"] + 1 == pb.total("tbl_auth_users")
    assert pb.request("DELETE", f"/api/collections/tbl_auth_users/records/{user['pb_id']}").status_code == 204
    assert client.post(COUNT).json["data"]["total_users"] == after - 1 == pb.total("tbl_auth_users")


def test_users_count_refuses_a_non_json_body(client):
    response = client.post(COUNT, data="x", content_type="text/plain")
    assert response.status_code == 415 and response.json["code"] == 415


def test_health_reports_pocketbase_and_wechat_mode(client):
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response.json["data"] == {"pocketbase": "ok", "wechat_mode": "live", "replica": {"status": "off"}}

