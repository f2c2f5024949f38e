"""Subscribe messages through real processes: GET/POST /pb/api/wechat/subscribe through nginx, the outbox delivered by
python -m sidecar.sender to the WeChat dev stub (its markers: ops/wechat_stub/subscribe.py), crashes, races, events.

The session stack runs in dev mode, so SUBSCRIBE_TEMPLATES is the dev samples (ops/stack_config.py)."""
from __future__ import annotations

import json
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ops.processes import ManagedProcess
from ops.stack_config import DEV_SUBSCRIBE_TEMPLATES
from sidecar.sender import INTERRUPTED, MAX_ATTEMPTS
from tests.helpers import RealtimeListener, assert_envelope, login_through, route
from tests.test_moderation_stack import PNG_BYTES, wait_for_verdict

pytestmark = pytest.mark.slow

TEMPLATES = json.loads(DEV_SUBSCRIBE_TEMPLATES)
PICTURE, COMPANY = TEMPLATES["picture_removed"]["id"], TEMPLATES["company_status"]["id"]
GOOD_DATA = {"thing1": "a.png", "time2": "2026-12-07 10:00", "thing3": "图片内容违规"}
FINAL = ("已发送", "无授权", "用户拒收", "失败")
# The module's sender: retries 0.5 s apart, claims lasting 8 s (longer than WECHAT_TIMEOUT, 5 s).
SENDER_ARGS = ("--backoff", "0.5", "--lease", "8")


@pytest.fixture(scope="module", autouse=True)
def fast_sender(stack):
    """The session stack's sender restarted with short backoffs and lease, so retries and crashes take seconds."""
    stack.processes["sender"].stop()
    stack.start_sender(*SENDER_ARGS)
    yield
    stack.processes["sender"].stop()
    stack.start_sender()


def subscribe(stack, token: str, method: str = "GET", **body) -> requests.Response:
    return requests.request(method, stack.base_url + "/pb/api/wechat/subscribe", timeout=15,
                            headers={"Authorization": f"Bearer {token}"}, **({"json": body} if body else {}))


def user(stack, name: str, grants: int = 0, template: str = PICTURE) -> tuple[str, str]:
    """(token, openid) of a dev user logged in as name, holding grants of template (reported through the route, one
    accept a report: an id named twice in one report is one grant)."""
    token, _ = login_through(stack, name)
    for _ in range(grants):
        assert_envelope(subscribe(stack, token, "POST", accepted=[template]), 200)
    return token, f"dev-openid-{name}"


def create(stack_pb, openid: str, template: str = "picture_removed", data: dict | None = None, **fields) -> str:
    response = stack_pb.create("tbl_notifications", {"notification_openid": openid, "notification_template": template,
                                                     "notification_data": data or GOOD_DATA, **fields})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def record(stack_pb, record_id: str) -> dict:
    return stack_pb.request("GET", f"/api/collections/tbl_notifications/records/{record_id}").json()


def settled(stack_pb, record_id: str, deadline: float = 30, statuses=FINAL) -> dict:
    """The record once its status is one of statuses (polled, never a fixed sleep)."""
    end = time.monotonic() + deadline
    while True:
        found = record(stack_pb, record_id)
        if found["notification_status"] in statuses or time.monotonic() > end:
            assert found["notification_status"] in statuses, found
            return found
        time.sleep(0.1)


def stub_messages(stack, openid: str) -> dict:
    return requests.get(stack.stub_url + "/__stub/subscribe-messages", params={"touser": openid}, timeout=10).json()


def counts(stack, token: str) -> dict:
    return assert_envelope(subscribe(stack, token), 200)["data"]["counts"]


def test_grant_send_count(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-ok-{unique}")
    answer = assert_envelope(subscribe(stack, token), 200)["data"]
    assert answer == {"templates": {"picture_removed": PICTURE, "company_status": COMPANY},
                      "counts": {"picture_removed": 0, "company_status": 0}}
    reported = assert_envelope(subscribe(stack, token, "POST", accepted=[PICTURE], rejected=[COMPANY]), 200)["data"]
    assert reported["counts"] == {"picture_removed": 1, "company_status": 0}
    created = time.monotonic()
    done = settled(stack_pb, create(stack_pb, openid), deadline=5)
    assert time.monotonic() - created < 5
    assert done["notification_status"] == "已发送" and done["notification_sent"] and done["notification_attempts"] == 1
    sent = stub_messages(stack, openid)
    assert sent["sends"] == 1
    assert [(m["template_id"], m["data"], m["page"]) for m in sent["messages"]] == [
        (PICTURE, GOOD_DATA, TEMPLATES["picture_removed"]["page"])]
    assert counts(stack, token) == {"picture_removed": 0, "company_status": 0}


def test_no_grant_is_not_sent(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-none-{unique}")
    assert settled(stack_pb, create(stack_pb, openid))["notification_status"] == "无授权"
    assert stub_messages(stack, openid)["sends"] == 0


def test_43101_is_refused_and_the_count_set_to_0(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-refuse-{unique}", grants=3)
    done = settled(stack_pb, create(stack_pb, openid))
    assert done["notification_status"] == "用户拒收" and "43101" in done["notification_error"]
    assert counts(stack, token)["picture_removed"] == 0


def test_a_timeout_then_success(stack, stack_pb, unique):
    """lag-6: the stub's first send sleeps past the sender's WeChat timeout (5 s); the retry is sent."""
    token, openid = user(stack, f"sub-lag-6-{unique}", grants=2)
    done = settled(stack_pb, create(stack_pb, openid))
    assert done["notification_status"] == "已发送" and done["notification_attempts"] == 2
    assert stub_messages(stack, openid)["sends"] == 2
    assert counts(stack, token)["picture_removed"] == 1  # one grant for one message, retries included


def test_a_system_error_is_retried_up_to_the_bound(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-busy-99-{unique}", grants=1)
    done = settled(stack_pb, create(stack_pb, openid))
    assert done["notification_status"] == "失败" and "errcode -1" in done["notification_error"]
    assert done["notification_attempts"] == MAX_ATTEMPTS
    assert stub_messages(stack, openid) == {"messages": [], "sends": MAX_ATTEMPTS}
    assert counts(stack, token)["picture_removed"] == 1  # WeChat sent nothing: the grant is given back


def test_a_crash_while_sending_is_settled_without_sending_again(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-slow-4-{unique}", grants=2)
    record_id = create(stack_pb, openid)
    settled(stack_pb, record_id, statuses=("发送中",))
    stack.processes["sender"].kill()  # mid-send: the stub is sleeping on its answer
    stack.start_sender(*SENDER_ARGS)
    done = settled(stack_pb, record_id)
    assert (done["notification_status"], done["notification_error"]) == ("失败", INTERRUPTED)

    assert stub_messages(stack, openid)["sends"] == 1
    assert counts(stack, token)["picture_removed"] == 1  # spent: WeChat may have used it


def test_twenty_messages_racing_ten_grants_send_exactly_ten(stack, stack_pb, unique):
    """Two senders at once (the stack's and a second process) and twenty records created together."""
    token, openid = user(stack, f"sub-race-{unique}", grants=10)
    second = ManagedProcess("sender-2", [sys.executable, "-m", "sidecar.sender", *SENDER_ARGS],
                            stack.run_dir / "sender-2.log", env=stack.sidecar_env).start()
    try:
        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(lambda _: create(stack_pb, openid), range(20)))
        outcomes = [settled(stack_pb, record_id)["notification_status"] for record_id in ids]
    finally:
        second.stop()
    assert sorted(outcomes) == ["已发送"] * 10 + ["无授权"] * 10
    assert len(stub_messages(stack, openid)["messages"]) == 10 == stub_messages(stack, openid)["sends"]
    assert counts(stack, token)["picture_removed"] == 0


@pytest.mark.parametrize("template, data, status, sent, error", [
    ("picture_removed", {**GOOD_DATA, "thing1": "很长的文件名" * 6}, "已发送", {**GOOD_DATA, "thing1": "很长的文件名" * 3 + "很…"},
     ""),
    ("company_status", {"thing1": "ACME", "phrase2": "审核未通过了", "time3": "2026-12-07 10:00"}, "失败", None,
     "phrase2"),
    ("picture_removed", {**GOOD_DATA, "time2": "yesterday"}, "失败", None, "time2"),
    ("picture_removed", {**GOOD_DATA, "thing9": "x"}, "失败", None, "thing9"),
    ("picture_removed", {"thing1": "a.png"}, "失败", None, "time2: missing"),
    ("unknown_name", GOOD_DATA, "失败", None, "not configured"),
], ids=["thing-cut", "phrase-too-long", "time-format", "unknown-keyword", "missing-keyword", "unknown-template"])
def test_keyword_limits_before_any_call(stack, stack_pb, unique, template, data, status, sent, error):
    name = f"sub-kw-{secrets.token_hex(3)}-{unique}"
    token, openid = user(stack, name, grants=1, template=COMPANY if template == "company_status" else PICTURE)
    done = settled(stack_pb, create(stack_pb, openid, template, data))
    assert done["notification_status"] == status and error in done["notification_error"]
    messages = stub_messages(stack, openid)
    if sent:
        assert [m["data"] for m in messages["messages"]] == [sent]
    else:
        assert messages["sends"] == 0
        assert sum(counts(stack, token).values()) == 1  # the grant untouched


@pytest.mark.parametrize("body, field", [
    ({"accepted": ["not-configured"]}, "not-configured"),
    ({"accepted": [PICTURE], "rejected": ["not-configured"]}, "not-configured"),
])
def test_unknown_template_ids_are_a_400_and_write_nothing(stack, unique, body, field):
    token, _ = user(stack, f"sub-unknown-{unique}")
    refused = assert_envelope(subscribe(stack, token, "POST", **body), 400)
    assert refused["data"] == {"template_id": field} and field in refused["msg"]
    assert counts(stack, token) == {"picture_removed": 0, "company_status": 0}


@pytest.mark.parametrize("body", [{"accepted": "x"}, {"accepted": [1]}, {"rejected": [""]},
                                  {"accepted": [PICTURE] * 6}])
def test_malformed_reports_are_a_400(stack, unique, body):
    token, _ = user(stack, f"sub-bad-{unique}")
    assert_envelope(subscribe(stack, token, "POST", **body), 400)
    assert counts(stack, token)["picture_removed"] == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_routes_need_a_valid_token(stack, method):
    response = requests.request(method, stack.base_url + "/pb/api/wechat/subscribe", timeout=10, json={})
    assert_envelope(response, 401)
    assert_envelope(subscribe(stack, "a.b.c", method), 401)


def test_an_id_named_twice_in_one_report_is_one_grant(stack, unique):
    token, _ = user(stack, f"sub-twice-{unique}")
    answer = assert_envelope(subscribe(stack, token, "POST", accepted=[PICTURE, PICTURE, COMPANY]), 200)["data"]
    assert answer["counts"] == {"picture_removed": 1, "company_status": 1}


def test_the_count_is_bounded(stack, unique):
    token, _ = user(stack, f"sub-bound-{unique}", grants=25)
    assert counts(stack, token)["picture_removed"] == 20


def test_concurrent_reports_lose_no_grant(stack, unique):
    token, _ = user(stack, f"sub-concurrent-{unique}")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: subscribe(stack, token, "POST", accepted=[COMPANY]).status_code, range(16)))
    assert answers == [200] * 16
    assert counts(stack, token)["company_status"] == 16


# ------------------------------------------------------------ a user's token, on every PocketBase surface


def test_a_users_token_reaches_no_grant_or_notification_of_anyone_its_own_included(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-access-{unique}", grants=1)
    other_token, other_openid = user(stack, f"sub-access2-{unique}", grants=1)
    own = create(stack_pb, openid, notification_page="pages/own")
    grant_id = stack_pb.request("GET", "/api/collections/tbl_subscribe_grants/records",
                                params={"filter": f'grant_openid="{openid}"'}).json()["items"][0]["id"]
    api = stack.base_url + "/pb/api"
    headers = {"Authorization": token}
    for collection, record_id, body in (("tbl_notifications", own, {"notification_page": "pages/x"}),
                                        ("tbl_subscribe_grants", grant_id, {"grant_count": 20})):
        path = f"{api}/collections/{collection}/records"
        listed = requests.get(path, headers=headers, params={"filter": f'id="{record_id}"'}, timeout=10)
        assert listed.status_code in (200, 403) and listed.json().get("items", []) == [], listed.text
        # expand and filters on another collection reach nothing either (no relation field names these).
        users = requests.get(f"{api}/collections/tbl_auth_users/records", headers=headers, timeout=10, params={
            "filter": f'@collection.{collection}.id = "{record_id}"'}).json()
        assert users.get("items", []) == [], users
        assert requests.get(f"{path}/{record_id}", headers=headers, timeout=10).status_code == 404
        assert requests.patch(f"{path}/{record_id}", headers=headers, json=body, timeout=10).status_code in (403, 404)
        assert requests.delete(f"{path}/{record_id}", headers=headers, timeout=10).status_code in (403, 404)
        created = requests.post(path, headers=headers, timeout=10, json={
            "notification_openid": other_openid, "notification_template": "picture_removed",
            "grant_openid": openid, "grant_template": "picture_removed", "grant_count": 20})
        assert created.status_code in (400, 403), created.text
        batch = requests.post(f"{api}/batch", headers=headers, timeout=10, json={"requests": [
            {"method": "POST", "url": f"/api/collections/{collection}/records", "body": body},
            {"method": "PATCH", "url": f"/api/collections/{collection}/records/{record_id}", "body": body}]})
        assert batch.status_code in (400, 403), batch.text
    listener = RealtimeListener(stack.base_url, token, "tbl_notifications/*")
    try:
        create(stack_pb, openid)
        assert listener.next_data() is None
    finally:
        listener.close()
    assert record(stack_pb, own)["notification_page"] == "pages/own"
    assert counts(stack, token)["picture_removed"] <= 1 and counts(stack, other_token)["picture_removed"] == 1


def test_a_closed_accounts_grants_and_messages_go_with_it(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-close-{unique}", grants=1)
    _, other = user(stack, f"sub-keep-{unique}", grants=1)
    create(stack_pb, openid, "no_such_template")  # settled 失败 by the sender, kept until the account goes
    create(stack_pb, other, "no_such_template")

    def rows(who: str) -> list[int]:
        return [len(stack_pb.request("GET", f"/api/collections/{collection}/records",
                                     params={"filter": f'{field} = "{who}"'}).json()["items"])
                for collection, field in (("tbl_subscribe_grants", "grant_openid"),
                                          ("tbl_notifications", "notification_openid"))]

    assert rows(openid) == [1, 1] == rows(other)
    assert_envelope(route(stack, "wechat/close-account", token=token, json={}), 200)
    assert rows(openid) == [0, 0] and rows(other) == [1, 1]


def test_an_operators_update_keeps_the_senders_bookkeeping(stack, stack_pb, unique):
    manager = stack_pb.create_user(openid=f"sub-manager-{unique}", users_idtype="ManagePlatform")
    headers = {"Authorization": stack_pb.user_token(manager["id"])}
    path = f"{stack.base_url}/pb/api/collections/tbl_notifications/records"
    created = requests.post(path, headers=headers, timeout=10, json={
        "notification_openid": f"dev-openid-sub-op-{unique}", "notification_template": "picture_removed",
        "notification_data": GOOD_DATA, "notification_status": "已发送", "notification_grant": True})
    assert created.status_code == 200, created.text
    assert (created.json()["notification_status"], created.json()["notification_grant"]) == ("待发送", False)
    done = settled(stack_pb, created.json()["id"])
    assert done["notification_status"] == "无授权"
    patched = requests.patch(f"{path}/{done['id']}", headers=headers, timeout=10,
                             json={"notification_status": "已发送", "notification_grant": True})
    assert patched.status_code == 200 and patched.json()["notification_status"] == "无授权"
    assert patched.json()["notification_grant"] is False


# ------------------------------------------------------------ our own events


def test_a_risky_picture_sends_picture_removed_to_its_uploader(stack, stack_pb, unique):
    token, openid = user(stack, f"pics-risky-{unique}", grants=1)
    uploaded = assert_envelope(route(stack, "wechat/upload", token, files={"file": ("mine.png", PNG_BYTES)}), 200)
    attachment = stack_pb.request("GET", "/api/collections/tbl_attachments/records", params={
        "filter": f'attachments_id="{uploaded["data"]["attachment"]["attachments_id"]}"'}).json()["items"][0]
    assert wait_for_verdict(stack_pb, attachment)["attachments_status"] == "违规"
    found = stack_pb.request("GET", "/api/collections/tbl_notifications/records",
                             params={"filter": f'notification_openid="{openid}"'}).json()["items"]
    assert [m["notification_template"] for m in found] == ["picture_removed"]
    done = settled(stack_pb, found[0]["id"])
    assert done["notification_status"] == "已发送"
    data = stub_messages(stack, openid)["messages"][0]["data"]
    assert data["thing1"] == attachment["attachments_filename"] and data["thing3"] == "图片内容违规"


def test_a_company_status_change_sends_company_status_to_its_owner(stack, stack_pb, unique):
    token, openid = user(stack, f"sub-company-{unique}", grants=1, template=COMPANY)
    company = stack_pb.create("tbl_company", {"company_name": f"ACME {unique}", "company_status": "审核中",
                                              "company_owner_openid": openid}).json()
    path = f"/api/collections/tbl_company/records/{company['id']}"
    assert stack_pb.request("PATCH", path, json={"company_remark": "no status change"}).status_code == 200
    assert stack_pb.request("PATCH", path, json={"company_status": "已通过"}).status_code == 200
    found = stack_pb.request("GET", "/api/collections/tbl_notifications/records",
                             params={"filter": f'notification_openid="{openid}"'}).json()["items"]
    assert [(m["notification_template"], m["notification_data"]["phrase2"]) for m in found] == [
        ("company_status", "已通过")]
    assert settled(stack_pb, found[0]["id"])["notification_status"] == "已发送"
    assert stub_messages(stack, openid)["messages"][0]["data"]["thing1"] == f"ACME {unique}"
