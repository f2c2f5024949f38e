"""Typed errors of the sidecar and the one place that turns any error into the {code, msg, data} envelope."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from sidecar import domain
from sidecar.offload import UploadsBusy
from sidecar.pocketbase import (
    PocketBaseError, PocketBaseFailed, PocketBaseFault, PocketBaseRefusal, PocketBaseUnavailable,
)
from sidecar.wechat import (
    ERR_CODE_USED, ERR_INVALID_CODE, ERR_INVALID_PAGE, ERR_QUOTA, ERR_RISKY_USER, GET_PHONE_NUMBER, GET_UNLIMITED,
    JSCODE2SESSION, MEDIA_CHECK_ASYNC, MSG_SEC_CHECK, PushMalformed, PushRefused, PushReplayed,
    PushSignatureInvalid, WeChatCodeMissing, WeChatCodeRejected, WeChatError, WeChatRateLimited, WeChatUnavailable,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the client should see: HTTP status plus a short Chinese message."""

    status = 400
    msg = "请求参数错误"
    detail = ""  # what the request's log line adds to the error's name (English, no client data)

    def __init__(self, msg: str | None = None, data: dict | None = None, status: int | None = None):
        super().__init__(msg or self.msg)
        self.msg = msg or self.msg
        self.data = data or {}
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status, msg = 400, "请求参数错误"


class Unauthorized(ApiError):
    status, msg = 401, "token 无效或已过期"


class Forbidden(ApiError):
    status, msg = 403, "无权访问"


class NotFound(ApiError):
    status, msg = 404, "当前用户不存在"


class PayloadTooLarge(ApiError):
    status, msg = 413, "请求体过大"


class UnsupportedMediaType(ApiError):
    status, msg = 415, "请求体必须是 JSON"


class TooManyRequests(ApiError):
    status, msg = 429, "请求过于频繁,请稍后再试"


class ServiceUnavailable(ApiError):
    status, msg = 503, "服务暂不可用,请稍后再试"


# Messages for errors that do not come from our own code (routing, werkzeug, nginx-like limits).
HTTP_MESSAGES = {
    400: "请求参数错误",
    404: "接口不存在",
    405: "请求方法不允许",
    413: "请求体过大",
    415: "请求体必须是 JSON",
    429: "请求过于频繁,请稍后再试",
    500: "服务端错误",
}


# What API users see of a WeChat failure: (error type, endpoint, errcode) -> (status, msg), where None
# in a key stands for any. The most specific key of the error's type wins, then those of its base types.
WECHAT_ANSWERS = {
    (WeChatCodeMissing, JSCODE2SESSION, None): (400, "缺少微信登录 code"),
    (WeChatCodeMissing, GET_PHONE_NUMBER, None): (400, "缺少手机号授权 code"),
    (WeChatCodeRejected, JSCODE2SESSION, ERR_INVALID_CODE): (400, "微信登录 code 无效或已过期"),
    (WeChatCodeRejected, JSCODE2SESSION, ERR_CODE_USED): (400, "微信登录 code 已被使用"),
    (WeChatCodeRejected, JSCODE2SESSION, ERR_RISKY_USER): (400, "该微信账号存在风险,暂无法登录"),
    (WeChatCodeRejected, GET_PHONE_NUMBER, ERR_RISKY_USER): (400, "该微信账号存在风险,暂无法获取手机号"),
    (WeChatCodeRejected, GET_PHONE_NUMBER, None): (400, "手机号授权 code 无效或已过期"),
    (WeChatCodeRejected, GET_UNLIMITED, ERR_INVALID_PAGE): (400, "小程序页面不存在或小程序尚未发布"),
    (WeChatError, GET_UNLIMITED, ERR_QUOTA): (429, "小程序码生成过于频繁,请稍后再试"),
    (WeChatRateLimited, None, None): (429, "微信接口调用过于频繁,请稍后再试"),
    (WeChatUnavailable, None, None): (503, "微信服务暂不可用,请稍后再试"),
    (WeChatError, None, None): (502, "微信服务异常,请稍后再试"),
    # Content that WeChat could not check is never stored: any failure of a check is a 503, try again later.
    **{(kind, MSG_SEC_CHECK, None): (503, "内容安全检查暂不可用,请稍后再试")
       for kind in (WeChatError, WeChatRateLimited, WeChatUnavailable)},
    **{(kind, MEDIA_CHECK_ASYNC, None): (503, "图片安全检查暂不可用,请稍后再试")
       for kind in (WeChatError, WeChatRateLimited, WeChatUnavailable)},
}

# What the sender of a refused message push (WeChat, or someone posing as it) is answered.
PUSH_ANSWERS = {
    PushSignatureInvalid: (401, "签名无效"),
    PushReplayed: (401, "推送已过期或重复"),
    PushMalformed: (400, "推送消息格式错误"),
    PushRefused: (400, "推送消息格式错误"),
}


# What API users see of an internal route's refusal (PocketBaseRefusal), by its reason: the status and msg
# vocabulary.yaml gives it ("" msg: that status's own error's), data.field the field it names ({field} in msg).
ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    error.status: error for error in (BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests)}
REFUSAL_ANSWERS: dict[str, tuple[int, str]] = {
    reason: (status, msg or ERRORS_BY_STATUS[status].msg) for reason, (_, status, msg) in domain.REFUSALS.items()}

# What a worker's own bounds answer (sidecar/offload.py).
BUSY_ANSWERS = {UploadsBusy: (503, "上传繁忙,请稍后再试")}

# What API users see of any other PocketBase failure: the most specific type of the error's wins. A refusal
# that reaches here is a fault of ours.
POCKETBASE_ANSWERS = {
    PocketBaseUnavailable: (503, "数据服务暂不可用,请稍后再试"),
    PocketBaseFailed: (502, "数据服务异常,请稍后再试"),
    PocketBaseError: (502, "数据服务异常,请稍后再试"),
    PocketBaseFault: (502, "数据服务异常,请稍后再试"),
}


def pocketbase_answer(error: PocketBaseFault) -> tuple[int, str]:
    """The status and message of the envelope for a PocketBase failure."""
    if isinstance(error, PocketBaseRefusal):
        status, msg = REFUSAL_ANSWERS[error.reason]
        return status, msg.format(field=error.field)
    return next(POCKETBASE_ANSWERS[kind] for kind in type(error).__mro__ if kind in POCKETBASE_ANSWERS)


def wechat_answer(error: WeChatError) -> tuple[int, str]:
    """The status and message of the envelope for a WeChat failure."""
    for kind in type(error).__mro__:
        for key in ((kind, error.endpoint, error.errcode), (kind, error.endpoint, None), (kind, None, None)):
            if key in WECHAT_ANSWERS:
                return WECHAT_ANSWERS[key]
    raise TypeError(f"not a WeChatError: {type(error).__name__}")


def envelope(status: int, msg: str, data: dict | None = None, **extra):
    """The JSON response every route of ours answers: {code, msg, data} with code == HTTP status."""
    body = {"code": status, "msg": msg, "data": data if data is not None else {}}
    body.update(extra)
    return jsonify(body), status


def status_and_message(error: Exception) -> tuple[int, str]:
    """The envelope's status and message for any exception (the handlers below and the login audit)."""
    if isinstance(error, ApiError):
        return error.status, error.msg
    if isinstance(error, WeChatError):
        return wechat_answer(error)
    if isinstance(error, PocketBaseFault):
        return pocketbase_answer(error)
    if isinstance(error, UploadsBusy):
        return BUSY_ANSWERS[UploadsBusy]
    if isinstance(error, PushRefused):
        return next(PUSH_ANSWERS[kind] for kind in type(error).__mro__ if kind in PUSH_ANSWERS)
    if isinstance(error, HTTPException):
        status = error.code or 500
        return status, HTTP_MESSAGES.get(status, HTTP_MESSAGES[500] if status >= 500 else "请求错误")
    return 500, HTTP_MESSAGES[500]


def log_reason(error: Exception) -> str:
    """Why a request was answered with an error, for its one log line (sidecar/requestlog.py): the error's
    name and what our code knows of it (a field, WeChat's errcode, PocketBase's refusal); no client data."""
    parts = [type(error).__name__]
    if isinstance(error, ApiError):
        parts += [error.detail] if error.detail else []
        field = error.data.get("field")
        parts += [f"field={field}"] if isinstance(field, str) else []
    elif isinstance(error, WeChatError):
        parts += [error.endpoint, f"errcode={error.errcode}"] + ([f"rid={error.rid}"] if error.rid else [])
    elif isinstance(error, PocketBaseError):
        parts += [f"status={error.status}", f"reason={error.reason or '-'}"]
        parts += [f"field={error.field}"] if isinstance(error, PocketBaseRefusal) and error.field else []
        parts += [f"fields={','.join(f'{k}:{v}' for k, v in sorted(error.field_codes().items()))}"] \
            if error.field_codes() else []
    elif isinstance(error, PocketBaseFailed):
        parts += [f"status={error.status}"]
    return " ".join(parts)


def register_error_handlers(app: Flask) -> None:
    """Map every exception to the envelope; never an HTML page, never a stack trace but for a real 500.
    The reason goes into the request's one log line (g.error_reason, read by sidecar/requestlog.py)."""

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        g.error_reason = log_reason(error)
        return envelope(error.status, error.msg, error.data)

    # sidecar/wechat/ has logged a WeChat failure with its errcode; this only words it for the API user.
    @app.errorhandler(WeChatError)
    @app.errorhandler(PushRefused)
    @app.errorhandler(UploadsBusy)
    @app.errorhandler(HTTPException)
    def handle_known_error(error: Exception):
        g.error_reason = log_reason(error)
        response, status = envelope(*status_and_message(error))
        # RFC 9110 15.5.6: a 405 lists the methods the path takes.
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response, status

    # pocketbase.py has logged an unreachable or failing PocketBase; a refusal no service understood is in
    # the request's line.
    @app.errorhandler(PocketBaseFault)
    def handle_pocketbase_error(error: PocketBaseFault):
        g.error_reason = log_reason(error)
        data = {"field": error.field} if isinstance(error, PocketBaseRefusal) and error.field else {}
        return envelope(*status_and_message(error), data)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        g.error_reason = log_reason(error)
        log.exception("unhandled error: %s", type(error).__name__)  # a real 500: the one traceback
        return envelope(*status_and_message(error))
