"""sidecar/errors.py: the envelope and every handler, on a bare Flask app (no PocketBase, no WeChat)."""
from __future__ import annotations

import logging

import pytest
from flask import Flask, abort
from werkzeug import exceptions as http

from sidecar.errors import (
    POCKETBASE_ANSWERS, REFUSAL_ANSWERS, WECHAT_ANSWERS, ApiError, BadRequest, NotFound, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnsupportedMediaType, envelope, log_reason, register_error_handlers, wechat_answer,
)
from sidecar.pocketbase import (
    PocketBaseError, PocketBaseFailed, PocketBaseFault, PocketBaseRefusal, PocketBaseUnavailable,
)
from sidecar.wechat import (
    GET_PHONE_NUMBER, GET_UNLIMITED, JSCODE2SESSION, MEDIA_CHECK_ASYNC, MSG_SEC_CHECK, STABLE_TOKEN, PushMalformed,
    PushSignatureInvalid, WeChatCodeMissing, WeChatCodeRejected, WeChatError,
    WeChatRateLimited, WeChatUnavailable,
)

SECRET_TEXT = "SECRET-in-the-exception-7f3a"


def app_raising(error: BaseException | None = None) -> Flask:
    """A bare app with our handlers and one route, POST /boom, that raises error."""
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/boom")
    def boom():
        if error is not None:
            raise error
        return envelope(200, "好")

    return app


def answer_of(error: BaseException):
    return app_raising(error).test_client().post("/boom")


@pytest.mark.parametrize("args, extra, body", [
    ((200, "查询成功"), {}, {"code": 200, "msg": "查询成功", "data": {}}),
    ((200, "查询成功", None), {}, {"code": 200, "msg": "查询成功", "data": {}}),
    ((200, "刷新成功", {}), {"token": "t"}, {"code": 200, "msg": "刷新成功", "data": {}, "token": "t"}),
    ((400, "请求参数错误", {"field": "x"}), {}, {"code": 400, "msg": "请求参数错误", "data": {"field": "x"}}),
])
def test_envelope_is_code_msg_data_with_code_equal_to_status(args, extra, body):
    with Flask(__name__).app_context():
        response, status = envelope(*args, **extra)
    assert status == args[0] and response.json == body


@pytest.mark.parametrize("error, status, msg, data", [
    (ApiError(), 400, "请求参数错误", {}),
    (ApiError("自定义", status=418), 418, "自定义", {}),
    (BadRequest(), 400, "请求参数错误", {}),
    (BadRequest("users_name 过长", {"field": "users_name"}), 400, "users_name 过长", {"field": "users_name"}),
    (Unauthorized(), 401, "token 无效或已过期", {}),
    (NotFound(), 404, "当前用户不存在", {}),
    (UnsupportedMediaType(), 415, "请求体必须是 JSON", {}),
    (TooManyRequests(), 429, "请求过于频繁,请稍后再试", {}),
    (ServiceUnavailable("数据服务暂不可用,请稍后再试"), 503, "数据服务暂不可用,请稍后再试", {}),
])
def test_api_errors_answer_their_status_message_and_data(error, status, msg, data):
    response = answer_of(error)
    assert response.status_code == status
    assert response.json == {"code": status, "msg": msg, "data": data}


@pytest.mark.parametrize("error, status, msg", [
    (http.BadRequest(), 400, "请求参数错误"),
    (http.NotFound(), 404, "接口不存在"),
    (http.MethodNotAllowed(["POST"]), 405, "请求方法不允许"),
    (http.RequestEntityTooLarge(), 413, "请求体过大"),
    (http.UnsupportedMediaType(), 415, "请求体必须是 JSON"),
    (http.TooManyRequests(), 429, "请求过于频繁,请稍后再试"),
    (http.InternalServerError(), 500, "服务端错误"),
    (http.ImATeapot(), 418, "请求错误"),  # a 4xx without a message of its own
    (http.NotImplemented(), 501, "服务端错误"),  # a 5xx without one
])
def test_http_exceptions_answer_an_envelope_not_html(error, status, msg):
    response = answer_of(error)
    assert response.status_code == status and response.mimetype == "application/json"
    assert response.json == {"code": status, "msg": msg, "data": {}}


@pytest.mark.parametrize("method, path, status", [
    ("post", "/nope", 404),
    ("get", "/boom", 405),
    ("delete", "/boom", 405),
])
def test_routing_errors_are_envelopes(method, path, status):
    response = getattr(app_raising().test_client(), method)(path)
    assert response.status_code == status and response.json["code"] == status and response.json["data"] == {}
    # RFC 9110: a 405 names the methods the path takes.
    assert response.headers.get("Allow") == ("OPTIONS, POST" if status == 405 else None)


def test_abort_in_a_view_is_an_envelope():
    app = Flask(__name__)
    register_error_handlers(app)
    app.add_url_rule("/big", "big", lambda: abort(413), methods=["POST"])
    assert app.test_client().post("/big").json == {"code": 413, "msg": "请求体过大", "data": {}}


@pytest.mark.parametrize("error", [
    RuntimeError(SECRET_TEXT), KeyError(SECRET_TEXT), ZeroDivisionError(), RecursionError(SECRET_TEXT),
])
def test_unexpected_exceptions_are_500_envelopes_without_a_stack_trace(error, caplog):
    response = answer_of(error)
    assert response.status_code == 500
    assert response.json == {"code": 500, "msg": "服务端错误", "data": {}}
    text = response.get_data(as_text=True)
    assert SECRET_TEXT not in text and "Traceback" not in text and type(error).__name__ not in text
    # Operators see it in the log, by type.
    assert any(r.levelno == logging.ERROR and type(error).__name__ in r.getMessage() for r in caplog.records)


# Every row of POCKETBASE_ANSWERS: the gateway's failures other than a refusal for a reason of vocabulary.yaml's.
POCKETBASE_TABLE = [
    (PocketBaseUnavailable("GET /api/health: ConnectionRefusedError"), 503, "数据服务暂不可用,请稍后再试"),
    (PocketBaseFailed(500), 502, "数据服务异常,请稍后再试"),
    (PocketBaseError(400, {"reason": "unheard_of"}), 502, "数据服务异常,请稍后再试"),
    (PocketBaseError(404, None), 502, "数据服务异常,请稍后再试"),
    (PocketBaseFault(), 502, "数据服务异常,请稍后再试"),
]


def test_pocketbase_table_is_covered():
    assert {type(error) for error, _, _ in POCKETBASE_TABLE} == set(POCKETBASE_ANSWERS)


@pytest.mark.parametrize("error, status, msg", POCKETBASE_TABLE)
def test_pocketbase_failures_answer_their_envelope(error, status, msg, caplog):
    response = answer_of(error)
    assert response.status_code == status and response.json == {"code": status, "msg": msg, "data": {}}
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)  # expected failures: no stack trace


def test_an_unmapped_pocketbase_refusal_is_named_with_its_reason_and_fields_for_the_requests_log_line():
    error = PocketBaseError(400, {"reason": "odd", "data": {"token": {"code": "validation_required"}}})
    assert log_reason(error) == "PocketBaseError status=400 reason=odd fields=token:validation_required"


# Every refusal reason of vocabulary.yaml the sidecar maps: its envelope, data.field when it names one.
REFUSAL_TABLE = [
    (PocketBaseRefusal.of("token_invalid"), 401, "token 无效或已过期", {}),
    (PocketBaseRefusal.of("no_openid"), 401, "当前用户缺少 openid", {}),
    (PocketBaseRefusal.of("user_banned"), 403, "账号已被禁用", {}),
    (PocketBaseRefusal.of("user_not_found"), 404, "当前用户不存在,请先登录", {}),
    (PocketBaseRefusal.of("user_conflict"), 400, "保存用户失败,请重试", {}),
    (PocketBaseRefusal.of("phone_taken", "users_phone"), 400, "手机号已被其他账号使用", {"field": "users_phone"}),
    (PocketBaseRefusal.of("phone_attempts", "users_phone"), 429, "手机号提交过于频繁,请稍后再试",
     {"field": "users_phone"}),
    (PocketBaseRefusal.of("attachment_missing", "users_picture"), 400, "附件不存在: users_picture",
     {"field": "users_picture"}),
    (PocketBaseRefusal.of("upload_rate"), 429, "上传过于频繁,请稍后再试", {}),
    (PocketBaseRefusal.of("share_code_limit"), 429, "分享码数量已达上限", {}),
]


def test_refusal_table_is_covered():
    assert {error.reason for error, *_ in REFUSAL_TABLE} == set(REFUSAL_ANSWERS)


@pytest.mark.parametrize("error, status, msg, data", REFUSAL_TABLE, ids=lambda v: getattr(v, "reason", None))
def test_refusals_answer_their_envelope_without_a_log_line_of_their_own(error, status, msg, data, caplog):
    response = answer_of(error)
    assert response.status_code == status and response.json == {"code": status, "msg": msg, "data": data}
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


# Every row of WECHAT_ANSWERS, and the fallbacks its lookup gives the combinations it does not name.
WECHAT_TABLE = [
    (WeChatCodeMissing(JSCODE2SESSION), 400, "缺少微信登录 code"),
    (WeChatCodeMissing(GET_PHONE_NUMBER), 400, "缺少手机号授权 code"),
    (WeChatCodeRejected(JSCODE2SESSION, 40029, "invalid code"), 400, "微信登录 code 无效或已过期"),
    (WeChatCodeRejected(JSCODE2SESSION, 40163, "code been used"), 400, "微信登录 code 已被使用"),
    (WeChatCodeRejected(JSCODE2SESSION, 40226, "high risk user"), 400, "该微信账号存在风险,暂无法登录"),
    (WeChatCodeRejected(GET_PHONE_NUMBER, 40226, "high risk user"), 400, "该微信账号存在风险,暂无法获取手机号"),
    (WeChatCodeRejected(GET_PHONE_NUMBER, 40029, "invalid code"), 400, "手机号授权 code 无效或已过期"),
    (WeChatCodeRejected(GET_PHONE_NUMBER, 40163), 400, "手机号授权 code 无效或已过期"),
    (WeChatCodeRejected(GET_PHONE_NUMBER, 41001), 400, "手机号授权 code 无效或已过期"),
    (WeChatCodeRejected(JSCODE2SESSION, 40999), 502, "微信服务异常,请稍后再试"),  # not a login refusal we know
    (WeChatRateLimited(JSCODE2SESSION, 45011), 429, "微信接口调用过于频繁,请稍后再试"),
    (WeChatRateLimited(GET_PHONE_NUMBER, 45011), 429, "微信接口调用过于频繁,请稍后再试"),
    (WeChatRateLimited(STABLE_TOKEN, 45011), 429, "微信接口调用过于频繁,请稍后再试"),
    (WeChatUnavailable(JSCODE2SESSION), 503, "微信服务暂不可用,请稍后再试"),
    (WeChatUnavailable(STABLE_TOKEN), 503, "微信服务暂不可用,请稍后再试"),
    (WeChatError(JSCODE2SESSION, -1, "system error"), 502, "微信服务异常,请稍后再试"),
    (WeChatError(JSCODE2SESSION, 40125, "invalid appsecret"), 502, "微信服务异常,请稍后再试"),
    (WeChatError(STABLE_TOKEN, 40013, "invalid appid"), 502, "微信服务异常,请稍后再试"),
    (WeChatError(GET_PHONE_NUMBER, 40001), 502, "微信服务异常,请稍后再试"),
    (WeChatError(GET_PHONE_NUMBER), 502, "微信服务异常,请稍后再试"),
    # Content that could not be checked is not stored: every failure of a check is a 503.
    (WeChatError(MSG_SEC_CHECK, 61010, "user in invalid scene"), 503, "内容安全检查暂不可用,请稍后再试"),
    (WeChatError(MSG_SEC_CHECK), 503, "内容安全检查暂不可用,请稍后再试"),
    (WeChatUnavailable(MSG_SEC_CHECK), 503, "内容安全检查暂不可用,请稍后再试"),
    (WeChatRateLimited(MSG_SEC_CHECK, 45011), 503, "内容安全检查暂不可用,请稍后再试"),
    (WeChatError(MEDIA_CHECK_ASYNC, -1), 503, "图片安全检查暂不可用,请稍后再试"),
    (WeChatUnavailable(MEDIA_CHECK_ASYNC), 503, "图片安全检查暂不可用,请稍后再试"),
    (WeChatRateLimited(MEDIA_CHECK_ASYNC, 45011), 503, "图片安全检查暂不可用,请稍后再试"),
    # A share code (wxacode.getUnlimited): the page's 41030 is the caller's choice, 45009 its quota.
    (WeChatCodeRejected(GET_UNLIMITED, 41030, "invalid page"), 400, "小程序页面不存在或小程序尚未发布"),
    (WeChatError(GET_UNLIMITED, 45009), 429, "小程序码生成过于频繁,请稍后再试"),
    (WeChatError(GET_UNLIMITED, 40001), 502, "微信服务异常,请稍后再试"),
]


@pytest.mark.parametrize("error, status, msg", [
    (PushSignatureInvalid("signature mismatch"), 401, "签名无效"),
    (PushMalformed("not JSON"), 400, "推送消息格式错误"),
])
def test_refused_pushes_map_to_status_and_message(error, status, msg):
    response = answer_of(error)
    assert response.status_code == status and response.json == {"code": status, "msg": msg, "data": {}}


@pytest.mark.parametrize("error, status, msg", WECHAT_TABLE,
                         ids=[f"{type(e).__name__}-{e.endpoint}-{e.errcode}" for e, _, _ in WECHAT_TABLE])
def test_wechat_errors_map_to_status_and_message(error, status, msg):
    assert wechat_answer(error) == (status, msg)
    response = answer_of(error)
    assert response.status_code == status
    # WeChat's errcode and errmsg are for the logs: the API user gets our sentence only.
    assert response.json == {"code": status, "msg": msg, "data": {}}


def test_the_wechat_table_covers_every_answer():
    assert {(status, msg) for _, status, msg in WECHAT_TABLE} == set(WECHAT_ANSWERS.values())


def test_wechat_errors_keep_endpoint_errcode_and_errmsg_out_of_their_text():
    error = WeChatCodeRejected(JSCODE2SESSION, 40029, "invalid code " + SECRET_TEXT + " " + "x" * 500)
    assert (error.endpoint, error.errcode) == (JSCODE2SESSION, 40029)
    assert error.errmsg.startswith("invalid code " + SECRET_TEXT) and len(error.errmsg) == 200
    assert str(error) == "wechat jscode2session failed: WeChatCodeRejected errcode=40029"
    assert SECRET_TEXT not in repr(error)

