"""Content security and message push through nginx with real processes and the WeChat dev stub: profile text
markers, picture verdicts pushed by the stub (safe mode) to the stack's push route, forged and repeated pushes."""
from __future__ import annotations

import time

import pytest
import requests

from ops.stack import DEV_APPID, DEV_SECRET, PUSH_PATH
from ops.wechat_stub.security import PushTarget, media_check_event
from sidecar.fileurls import AttachmentUrls
from sidecar.moderation import ModerationService
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseGateway
from sidecar.wechat import PushReceiver, WeChatClient
from sidecar.wechat.push import signature
from tests.helpers import PB, assert_envelope, login_through, route
from tests.test_uploads import pdf_file, picture

pytestmark = pytest.mark.slow

TEXT_FIELDS = ("users_name", "users_tag")
PNG_BYTES = picture("PNG")


# ------------------------------------------------------------ profile text (stub markers: docs/operations.md)


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("marker, status", [("risky", 400), ("review", 200), ("", 200), ("fail-61010", 503),
                                            ("slow-6", 503), ("fail-87014", 400)],
                         ids=["risky", "review", "pass", "errcode", "timeout", "87014"])
def test_profile_text_is_checked_through_the_stub(stack, stack_pb, unique, field, marker, status):
    token, user = login_through(stack, f"texter-{unique}")
    before = stack_pb.user(user["pb_id"])
    text = f"文本{marker}_{unique[:4]}"  # "_": the unique part is no digits of the marker
    other = "users_tag" if field == "users_name" else "users_name"
    body = assert_envelope(route(stack, "wechat/profile", token=token, json={field: text, other: "附带"}), status)
    after = stack_pb.user(user["pb_id"])
    if status == 200:
        assert after[field] == text and after[other] == "附带"
    else:
        assert after == before
    if status == 400:  # risky, and WeChat's older code for it (87014): the same verdict
        assert body["msg"] == "内容含有违规信息,请修改" and body["data"] == {"field": field}
    if status == 503:
        assert body["msg"] == "内容安全检查暂不可用,请稍后再试"


# ------------------------------------------------------------ pictures, verdicts pushed by the stub


@pytest.fixture(scope="module")
def moderation(stack) -> ModerationService:
    """The upload service's side of it (sidecar/moderation.py), wired to the stack's PocketBase and stub."""
    config = stack.config
    pb = PocketBaseGateway(stack.pb.url, config.superuser_email, config.superuser_password)
    wechat = WeChatClient(DEV_APPID, DEV_SECRET, stack.stub_url)
    push = PushReceiver(config.wechat_push_token, config.wechat_push_aes_key, DEV_APPID)
    return ModerationService(pb, wechat, Openids(pb), push, True, AttachmentUrls(pb, config.public_base_url))


def stored_attachment(stack_pb, name: str) -> dict:
    response = stack_pb.request("POST", "/api/collections/tbl_attachments/records", data={"attachments_status": ""},
                                files={"attachments_link": (name, b"\x89PNG-stack-moderation", "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def attachment_now(stack_pb, att: dict) -> dict:
    return stack_pb.request("GET", f"/api/collections/tbl_attachments/records/{att['id']}").json()


def wait_for_verdict(stack_pb, att: dict, deadline: float = 10) -> dict:
    """The attachment once its verdict has arrived (attachments_suggest set)."""
    end = time.monotonic() + deadline
    while True:
        current = attachment_now(stack_pb, att)
        if current["attachments_suggest"] or time.monotonic() > end:
            return current
        time.sleep(0.1)


def file_url(stack, att: dict) -> str:
    return f"{stack.base_url}/pb/api/files/{att['collectionId']}/{att['id']}/{att['attachments_link']}"


@pytest.mark.parametrize("marker, suggest, status", [("", "pass", "有效"), ("risky", "risky", "违规"),
                                                     ("review", "review", "待人工审核")])
def test_an_uploaded_picture_gets_its_verdict_by_push_through_nginx(stack, stack_pb, unique, marker, suggest, status):
    """The upload route submits the stored file; the stub pushes its verdict (its markers are in the uploader's
    openid: an upload's URL holds nothing the user chose) through nginx to the push route."""
    token, user = login_through(stack, f"pics{marker}-{unique}")
    uploaded = assert_envelope(route(stack, "wechat/upload", token, files={"file": ("a.png", PNG_BYTES)}), 200)
    answer = uploaded["data"]["attachment"]
    assert answer["attachments_status"] == "审核中"
    att = stack_pb.request("GET", "/api/collections/tbl_attachments/records",
                           params={"filter": f'attachments_id="{answer["attachments_id"]}"'}).json()["items"][0]
    assert att["attachments_trace_id"].startswith("stub-trace-")
    assert_envelope(route(stack, "wechat/profile", token=token, json={"users_picture": answer["attachments_id"]}), 200)
    after = wait_for_verdict(stack_pb, att)
    assert (after["attachments_suggest"], after["attachments_status"]) == (suggest, status)
    assert after["attachments_trace_id"] == att["attachments_trace_id"]
    url = assert_envelope(route(stack, "wechat/profile", token=token, json={}), 200)["data"]["user"][
        "users_picture_url"]
    if suggest == "risky":
        assert requests.get(file_url(stack, att), timeout=10).status_code == 404
        assert url == "" and after["attachments_link"] == ""
    else:
        assert requests.get(file_url(stack, att), timeout=10).status_code == 200
        # Dev mode without PUBLIC_BASE_URL: the URLs name the host the test came by (stack.base_url's).
        assert url == answer["url"] == file_url(stack, att)


def signed_push(stack, event: dict, **target) -> requests.Response:
    """A push signed and encrypted with the stack's token and key, as WeChat (and the stub) send it."""
    config = stack.config
    push = PushTarget(stack.base_url + PUSH_PATH, **{"token": config.wechat_push_token,
                                                    "aes_key": config.wechat_push_aes_key, "appid": DEV_APPID,
                                                    **target})
    query, body = push.signed(event)
    return requests.post(push.url, params=query, data=body, headers={"Content-Type": "application/json"},
                         timeout=10)


def test_unknown_and_repeated_trace_ids_change_nothing(stack, stack_pb, moderation, unique):
    att = stored_attachment(stack_pb, "again.png")
    moderation.submit_picture(f"oid-{unique}", att)
    after = wait_for_verdict(stack_pb, att)
    assert after["attachments_status"] == "有效"
    for event in (media_check_event(DEV_APPID, "o", after["attachments_trace_id"], "risky"),
                  media_check_event(DEV_APPID, "o", f"never-issued-{unique}", "risky")):
        response = signed_push(stack, event)
        assert (response.status_code, response.text) == (200, "success")
    assert attachment_now(stack_pb, att) == after


@pytest.mark.parametrize("forgery", ["wrong token", "wrong key", "unsigned"])
def test_a_forged_push_is_a_401_or_400_with_no_effect(stack, stack_pb, unique, forgery):
    att = stored_attachment(stack_pb, "forged.png")
    trace_id = f"forged-{unique}"
    assert stack_pb.request("PATCH", f"/api/collections/tbl_attachments/records/{att['id']}",
                            json={"attachments_trace_id": trace_id, "attachments_status": "审核中"}).status_code == 200
    before = attachment_now(stack_pb, att)
    event = media_check_event(DEV_APPID, "o", trace_id, "risky")
    if forgery == "wrong token":
        assert_envelope(signed_push(stack, event, token="guessed-token"), 401)
    elif forgery == "wrong key":
        # Signed with our token but encrypted with another key: it does not decrypt.
        assert_envelope(signed_push(stack, event, aes_key="A" * 43), 400)
    else:
        response = requests.post(stack.base_url + PUSH_PATH, json=event, timeout=10)
        assert_envelope(response, 401)
    assert attachment_now(stack_pb, att) == before


def test_url_verification_through_nginx(stack):
    query = {"timestamp": str(int(time.time())), "nonce": "n1", "echostr": "verify-me"}
    good = requests.get(stack.base_url + PUSH_PATH, timeout=10, params={
        **query, "signature": signature(stack.config.wechat_push_token, query["timestamp"], "n1")})
    assert (good.status_code, good.text) == (200, "verify-me")
    assert_envelope(requests.get(stack.base_url + PUSH_PATH, params={**query, "signature": "x"}, timeout=10), 401)


def test_the_push_route_is_outside_the_per_ip_rate_limit(make_stack, unique):
    limited = make_stack(RATE_LIMITS="1r/s,burst=1")
    pushes = [requests.post(limited.base_url + PUSH_PATH, json={}, timeout=10).status_code for _ in range(8)]
    logins = [route(limited, "wechat/login", json={"users_wx_code": f"rl-{unique}.{i}"}).status_code
              for i in range(8)]
    assert set(pushes) == {401} and 429 in logins


# ------------------------------------------------------------ freshness, resubmission, PDFs (issue #31)


def test_a_push_replayed_through_nginx_is_applied_once_across_the_workers(stack, stack_pb, unique):
    """The stack's sidecar has two gunicorn workers; the nonce is kept in PocketBase, where both see it."""
    att = stored_attachment(stack_pb, "replayed.png")
    trace_id = f"replayed-{unique}"
    stack_pb.request("PATCH", f"/api/collections/tbl_attachments/records/{att['id']}",
                     json={"attachments_trace_id": trace_id, "attachments_status": "审核中"})
    config = stack.config
    target = PushTarget(stack.base_url + PUSH_PATH, config.wechat_push_token, config.wechat_push_aes_key, DEV_APPID)
    query, body = target.signed(media_check_event(DEV_APPID, "o", trace_id, "pass"))
    statuses = [requests.post(target.url, params=query, data=body, timeout=10,
                              headers={"Content-Type": "application/json"}) for _ in range(6)]
    assert [r.status_code for r in statuses].count(200) == 1, [r.text for r in statuses]
    for refused in (r for r in statuses if r.status_code != 200):
        assert assert_envelope(refused, 401)["msg"] == "推送已过期或重复"
    assert attachment_now(stack_pb, att)["attachments_status"] == "有效"


def test_a_push_signed_ten_minutes_ago_is_refused_through_nginx(stack, stack_pb, unique, monkeypatch):
    att = stored_attachment(stack_pb, "old.png")
    trace_id = f"old-{unique}"
    stack_pb.request("PATCH", f"/api/collections/tbl_attachments/records/{att['id']}",
                     json={"attachments_trace_id": trace_id, "attachments_status": "审核中"})
    before = attachment_now(stack_pb, att)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() - 600)  # the signer's clock
    config = stack.config
    query, body = PushTarget("", config.wechat_push_token, config.wechat_push_aes_key, DEV_APPID).signed(
        media_check_event(DEV_APPID, "o", trace_id, "pass"))
    monkeypatch.undo()
    response = requests.post(stack.base_url + PUSH_PATH, params=query, data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert assert_envelope(response, 401)["msg"] == "推送已过期或重复"
    assert attachment_now(stack_pb, att) == before


def wait_for(check, deadline: float = 60):
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.2)


def test_a_picture_wechat_cannot_check_is_submitted_again_then_goes_to_the_operator(make_stack, unique):
    """The stub pushes errcode -1008 for the `unchecked` marker: never a pass; the workers' rounds submit it again
    (MEDIA_RECHECK_INTERVAL) until the bound on resubmissions, then it is 待人工审核."""
    checked = make_stack(MEDIA_RECHECK_INTERVAL="0.5")
    pb = PB(checked.pb)
    token, _ = login_through(checked, f"unchecked-{unique}")
    uploaded = assert_envelope(route(checked, "wechat/upload", token, files={"file": ("a.png", PNG_BYTES)}), 200)
    attachment_id = uploaded["data"]["attachment"]["attachments_id"]

    def current() -> dict:
        return pb.request("GET", "/api/collections/tbl_attachments/records",
                          params={"filter": f'attachments_id="{attachment_id}"'}).json()["items"][0]
    final = wait_for(lambda: current()["attachments_status"] == "待人工审核" and current())
    assert final, current()
    assert final["attachments_check_attempts"] == 3 and final["attachments_suggest"] == ""
    # The first submission and three more, each of them once, whatever the two workers did meanwhile.
    calls = requests.get(checked.stub_url + "/__stub/stats", timeout=10).json()["calls"]
    assert calls.get("/wxa/media_check_async", calls.get("media_check_async")) == 4


def test_a_pdf_goes_to_the_operator_unsubmitted(stack, stack_pb, unique):
    token, _ = login_through(stack, f"pdfs-{unique}")
    uploaded = assert_envelope(route(stack, "wechat/upload", token, files={"file": ("a.pdf", pdf_file())}), 200)
    answer = uploaded["data"]["attachment"]
    assert answer["attachments_status"] == "待人工审核"
    att = stack_pb.request("GET", "/api/collections/tbl_attachments/records",
                           params={"filter": f'attachments_id="{answer["attachments_id"]}"'}).json()["items"][0]
    assert att["attachments_trace_id"] == ""
