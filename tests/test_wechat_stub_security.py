"""The dev stub's content security (ops/wechat_stub/security.py): msg_sec_check and media_check_async markers, and
the verdict it pushes, read back with the sidecar's own PushReceiver."""
from __future__ import annotations

import queue
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ops.stack_config import new_aes_key
from ops.wechat_stub import WeChatStub
from ops.wechat_stub.security import PushTarget
from sidecar.wechat import PushReceiver
from tests.test_wechat_stub import APPID, SECRET, token

PUSH_TOKEN, AES_KEY = "stub-push-token", new_aes_key()


class Receiver:
    """A local HTTP server standing in for the stack's push route: it keeps what it receives."""

    def __init__(self):
        self.received: queue.Queue = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.put(({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pb/api/wechat/push"

    def next(self, timeout: float = 5) -> tuple[dict, bytes]:
        return self.received.get(timeout=timeout)


@pytest.fixture()
def receiver():
    receiving = Receiver()
    yield receiving
    receiving.server.shutdown()


@pytest.fixture()
def stub(receiver, request):
    aes_key = getattr(request, "param", AES_KEY)
    started = WeChatStub(appid=APPID, secret=SECRET,
                         push=PushTarget(receiver.url, PUSH_TOKEN, aes_key, APPID)).start()
    yield started
    started.stop()


def text_check(stub, text: str, **body) -> requests.Response:
    return requests.post(stub.url + "/wxa/msg_sec_check", params={"access_token": token(stub).json()["access_token"]},
                         json={"content": text, "version": 2, "scene": 1, "openid": "dev-openid-a", **body},
                         timeout=10)


def media_check(stub, url: str, **body) -> requests.Response:
    return requests.post(stub.url + "/wxa/media_check_async",
                         params={"access_token": token(stub).json()["access_token"]},
                         json={"media_url": url, "media_type": 2, "version": 2, "scene": 1,
                               "openid": "dev-openid-a", **body}, timeout=10)


@pytest.mark.parametrize("content, suggest", [
    ("张三", "pass"), ("a Risky name", "risky"), ("please review me", "review"), ("risky and review", "risky"),
])
def test_msg_sec_check_marker_words(stub, content, suggest):
    body = text_check(stub, content).json()
    assert body["errcode"] == 0 and body["result"]["suggest"] == suggest and body["trace_id"]
    assert body["detail"][0]["suggest"] == suggest


def test_msg_sec_check_fail_and_slow_markers(stub):
    assert text_check(stub, "名字 fail-87014").json()["errcode"] == 87014
    started = time.monotonic()
    assert text_check(stub, "slow-0.3 risky").json()["result"]["suggest"] == "risky"
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("change", [{"version": 1}, {"openid": ""}, {"scene": 9}, {"content": ""}])
def test_msg_sec_check_refuses_what_wechat_refuses(stub, change):
    assert text_check(stub, "x", **change).json()["errcode"] == 47001


def test_checks_need_the_current_access_token(stub):
    for path in ("/wxa/msg_sec_check", "/wxa/media_check_async"):
        assert requests.post(stub.url + path, params={"access_token": "stale"}, json={}, timeout=5).json()[
            "errcode"] == 40001


@pytest.mark.parametrize("stub", [AES_KEY, ""], ids=["safe mode", "plain mode"], indirect=True)
@pytest.mark.parametrize("name, suggest", [("face.png", "pass"), ("stub_risky_x1.png", "risky"),
                                           ("REVIEW-me.jpg", "review")])
def test_media_check_async_pushes_a_signed_verdict_a_moment_later(stub, receiver, name, suggest):
    answer = media_check(stub, f"http://localhost:8080/pb/api/files/pbc_1/rec1/{name}").json()
    assert answer["errcode"] == 0 and answer["trace_id"]
    query, body = receiver.next()
    # The sidecar set up as the stub is: safe mode with the key, plain mode without one.
    event = PushReceiver(PUSH_TOKEN, stub.push_target.aes_key, APPID).event(query, body)
    assert event["Event"] == "wxa_media_check" and event["trace_id"] == answer["trace_id"]
    assert event["result"]["suggest"] == suggest and event["appid"] == APPID and event["version"] == 2
    assert ("encrypt_type" in query) is bool(stub.push_target.aes_key)


@pytest.mark.parametrize("openid, suggest", [("dev-openid-pics-risky", "risky"), ("dev-openid-pics-review", "review"),
                                             ("dev-openid-pics", "pass")])
def test_media_check_async_reads_the_markers_in_the_uploaders_openid(stub, receiver, openid, suggest):
    """An upload's URL holds nothing the user chose (upload_<random>.png): the markers come from who uploaded it."""
    answer = media_check(stub, "http://localhost:8080/pb/api/files/pbc_1/rec1/upload_k2j4h5.png", openid=openid).json()
    query, body = receiver.next()
    assert PushReceiver(PUSH_TOKEN, AES_KEY, APPID).event(query, body)["result"]["suggest"] == suggest
    assert answer["errcode"] == 0


def test_media_check_async_fail_marker_answers_the_errcode_and_pushes_nothing(stub, receiver):
    assert media_check(stub, "http://h/pb/api/files/c/r/fail-45011.png").json()["errcode"] == 45011
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1)


@pytest.mark.parametrize("change", [{"media_type": 3}, {"version": 1}, {"media_url": ""}, {"openid": ""}])
def test_media_check_async_refuses_what_wechat_refuses(stub, change):
    url = change.pop("media_url", "http://h/x.png")
    assert media_check(stub, url, **change).json()["errcode"] == 47001


def test_without_a_push_url_nothing_is_pushed(receiver):
    with WeChatStub(appid=APPID, secret=SECRET) as quiet:
        assert media_check(quiet, "http://h/x.png").json()["trace_id"]
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1)
