"""sidecar/wechat/security.py: msg_sec_check and media_check_async (v2), WeChat faked with `responses`."""
from __future__ import annotations

import json

import pytest
import requests
import responses

from sidecar.errors import wechat_answer
from sidecar.wechat import MEDIA_CHECK_ASYNC, MSG_SEC_CHECK, WeChatClient, WeChatError, WeChatRateLimited, \
    WeChatUnavailable
from tests.test_wechat import APPID, BASE, OPENID, SECRET, TOKEN_1, TOKEN_2, clock, query_of, rsps, \
    stable_token_ok  # noqa: F401 - fixtures

TEXT_URL = f"{BASE}/wxa/msg_sec_check"
MEDIA_URL = f"{BASE}/wxa/media_check_async"
PICTURE = "https://api.example.test/pb/api/files/pbc_1/abc/avatar_x1y2z3.png"


@pytest.fixture
def client(clock):
    return WeChatClient(APPID, SECRET, api_base=BASE, timeout=2.0, clock=clock)


def text_answer(suggest: str) -> dict:
    return {"errcode": 0, "errmsg": "ok", "trace_id": "t-1", "result": {"suggest": suggest, "label": 100},
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": 100}]}


@pytest.mark.parametrize("suggest", ["pass", "review", "risky"])
def test_msg_sec_check_answers_the_suggest_and_sends_version_2_scene_1_as_utf8(rsps, client, suggest):
    stable_token_ok(rsps)
    check = rsps.add(responses.POST, TEXT_URL, json=text_answer(suggest))
    assert client.msg_sec_check(OPENID, "张三 的签名") == suggest
    request = check.calls[0].request
    assert query_of(request) == {"access_token": TOKEN_1}
    assert json.loads(request.body) == {"content": "张三 的签名", "version": 2, "scene": 1, "openid": OPENID}
    # The bytes themselves, not \u escapes (transport.call_with_token).
    assert "张三".encode() in request.body


@pytest.mark.parametrize("answer", [
    {"errcode": 0, "errmsg": "ok"},
    {"errcode": 0, "result": {"suggest": "maybe"}},
    {"errcode": 0, "result": "pass"},
], ids=["no result", "unknown suggest", "result not an object"])
def test_msg_sec_check_without_a_known_suggest_is_an_error(rsps, client, answer):
    stable_token_ok(rsps)
    rsps.add(responses.POST, TEXT_URL, json=answer)
    with pytest.raises(WeChatError) as raised:
        client.msg_sec_check(OPENID, "x")
    assert raised.value.endpoint == MSG_SEC_CHECK and wechat_answer(raised.value)[0] == 503


@pytest.mark.parametrize("errcode, kind", [(-1, WeChatError), (61010, WeChatError), (44004, WeChatError),
                                           (45011, WeChatRateLimited)])
def test_msg_sec_check_errcodes_are_503s(rsps, client, errcode, kind):
    stable_token_ok(rsps)
    rsps.add(responses.POST, TEXT_URL, json={"errcode": errcode, "errmsg": "fake"})
    with pytest.raises(kind) as raised:
        client.msg_sec_check(OPENID, "x")
    assert wechat_answer(raised.value) == (503, "内容安全检查暂不可用,请稍后再试")


def test_msg_sec_check_87014_is_the_verdict_risky(rsps, client):
    # 87014 (内容含有违法违规内容) is WeChat's older answer for risky text: a verdict, never "try again later".
    stable_token_ok(rsps)
    rsps.add(responses.POST, TEXT_URL, json={"errcode": 87014, "errmsg": "risky content"})
    assert client.msg_sec_check(OPENID, "x") == "risky"


def test_msg_sec_check_timeout_is_a_503(rsps, client):
    stable_token_ok(rsps)
    rsps.add(responses.POST, TEXT_URL, body=requests.Timeout("read timed out"))
    with pytest.raises(WeChatUnavailable) as raised:
        client.msg_sec_check(OPENID, "x")
    assert wechat_answer(raised.value) == (503, "内容安全检查暂不可用,请稍后再试")


def test_a_rejected_token_is_renewed_once_for_a_check(rsps, client):
    rsps.add(responses.POST, f"{BASE}/cgi-bin/stable_token", json={"access_token": TOKEN_1, "expires_in": 7200})
    rsps.add(responses.POST, f"{BASE}/cgi-bin/stable_token", json={"access_token": TOKEN_2, "expires_in": 7200})
    rsps.add(responses.POST, TEXT_URL, json={"errcode": 40001, "errmsg": "invalid credential"})
    rsps.add(responses.POST, TEXT_URL, json=text_answer("pass"))
    assert client.msg_sec_check(OPENID, "x") == "pass"
    assert [query_of(c.request)["access_token"] for c in rsps.calls if c.request.url.startswith(TEXT_URL)] == \
        [TOKEN_1, TOKEN_2]


def test_media_check_async_submits_an_image_and_answers_the_trace_id(rsps, client):
    stable_token_ok(rsps)
    submit = rsps.add(responses.POST, MEDIA_URL, json={"errcode": 0, "errmsg": "ok", "trace_id": "trace-42"})
    assert client.media_check_async(OPENID, PICTURE) == "trace-42"
    assert json.loads(submit.calls[0].request.body) == {
        "media_url": PICTURE, "media_type": 2, "version": 2, "scene": 1, "openid": OPENID}


@pytest.mark.parametrize("answer", [{"errcode": 0, "errmsg": "ok"}, {"errcode": -1, "errmsg": "system error"},
                                    {"errcode": 0, "trace_id": 42}])
def test_media_check_async_failures_are_503s(rsps, client, answer):
    stable_token_ok(rsps)
    rsps.add(responses.POST, MEDIA_URL, json=answer)
    with pytest.raises(WeChatError) as raised:
        client.media_check_async(OPENID, PICTURE)
    assert raised.value.endpoint == MEDIA_CHECK_ASYNC
    assert wechat_answer(raised.value) == (503, "图片安全检查暂不可用,请稍后再试")
