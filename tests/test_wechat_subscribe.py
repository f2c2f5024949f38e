"""sidecar/wechat/subscribe.py: subscribeMessage.send with the stable access_token, WeChat faked with `responses`."""
from __future__ import annotations

import json

import pytest
import requests
import responses

from sidecar.wechat import SUBSCRIBE_SEND, WeChatClient, WeChatError, WeChatUnavailable
from tests.test_wechat import APPID, BASE, OPENID, SECRET, TOKEN_1, TOKEN_2, clock, query_of, rsps, \
    stable_token_ok  # noqa: F401 - fixtures

SEND_URL = f"{BASE}/cgi-bin/message/subscribe/send"


@pytest.fixture
def client(clock):
    return WeChatClient(APPID, SECRET, api_base=BASE, timeout=2.0, clock=clock)


def test_send_posts_keyword_values_with_the_stable_token(rsps, client):
    stable_token_ok(rsps)
    send = rsps.add(responses.POST, SEND_URL, json={"errcode": 0, "errmsg": "ok", "msgid": 1})
    client.subscribe_send(OPENID, "tmpl-1", {"thing1": "图片", "time2": "2026-12-07 10:00"}, "pages/index/index")
    request = send.calls[0].request
    assert query_of(request) == {"access_token": TOKEN_1}
    assert json.loads(request.body) == {"touser": OPENID, "template_id": "tmpl-1", "page": "pages/index/index",
                                        "lang": "zh_CN", "data": {"thing1": {"value": "图片"},
                                                                  "time2": {"value": "2026-12-07 10:00"}}}
    client.subscribe_send(OPENID, "tmpl-1", {"thing1": "x"})
    assert "page" not in json.loads(send.calls[1].request.body)


def test_a_rejected_token_is_renewed_once(rsps, client):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, json={"errcode": 40001, "errmsg": "invalid credential"})
    stable_token_ok(rsps, token=TOKEN_2)
    rsps.add(responses.POST, SEND_URL, json={"errcode": 0, "errmsg": "ok"})
    client.subscribe_send(OPENID, "tmpl-1", {"thing1": "x"})


@pytest.mark.parametrize("answer, kind, errcode", [
    ({"json": {"errcode": 43101, "errmsg": "user refuse to accept the msg rid: 1-2-3"}}, WeChatError, 43101),
    ({"json": {"errcode": 47003, "errmsg": "argument invalid! data.thing1.value is emtpy"}}, WeChatError, 47003),
    ({"json": {"errcode": 40037, "errmsg": "invalid template_id"}}, WeChatError, 40037),
    ({"json": {"errcode": 41030, "errmsg": "invalid page"}}, WeChatError, 41030),
    ({"json": {"errcode": -1, "errmsg": "system error"}}, WeChatError, -1),
    ({"status": 502, "body": "<html>bad gateway</html>"}, WeChatError, 0),
    ({"body": requests.Timeout("read timed out")}, WeChatUnavailable, 0),
])
def test_each_failure_raises_its_error(rsps, client, answer, kind, errcode):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, **answer)
    with pytest.raises(kind) as raised:
        client.subscribe_send(OPENID, "tmpl-1", {"thing1": "x"})
    assert (raised.value.endpoint, raised.value.errcode) == (SUBSCRIBE_SEND, errcode)
