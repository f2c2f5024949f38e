"""The ban (users_status 禁用): pb_hooks/ban.pb.js, the checks of pb_hooks/lib/wechat_users.js, the collection's
authRule (schema.yaml), the 403 of the user_banned refusal (vocabulary.yaml, sidecar/errors.py); through nginx
with real processes."""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
import requests

from tests.helpers import RealtimeListener, assert_envelope, login_through, route
from tests.test_accounts import native_refresh, native_view, token_works
from tests.test_audit import rows_by_agent

pytestmark = pytest.mark.slow

BANNED, ACTIVE = "禁用", "正常"


def set_status(stack_pb, pb_id: str, status: str) -> dict:
    """What an operator does in the dashboard: a superuser PATCH of users_status."""
    response = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{pb_id}",
                                json={"users_status": status})
    assert response.status_code == 200, response.text
    return response.json()


def assert_banned_answer(response: requests.Response) -> None:
    body = assert_envelope(response, 403)
    assert body["msg"] == "账号已被禁用" and "token" not in body


def test_a_new_user_is_active(stack, unique):
    _, user = login_through(stack, f"newcomer-{unique}")
    assert user["users_status"] == ACTIVE


def test_a_ban_kills_every_token_on_every_surface_in_the_same_save(stack, stack_pb, unique):
    first, user = login_through(stack, f"banned-{unique}.phone")
    second, _ = login_through(stack, f"banned-{unique}.tablet")
    pb_id = user["pb_id"]
    assert token_works(stack, first, pb_id) and token_works(stack, second, pb_id)
    listener = RealtimeListener(stack.base_url, first, f"tbl_auth_users/{pb_id}")

    def touch(tag: str) -> None:
        touched = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{pb_id}",
                                   json={"users_status": ACTIVE if tag == "before" else BANNED, "users_tag": tag})
        assert touched.status_code == 200, touched.text

    try:
        touch("before")  # a save that is no ban leaves the tokens alone: the user sees their record change
        assert json.loads(listener.next_data())["record"]["users_tag"] == "before"
        before = stack_pb.user(pb_id)
        set_status(stack_pb, pb_id, BANNED)
        touch("after")
        # The connection is a guest's from the ban on (whether the ban's own event still reaches it is
        # PocketBase's ordering): what changes afterwards is not delivered.
        seen = [json.loads(data)["record"]["users_tag"] for data in iter(listener.next_data, None)]
        assert "after" not in seen and len(seen) <= 1
    finally:
        listener.close()
    after = stack_pb.user(pb_id)
    # Nothing else of the record changed (the hidden tokenKey aside); "after" was the operator's own edit.
    assert {k: v for k, v in after.items() if k not in ("users_status", "users_tag", "updated")} == \
        {k: v for k, v in before.items() if k not in ("users_status", "users_tag", "updated")}
    for token in (first, second):
        assert not token_works(stack, token, pb_id)
        assert native_refresh(stack, token).status_code == 401
        assert native_view(stack, token, pb_id).status_code == 404
        assert_envelope(route(stack, "wechat/profile", token=token, json={"users_tag": "x"}), 401)
        assert_envelope(route(stack, "wechat/logout", token=token), 401)
    assert stack_pb.user(pb_id)["users_tag"] == "after"


def test_a_banned_user_gets_no_token_by_code_and_each_refusal_is_audited(stack, stack_pb, unique):
    token, user = login_through(stack, f"refused-{unique}")
    set_status(stack_pb, user["pb_id"], BANNED)
    agent = f"BanAudit/{unique}"
    assert_banned_answer(route(stack, "wechat/login", json={"users_wx_code": f"refused-{unique}.2"},
                               headers={"User-Agent": agent}))
    assert_banned_answer(route(stack, "system/refresh-token", json={"users_wx_code": f"refused-{unique}.3"},
                               headers={"User-Agent": agent}))
    # An old bearer plus a code: the bearer is dead, the code is refused.
    assert_banned_answer(route(stack, "system/refresh-token", token=token,
                               json={"users_wx_code": f"refused-{unique}.4"}, headers={"User-Agent": agent}))
    rows = rows_by_agent(stack_pb, agent, 3)
    assert [(r["route"], r["result"], r["status"], r["reason"]) for r in rows] == [
        ("login", "failed", 403, "账号已被禁用"), ("refresh-token", "failed", 403, "账号已被禁用"),
        ("refresh-token", "failed", 403, "账号已被禁用")]
    assert stack_pb.user(user["pb_id"])["users_status"] == BANNED


def test_a_token_that_outlived_its_ban_is_refused_everywhere(stack, stack_pb, unique):
    """A ban written past PocketBase's hooks (straight into SQLite, as an import would) leaves the tokenKey, so the
    token survives: PocketBase's native auth-refresh refuses it (the collection's authRule) and our routes refuse
    it with the ban's 403 (lib/wechat_users.js)."""
    token, user = login_through(stack, f"imported-{unique}")
    with closing(sqlite3.connect(stack.pb.data_dir / "data.db", timeout=10)) as db, db:
        db.execute("UPDATE tbl_auth_users SET users_status = ? WHERE id = ?", (BANNED, user["pb_id"]))
    assert native_refresh(stack, token).status_code in (401, 403)
    assert_banned_answer(route(stack, "wechat/profile", token=token, json={"users_tag": "x"}))
    assert_banned_answer(route(stack, "wechat/logout", token=token))
    assert stack_pb.user(user["pb_id"])["users_tag"] == ""


def test_lifting_the_ban_lets_the_next_login_work(stack, stack_pb, unique):
    _, user = login_through(stack, f"pardoned-{unique}")
    set_status(stack_pb, user["pb_id"], BANNED)
    assert_banned_answer(route(stack, "wechat/login", json={"users_wx_code": f"pardoned-{unique}.2"}))
    set_status(stack_pb, user["pb_id"], ACTIVE)
    token, again = login_through(stack, f"pardoned-{unique}.3")
    assert again["pb_id"] == user["pb_id"] and again["users_status"] == ACTIVE
    assert token_works(stack, token, user["pb_id"])
    refreshed = route(stack, "system/refresh-token", token=token)
    assert_envelope(refreshed, 200)
    assert native_refresh(stack, refreshed.json()["token"]).status_code == 200
