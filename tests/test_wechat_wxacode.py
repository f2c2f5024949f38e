"""sidecar/wechat/wxacode.py: getwxacodeunlimit with the stable token, WeChat faked with `responses`: the image's
bytes and the type they say, WeChat's JSON errors as typed errors and what API users see of them."""
from __future__ import annotations

import json

import pytest
import responses

from sidecar.errors import wechat_answer
from sidecar.wechat import GET_UNLIMITED, WeChatClient, WeChatCodeRejected, WeChatError
from tests.test_wechat import APPID, BASE, SECRET, TOKEN_1, TOKEN_2, clock, query_of, rsps, \
    stable_token_ok  # noqa: F401 - fixtures

URL = f"{BASE}/wxa/getwxacodeunlimit"
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def client(clock):
    return WeChatClient(APPID, SECRET, api_base=BASE, timeout=2.0, clock=clock)


@pytest.mark.parametrize("data, mime, extension", [(JPEG_BYTES, "image/jpeg", "jpg"), (PNG_BYTES, "image/png", "png")])
def test_the_image_and_the_type_its_bytes_say(rsps, client, data, mime, extension):
    stable_token_ok(rsps)
    # WeChat's own Content-Type is not trusted: the bytes decide.
    call = rsps.add(responses.POST, URL, body=data, content_type="image/jpeg")
    code = client.get_unlimited("AB23CD45", "pages/index/index", 280, check_path=False, env_version="trial",
                                is_hyaline=True)
    assert (code.data, code.mime, code.extension) == (data, mime, extension)
    request = call.calls[0].request
    assert query_of(request) == {"access_token": TOKEN_1}
    assert json.loads(request.body) == {"scene": "AB23CD45", "page": "pages/index/index", "width": 280,
                                        "check_path": False, "env_version": "trial", "is_hyaline": True}


@pytest.mark.parametrize("errcode, kind, status", [
    (41030, WeChatCodeRejected, 400), (45009, WeChatError, 429), (40097, WeChatError, 502),
    (40169, WeChatError, 502), (-1, WeChatError, 502),
])
def test_wechat_errors_are_typed_and_worded(rsps, client, errcode, kind, status):
    stable_token_ok(rsps)
    rsps.add(responses.POST, URL, json={"errcode": errcode, "errmsg": "x"})
    with pytest.raises(kind) as raised:
        client.get_unlimited("AB23CD45", "pages/index/index")
    assert raised.value.endpoint == GET_UNLIMITED and raised.value.errcode == errcode
    assert wechat_answer(raised.value)[0] == status


def test_a_rejected_token_is_renewed_once(rsps, client):
    stable_token_ok(rsps)
    rsps.add(responses.POST, URL, json={"errcode": 40001, "errmsg": "invalid credential"})
    stable_token_ok(rsps, token=TOKEN_2)
    rsps.add(responses.POST, URL, body=JPEG_BYTES)
    assert client.get_unlimited("AB23CD45", "").mime == "image/jpeg"
    tokens = [query_of(call.request)["access_token"] for call in rsps.calls if call.request.url.startswith(URL)]
    assert tokens == [TOKEN_1, TOKEN_2]
    assert "page" not in json.loads(rsps.calls[-1].request.body)  # "" = WeChat's default, the home page


def test_a_token_rejected_twice_is_an_error(rsps, client):
    stable_token_ok(rsps)
    rsps.add(responses.POST, URL, json={"errcode": 40001, "errmsg": "invalid credential"})
    with pytest.raises(WeChatError) as raised:
        client.get_unlimited("AB23CD45", "pages/index/index")
    assert raised.value.errcode == 40001 and wechat_answer(raised.value)[0] == 502


@pytest.mark.parametrize("body", [b"GIF89a....", b"<html>busy</html>", b""])
def test_an_answer_that_is_no_image_is_unusable(rsps, client, body):
    stable_token_ok(rsps)
    rsps.add(responses.POST, URL, body=body)
    with pytest.raises(WeChatError) as raised:
        client.get_unlimited("AB23CD45", "pages/index/index")
    assert type(raised.value) is WeChatError and wechat_answer(raised.value)[0] == 502


@pytest.mark.parametrize("scene, width", [("", 430), ("x" * 33, 430), ("中文", 430), ("a b", 430),
                                          ("AB23CD45", 279), ("AB23CD45", 1281)])
def test_what_wechat_would_refuse_is_never_sent(rsps, client, scene, width):
    with pytest.raises(ValueError):
        client.get_unlimited(scene, "pages/index/index", width)
    assert len(rsps.calls) == 0
