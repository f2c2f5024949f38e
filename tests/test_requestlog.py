"""sidecar/requestlog.py: one JSON line per request, the X-Request-Id sent back, no secret in the line."""
from __future__ import annotations

import json
import logging
import re

import pytest
from flask import Flask, request

from sidecar.errors import BadRequest, envelope, register_error_handlers
from sidecar.pocketbase import PocketBaseError
from sidecar.requestlog import init_request_log
from sidecar.uploads import unreadable
from sidecar.wechat import JSCODE2SESSION, WeChatCodeRejected

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6InNlY3JldHVzZXIifQ.SIGNATURE-abc123"
WX_CODE = "WX-LOGIN-CODE-0a1b2c3d"
PHONE_CODE = "PHONE-CODE-5f6a7b8c"


@pytest.fixture(scope="module")
def client():
    """A bare app with the request log and the error handlers: /ok, /refuse (400) and /crash (500), and
    refusals of each kind: an unreadable upload, WeChat's, PocketBase's."""
    app = Flask(__name__)
    init_request_log(app)
    register_error_handlers(app)

    @app.post("/ok")
    def ok():
        request.get_data()
        return envelope(200, "好")

    @app.post("/refuse")
    def refuse():
        raise BadRequest()

    @app.post("/crash")
    def crash():
        raise RuntimeError("boom")

    @app.post("/upload")
    def upload():
        raise unreadable(SyntaxError("broken PNG chunk quoting the file"), "图片文件已损坏或不完整")

    @app.post("/wechat")
    def wechat():
        raise WeChatCodeRejected(JSCODE2SESSION, 40029, "invalid code, rid: 64b7-1e0b")

    @app.post("/pocketbase")
    def pocketbase():
        raise PocketBaseError(400, {"message": "Failed.", "data": {"openid": {"code": "validation_not_unique"}}})

    return app.test_client()


def access_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "sidecar.access"]


@pytest.mark.parametrize("path, status, reason", [
    ("/ok", 200, None), ("/refuse", 400, "BadRequest"), ("/crash", 500, "RuntimeError"), ("/nope", 404, "NotFound"),
])
def test_one_json_line_per_request_whatever_the_outcome(client, caplog, path, status, reason):
    caplog.set_level(logging.INFO, logger="sidecar.access")
    response = client.post(path, headers={"X-Real-IP": "203.0.113.7"})
    assert response.status_code == status
    [line] = access_lines(caplog)
    assert line.pop("reason", None) == reason
    assert set(line) == {"request_id", "method", "path", "status", "duration_ms", "client_ip"}
    assert (line["method"], line["path"], line["status"]) == ("POST", path, status)
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["client_ip"] == "203.0.113.7"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_client_ip_falls_back_to_the_peer_address(client, caplog):
    caplog.set_level(logging.INFO, logger="sidecar.access")
    client.post("/ok", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert access_lines(caplog)[0]["client_ip"] == "198.51.100.9"


@pytest.mark.parametrize("incoming", ["abcdef0123456789", "0" * 64, "nginx-req.id_1"])
def test_a_plain_request_id_is_echoed(client, incoming):
    assert client.post("/ok", headers={"X-Request-Id": incoming}).headers["X-Request-Id"] == incoming


@pytest.mark.parametrize("incoming", [None, "", "short", "bad id;x", "x" * 65, "abc\"}{\"status\":1", "ünïcode-id-1"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_generated_one(client, incoming):
    headers = {} if incoming is None else {"X-Request-Id": incoming}
    first = client.post("/ok", headers=headers).headers["X-Request-Id"]
    second = client.post("/ok", headers=headers).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_no_secret_reaches_the_line(client, caplog):
    caplog.set_level(logging.DEBUG)
    client.post(f"/ok?access_token={TOKEN}&code={WX_CODE}", headers={"Authorization": f"Bearer {TOKEN}"},
                json={"users_wx_code": WX_CODE, "users_phone_code": PHONE_CODE})
    client.post("/refuse", headers={"Authorization": TOKEN}, json={"users_wx_code": WX_CODE})
    lines = access_lines(caplog)
    assert [line["path"] for line in lines] == ["/ok", "/refuse"]  # logged, by path only
    for secret in (TOKEN, "SIGNATURE-abc123", WX_CODE, PHONE_CODE, "Bearer", "access_token"):
        assert secret not in caplog.text


def test_the_line_is_a_record_of_the_access_logger_at_info_that_its_level_and_filters_still_govern(client, caplog):
    caplog.set_level(logging.INFO, logger="sidecar.access")
    client.post("/ok")
    [record] = [r for r in caplog.records if r.name == "sidecar.access"]
    assert record.levelno == logging.INFO and record.exc_info is None
    caplog.clear()
    access = logging.getLogger("sidecar.access")
    access.addFilter(refuse_all := (lambda record: False))
    try:
        response = client.post("/ok")
    finally:
        access.removeFilter(refuse_all)
    caplog.set_level(logging.WARNING, logger="sidecar.access")
    quiet = client.post("/ok")
    assert access_lines(caplog) == []
    assert response.headers["X-Request-Id"] and quiet.headers["X-Request-Id"]  # the id is sent back all the same


@pytest.mark.parametrize("path, status, reason", [
    ("/refuse", 400, "BadRequest"),
    ("/upload", 400, "UploadRejected SyntaxError while reading it field=file"),
    ("/wechat", 400, "WeChatCodeRejected jscode2session errcode=40029 rid=64b7-1e0b"),
    ("/pocketbase", 502, "PocketBaseError status=400 reason=- fields=openid:validation_not_unique"),
    ("/nope", 404, "NotFound"),
])
def test_a_refused_request_is_its_one_line_with_its_reason_and_no_traceback(client, caplog, path, status, reason):
    caplog.set_level(logging.DEBUG)
    assert client.post(path).status_code == status
    [record] = caplog.records
    assert record.name == "sidecar.access" and record.exc_info is None
    assert json.loads(record.getMessage())["reason"] == reason
    assert "quoting the file" not in caplog.text


def test_a_real_500_also_logs_its_traceback(client, caplog):
    caplog.set_level(logging.DEBUG)
    assert client.post("/crash").status_code == 500
    [crash] = [r for r in caplog.records if r.exc_info]
    assert crash.exc_info[0] is RuntimeError and crash.name == "sidecar.errors"
    assert [json.loads(r.getMessage())["reason"] for r in caplog.records if r.name == "sidecar.access"] == \
        ["RuntimeError"]
