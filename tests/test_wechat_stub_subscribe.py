"""ops/wechat_stub/subscribe.py: the dev stub's subscribeMessage.send, its markers and what it keeps."""
from __future__ import annotations

import pytest
import requests

from ops.wechat_stub import WeChatStub


@pytest.fixture(scope="module")
def stub():
    with WeChatStub() as running:
        yield running


def send(stub, touser: str, template_id: str = "tmpl-1", page: str = "", **data) -> dict:
    token = requests.post(stub.url + "/cgi-bin/stable_token", timeout=5, json={
        "grant_type": "client_credential", "appid": stub.appid, "secret": stub.secret}).json()["access_token"]
    return requests.post(stub.url + "/cgi-bin/message/subscribe/send", params={"access_token": token}, timeout=10,
                         json={"touser": touser, "template_id": template_id, "page": page,
                               "data": {k: {"value": v} for k, v in (data or {"thing1": "hi"}).items()}}).json()


def kept(stub, touser: str) -> dict:
    return requests.get(stub.url + "/__stub/subscribe-messages", params={"touser": touser}, timeout=5).json()


def test_a_sent_message_is_kept_and_shown(stub):
    assert send(stub, "dev-openid-ok", page="pages/a", thing1="图片")["errcode"] == 0
    shown = kept(stub, "dev-openid-ok")
    assert shown["sends"] == 1
    assert [(m["template_id"], m["page"], m["data"]) for m in shown["messages"]] == [
        ("tmpl-1", "pages/a", {"thing1": "图片"})]


@pytest.mark.parametrize("touser, template_id, page, data, errcodes", [
    ("dev-openid-refuse-a", "t", "", {}, [43101, 43101]),
    ("dev-openid-busy-2-a", "t", "", {}, [-1, -1, 0]),
    ("dev-openid-fail-40003-a", "t", "", {}, [40003]),
    ("dev-openid-b", "invalid-t", "", {}, [40037]),
    ("dev-openid-c", "t", "pages/missing", {}, [41030]),
    ("dev-openid-d", "t", "", {"thing1": "x" * 21}, [47003]),
    ("dev-openid-e", "t", "", {"phrase2": "太长的短语啊"}, [47003]),
    ("dev-openid-f", "t", "", {"thing1": ""}, [47003]),
])
def test_markers_and_wechats_checks(stub, touser, template_id, page, data, errcodes):
    assert [send(stub, touser, template_id, page, **data)["errcode"] for _ in errcodes] == errcodes
    assert len(kept(stub, touser)["messages"]) == errcodes.count(0)


def test_a_wrong_token_is_40001(stub):
    answer = requests.post(stub.url + "/cgi-bin/message/subscribe/send", params={"access_token": "nope"},
                           json={"touser": "x"}, timeout=5).json()
    assert answer["errcode"] == 40001
