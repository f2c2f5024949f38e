"""Logout everywhere and closing the account, through nginx with real processes (sidecar/accounts.py,
pb_hooks/accounts.pb.js)."""
from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import RealtimeListener, assert_envelope, login_through, route

pytestmark = pytest.mark.slow


def native_refresh(stack, token: str) -> requests.Response:
    """PocketBase's own auth-refresh with a user token, through nginx."""
    return requests.post(stack.base_url + "/pb/api/collections/tbl_auth_users/auth-refresh",
                         headers={"Authorization": token}, timeout=15)


def native_view(stack, token: str, pb_id: str) -> requests.Response:
    return requests.get(f"{stack.base_url}/pb/api/collections/tbl_auth_users/records/{pb_id}",
                        headers={"Authorization": token}, timeout=15)


def token_works(stack, token: str, pb_id: str) -> bool:
    """Whether the token is accepted by our routes and by PocketBase's native API (both, or neither)."""
    ours = route(stack, "wechat/profile", token=token, json={}).status_code
    native = (native_refresh(stack, token).status_code, native_view(stack, token, pb_id).status_code)
    assert (ours == 200) == (native == (200, 200)), (ours, native)
    return ours == 200


def test_logout_revokes_the_tokens_of_every_session(stack, conforms, unique):
    first, user = login_through(stack, f"logout-{unique}.phone")
    second, again = login_through(stack, f"logout-{unique}.tablet")
    assert again["pb_id"] == user["pb_id"]
    assert token_works(stack, first, user["pb_id"]) and token_works(stack, second, user["pb_id"])

    response = route(stack, "wechat/logout", token=first)
    body = assert_envelope(response, 200)
    conforms("AccountActionResponse", body)
    assert body["msg"] == "已退出登录" and body["data"] == {"status": "logout_success"}

    for token in (first, second):
        assert not token_works(stack, token, user["pb_id"])
        assert_envelope(route(stack, "wechat/profile", token=token, json={}), 401)
        assert native_refresh(stack, token).status_code == 401
        # Nor can an old token get a new one from our refresh route.
        assert_envelope(route(stack, "system/refresh-token", token=token), 401)
        assert_envelope(route(stack, "wechat/logout", token=token), 401)

    third, later = login_through(stack, f"logout-{unique}.phone2")
    assert later["pb_id"] == user["pb_id"]
    assert token_works(stack, third, user["pb_id"])


def test_logout_drops_the_auth_of_open_realtime_connections(stack, stack_pb, unique):
    """PocketBase (0.38.1+) unsets the auth of realtime connections when a record's tokenKey changes."""
    token, user = login_through(stack, f"logout-rt-{unique}")
    listener = RealtimeListener(stack.base_url, token, f"tbl_auth_users/{user['pb_id']}")
    try:
        def touch(tag: str) -> None:
            touched = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}",
                                       json={"users_tag": tag})
            assert touched.status_code == 200, touched.text
        touch("before")
        # The user sees changes of their own record while logged in...
        assert json.loads(listener.next_data())["record"]["users_tag"] == "before"
        assert_envelope(route(stack, "wechat/logout", token=token), 200)
        touch("after")
        # ... and no longer once logged out: the connection is a guest's now.
        assert listener.next_data() is None
    finally:
        listener.close()


def test_close_account_frees_the_phone_and_a_later_login_registers_anew(stack, stack_pb, conforms, unique):
    phone = f"139{random.randrange(10**8):08d}"
    token, user = login_through(stack, f"closer-{unique}")
    assert_envelope(route(stack, "wechat/profile", token=token, json={"users_phone": phone}), 200)
    company = requests.post(stack.base_url + "/pb/api/collections/tbl_company/records", timeout=15,
                            json={"company_name": "注销测试", "company_owner_openid": user["openid"]})
    assert company.status_code == 200, company.text

    response = route(stack, "wechat/close-account", token=token)
    body = assert_envelope(response, 200)
    conforms("AccountActionResponse", body)
    assert body["msg"] == "账号已注销" and body["data"] == {"status": "close_success"}

    assert stack_pb.users(f'openid = "{user["openid"]}"') == []
    assert not token_works(stack, token, user["pb_id"])
    assert_envelope(route(stack, "wechat/close-account", token=token), 401)
    # What referred to the user stays.
    kept = stack_pb.request("GET", f"/api/collections/tbl_company/records/{company.json()['id']}")
    assert kept.status_code == 200 and kept.json()["company_owner_openid"] == user["openid"]

    other, _ = login_through(stack, f"phone-taker-{unique}")
    taken = route(stack, "wechat/profile", token=other, json={"users_phone": phone})
    assert assert_envelope(taken, 200)["data"]["user"]["users_phone"] == phone

    response = route(stack, "wechat/login", json={"users_wx_code": f"closer-{unique}.again"})
    body = assert_envelope(response, 200)
    assert body["data"]["status"] == "register_success"
    assert body["data"]["user"]["openid"] == user["openid"] and body["data"]["user"]["pb_id"] != user["pb_id"]
    assert body["data"]["user"]["users_phone"] == ""


def _bad_bearers(stack, stack_pb):
    """Bearers that name no live user: none, garbage, a superuser's token, and what other users present."""
    return {
        "missing": None,
        "not a jwt": "not-a-token",
        "forged": "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6Inh4eCIsInR5cGUiOiJhdXRoIn0.c2lnbmF0dXJl",
        "superuser": stack_pb.superuser_token,
    }


@pytest.mark.parametrize("path", ["wechat/logout", "wechat/close-account"])
@pytest.mark.parametrize("kind", ["missing", "not a jwt", "forged", "superuser"])
def test_no_valid_bearer_is_a_401_that_changes_nothing(stack, stack_pb, unique, path, kind):
    token, user = login_through(stack, f"bystander-{unique}")
    bearer = _bad_bearers(stack, stack_pb)[kind]
    response = route(stack, path, raw_auth=f"Bearer {bearer}" if bearer else None)
    assert_envelope(response, 401)
    assert token_works(stack, token, user["pb_id"])
    assert len(stack_pb.users(f'id = "{user["pb_id"]}"')) == 1


@pytest.mark.parametrize("path", ["wechat/logout", "wechat/close-account"])
def test_a_body_that_is_not_json_is_a_415_that_changes_nothing(stack, unique, path):
    token, user = login_through(stack, f"textbody-{unique}")
    response = route(stack, path, token=token, data="x", headers={"Content-Type": "text/plain"})
    assert_envelope(response, 415)
    assert token_works(stack, token, user["pb_id"])


def test_logout_racing_profile_updates_loses_none_of_them(stack, stack_pb, unique):
    """Logout saves the whole record: read and written in one transaction, it cannot undo a concurrent update."""
    lost = []
    for round_ in range(15):
        updater, user = login_through(stack, f"race-out-{unique}.a{round_}")
        leaver, _ = login_through(stack, f"race-out-{unique}.b{round_}")
        barrier = threading.Barrier(2)

        def update():
            barrier.wait()
            return route(stack, "wechat/profile", token=updater, json={"users_tag": f"tag-{round_}"})

        def logout():
            barrier.wait()
            return route(stack, "wechat/logout", token=leaver)

        with ThreadPoolExecutor(2) as pool:
            updated, logged_out = pool.submit(update), pool.submit(logout)
            assert logged_out.result().status_code == 200
            if updated.result().status_code == 200 and stack_pb.user(user["pb_id"])["users_tag"] != f"tag-{round_}":
                lost.append(round_)
    assert lost == []
