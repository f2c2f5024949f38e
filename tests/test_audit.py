"""The login audit (sidecar/audit.py, tbl_login_log, pb_hooks/lib/login_log.js and its cron)."""
from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone

import pytest
import requests

from ops.stack import Stack, StackConfig, StackError
from sidecar import audit
from sidecar.pocketbase import PocketBaseUnavailable
from tests.helpers import PB, RealtimeListener, assert_envelope, login_through, route
from tests.stack_fixtures import stack_settings

LOGIN_LOG = "tbl_login_log"


def rows_by_agent(pb, agent: str, expected: int) -> list[dict]:
    """The tbl_login_log rows written with this user agent, once `expected` of them are there."""
    deadline = time.monotonic() + 5
    while True:
        response = pb.request("GET", f"/api/collections/{LOGIN_LOG}/records",
                              params={"filter": f'user_agent ~ "{agent[:40]}"', "sort": "created", "perPage": 50})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if len(items) >= expected or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def dev_stub_session_key(name: str) -> str:
    """The session_key the WeChat dev stub hands out for login code NAME (ops/wechat_stub.py)."""
    return base64.b64encode(hashlib.sha256(f"dev-session-{name}".encode()).digest()[:16]).decode()


@pytest.mark.slow
def test_login_success_and_wechat_failure_are_logged_without_secrets(stack, stack_pb, unique):
    agent = f"AuditAgent/{unique} " + "x" * 400
    headers = {"User-Agent": agent}
    # The stub's openid is derived from the part before the dot: the part after is secret to the code.
    code = f"audit-{unique}.c0de{unique}"
    ok = route(stack, "wechat/login", json={"users_wx_code": code}, headers=dict(headers))
    body = assert_envelope(ok, 200)
    failed = route(stack, "wechat/login", json={"users_wx_code": "fail-40029"}, headers=dict(headers))
    failure = assert_envelope(failed, 400)
    refreshed = route(stack, "system/refresh-token", token=body["token"], headers=dict(headers))
    assert_envelope(refreshed, 200)

    success_row, failure_row, refresh_row = rows_by_agent(stack_pb, agent, 3)
    user = body["data"]["user"]
    assert success_row["route"] == "login" and success_row["result"] == "ok" and success_row["status"] == 200
    assert success_row["openid"] == user["openid"] and success_row["user_id"] == user["pb_id"]
    assert failure_row["route"] == "login" and failure_row["result"] == "failed"
    assert failure_row["status"] == 400 and failure_row["reason"] == failure["msg"]
    assert failure_row["openid"] == "" and failure_row["user_id"] == ""
    # A refreshable bearer is renewed by PocketBase's native auth-refresh, audited as such (docs/api.md, "Login audit").
    assert refresh_row["route"] == "auth-refresh" and refresh_row["result"] == "ok"
    assert refresh_row["user_id"] == user["pb_id"]
    for row in (success_row, failure_row, refresh_row):
        # The address nginx saw (the tests connect from loopback), and the user agent cut to 256.
        assert row["ip"] == "127.0.0.1"
        assert row["user_agent"] == agent[:256]
        assert row["created"]
        text = json.dumps(row)
        for secret in (f"c0de{unique}", "fail-40029", body["token"], refreshed.json()["token"],
                       dev_stub_session_key(f"audit-{unique}")):
            assert secret not in text


@pytest.mark.slow
def test_a_refresh_without_bearer_or_code_is_logged_as_a_401(stack, stack_pb, unique):
    agent = f"AuditRefresh/{unique}"
    response = route(stack, "system/refresh-token", json={}, headers={"User-Agent": agent})
    assert_envelope(response, 401)
    [row] = rows_by_agent(stack_pb, agent, 1)
    assert (row["route"], row["result"], row["status"]) == ("refresh-token", "failed", 401)
    assert row["reason"] == response.json()["msg"]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["guest", "user"])
def test_guests_and_users_cannot_list_or_view_the_log(stack, stack_pb, unique, who):
    token, _ = login_through(stack, f"audit-reader-{unique}")
    headers = {"Authorization": token} if who == "user" else {}
    [row] = rows_by_agent(stack_pb, "python-requests", 1)[-1:]
    base = f"{stack.base_url}/pb/api/collections/{LOGIN_LOG}/records"
    listed = requests.get(base, headers=headers, timeout=15)
    assert listed.status_code == 403 and "items" not in listed.json()
    viewed = requests.get(f"{base}/{row['id']}", headers=headers, timeout=15)
    assert viewed.status_code == 403 and "openid" not in viewed.json()
    # The superuser, through the same door, does see it (so the refusals above are the rules' doing).
    assert requests.get(f"{base}/{row['id']}", headers={"Authorization": stack_pb.superuser_token},
                        timeout=15).status_code == 200


@pytest.mark.slow
def test_the_log_is_not_delivered_over_realtime_to_guests_or_users(stack, stack_pb, unique):
    token, _ = login_through(stack, f"audit-rt-{unique}")
    listeners = {name: RealtimeListener(stack.base_url, auth, LOGIN_LOG)
                 for name, auth in (("guest", ""), ("user", token), ("superuser", stack_pb.superuser_token))}
    try:
        route(stack, "wechat/login", json={"users_wx_code": "fail-40029"}, headers={"User-Agent": f"rt-{unique}"})
        # The superuser gets the new row: the event was sent, so the others' silence is the rule's doing.
        event = listeners["superuser"].next_data()
        assert event and json.loads(event)["record"]["user_agent"] == f"rt-{unique}"
        assert listeners["guest"].next_data() is None
        assert listeners["user"].next_data() is None
    finally:
        for listener in listeners.values():
            listener.close()


def backdated_rows(server, pb, days_ago: dict[str, float]) -> dict[str, str]:
    """Name -> id of new tbl_login_log rows whose `created` is set that many days back (not settable by API)."""
    ids = {name: pb.create(LOGIN_LOG, {"route": "login", "result": "ok", "status": 200}).json()["id"]
           for name in days_ago}
    # Written after every create: an open write transaction here would block PocketBase's inserts.
    with closing(sqlite3.connect(server.data_dir / "data.db", timeout=10)) as db, db:
        for name, days in days_ago.items():
            stamp = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.000Z")
            db.execute(f"UPDATE {LOGIN_LOG} SET created = ? WHERE id = ?", (stamp, ids[name]))
    return ids


def kept_after_prune(pb, ids: dict[str, str], expected: set[str], deadline: float = 10) -> set[str]:
    """Run the retention cron now; answer the names of the rows still there once it has run.

    PocketBase answers POST /api/crons/<id> at once and runs the job in the background, so the rows are
    read until they are the expected ones or the deadline passes; the caller asserts on what was read last.
    """
    ran = pb.request("POST", "/api/crons/login_log_prune")
    assert ran.status_code == 204, ran.text
    give_up = time.monotonic() + deadline
    while True:
        kept = {name for name, row_id in ids.items()
                if pb.request("GET", f"/api/collections/{LOGIN_LOG}/records/{row_id}").status_code == 200}
        if kept == expected or time.monotonic() > give_up:
            return kept
        time.sleep(0.05)


def test_cron_prunes_rows_older_than_90_days_by_default(pocketbase, pb):
    ids = backdated_rows(pocketbase, pb, {"old": 91, "recent": 89, "new": 0})
    assert kept_after_prune(pb, ids, {"recent", "new"}) == {"recent", "new"}


def test_login_log_days_reaches_pocketbase_through_the_stack(tmp_path):
    """LOGIN_LOG_DAYS of the stack's settings is what PocketBase's cron uses."""
    stack = Stack(StackConfig.from_env(stack_settings(tmp_path, LOGIN_LOG_DAYS="2"), dotenv_path=None))
    try:
        stack.start_pocketbase()
        pb = PB(stack.pb)
        ids = backdated_rows(stack.pb, pb, {"old": 2.5, "recent": 1.5})
        assert kept_after_prune(pb, ids, {"recent"}) == {"recent"}
    finally:
        stack.stop()


@pytest.mark.parametrize("value", ["0", "-3", "ninety", "1.5"])
def test_login_log_days_must_be_a_positive_whole_number(tmp_path, value):
    with pytest.raises(StackError, match="LOGIN_LOG_DAYS"):
        StackConfig.from_env(stack_settings(tmp_path, LOGIN_LOG_DAYS=value), dotenv_path=None)


def test_login_through_the_sidecar_writes_one_row_per_attempt(client, pb, wechat, unique):
    agent = f"AuditUnit/{unique}"
    wechat.errors[f"bad-{unique}"] = 40163
    client.post("/pb/api/wechat/login", json={"users_wx_code": f"good-{unique}"}, headers={"User-Agent": agent})
    client.post("/pb/api/wechat/login", json={"users_wx_code": f"bad-{unique}"}, headers={"User-Agent": agent})
    client.post("/pb/api/wechat/login", json={}, headers={"User-Agent": agent})
    rows = rows_by_agent(pb, agent, 3)
    assert [(r["result"], r["status"], r["openid"]) for r in rows] == [
        ("ok", 200, f"oid-good-{unique}"), ("failed", 400, ""), ("failed", 400, "")]
    assert wechat.SESSION_KEY not in json.dumps(rows)


def test_a_failing_audit_write_does_not_fail_the_login(app, client, wechat, monkeypatch, unique, caplog):
    gateway = app.extensions["pocketbase"]
    real_call = gateway.call

    def call(method, path, **kwargs):
        if path == audit.LOGIN_LOG_PATH:
            raise PocketBaseUnavailable("POST login log: ConnectionRefusedError")
        return real_call(method, path, **kwargs)

    monkeypatch.setattr(gateway, "call", call)
    wechat.errors[f"unaudited-{unique}"] = 40029
    response = client.post("/pb/api/wechat/login", json={"users_wx_code": f"unaudited-{unique}"})
    # The attempt's own answer, not the audit's error.
    assert response.status_code == 400 and response.json["code"] == 400
    assert "login log not written: route=login status=400 (PocketBaseUnavailable)" in caplog.text


def test_successes_are_written_by_pocketbase_and_failures_by_the_sidecar(app, client, pb, wechat, monkeypatch,
                                                                          unique):
    """A success's row comes from the one PocketBase request that signs in: the sidecar writes none."""
    gateway = app.extensions["pocketbase"]
    real_call = gateway.call
    sidecar_rows = []

    def call(method, path, **kwargs):
        if path == audit.LOGIN_LOG_PATH:
            sidecar_rows.append(kwargs["body"]["result"])
        return real_call(method, path, **kwargs)

    monkeypatch.setattr(gateway, "call", call)
    agent = f"AuditSplit/{unique}"
    wechat.errors[f"bad-{unique}"] = 40029
    client.post("/pb/api/wechat/login", json={"users_wx_code": f"split-{unique}"}, headers={"User-Agent": agent})
    client.post("/pb/api/wechat/login", json={"users_wx_code": f"bad-{unique}"}, headers={"User-Agent": agent})
    assert sidecar_rows == ["failed"]
    assert [row["result"] for row in rows_by_agent(pb, agent, 2)] == ["ok", "failed"]


def test_each_way_to_a_new_token_is_audited_with_its_route(client, pb, unique):
    """refresh-token by WeChat code and by renewal: "refresh-token"; any native auth-refresh: "auth-refresh"."""
    agent = f"AuditRoutes/{unique}"
    headers = {"User-Agent": agent}
    token = client.post("/pb/api/wechat/login", json={"users_wx_code": f"routes-{unique}"},
                        headers=headers).json["token"]
    by_code = client.post("/pb/api/system/refresh-token", json={"users_wx_code": f"routes-{unique}.2"},
                          headers=headers)
    assert by_code.status_code == 200
    user = pb.create_user(openid=f"routes-legacy-{unique}")
    legacy = pb.user_token(user["id"])  # an impersonation token: renewed by the internal renew-token route
    renewed = client.post("/pb/api/system/refresh-token", headers={**headers, "Authorization": legacy})
    assert renewed.status_code == 200
    # An SDK's authRefresh() straight on PocketBase's API.
    native = pb.request("POST", "/api/collections/tbl_auth_users/auth-refresh", token=token, headers=dict(headers))
    assert native.status_code == 200
    rows = rows_by_agent(pb, agent, 4)
    assert [(r["route"], r["result"], r["user_id"] != "") for r in rows] == [
        ("login", "ok", True), ("refresh-token", "ok", True), ("refresh-token", "ok", True),
        ("auth-refresh", "ok", True)]
    assert rows[2]["user_id"] == user["id"] and rows[2]["openid"] == f"routes-legacy-{unique}"
