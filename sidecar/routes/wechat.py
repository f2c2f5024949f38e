"""/pb/api/wechat: login, profile, upload, logout and closing the account; WeChat's message push."""
from __future__ import annotations

from flask import Blueprint, request

from sidecar.audit import audited
from sidecar.domain import DISPLAYED_FIELDS, INVITER_CODE_MAX_LENGTH
from sidecar.errors import envelope
from sidecar.offload import upload_slot
from sidecar.routes import WX_CODE_MAX_LENGTH, accounts, moderation, profile_max_lengths, shares, uploads, users
from sidecar.routes.inputs import (
    bearer_token, client_info, json_object, optional_string, required_string, uploaded_file, visible_string,
)
from sidecar.share import page_max_length, share_width

bp = Blueprint("wechat", __name__, url_prefix="/pb/api/wechat")


@bp.post("/login")
@audited("login")
def login():
    """WeChat login, creating the user on first login (its inviter, when it names one: issue #29)."""
    body = json_object()
    code = required_string(body, "users_wx_code", WX_CODE_MAX_LENGTH)
    inviter = optional_string(body, "inviter_promo_code", INVITER_CODE_MAX_LENGTH)
    result = users().login(code, client_info(), inviter)
    data = {
        "status": "register_success" if result.registered else "login_success",
        "is_info_complete": result.is_info_complete,
        "user": result.user,
    }
    return envelope(200, "注册成功" if result.registered else "登录成功", data, token=result.token)


@bp.post("/profile")
def profile():
    """Incremental profile update of the bearer's user: only non-empty fields change."""
    token = bearer_token(required=True)
    body = json_object()
    fields = {name: (visible_string if name in DISPLAYED_FIELDS else optional_string)(body, name, limit)
              for name, limit in profile_max_lengths().items()}
    user = users().update_profile(token, {name: value for name, value in fields.items() if value}, client_info())
    return envelope(200, "资料更新成功", {"status": "update_success", "user": user})


@bp.post("/upload")
def upload():
    """The bearer's file (wx.uploadFile: multipart, part `file`) stored as an attachment they own."""
    token = bearer_token(required=True)
    with upload_slot():  # before the body is read: it is held in memory
        data, filename = uploaded_file(uploads().max_bytes)
        attachment = uploads().upload(token, data, filename, client_info())
    return envelope(200, "上传成功", {"attachment": attachment})


@bp.post("/share-code")
def share_code():
    """The bearer's mini-program code (小程序码) of a page, carrying their promo code: made once, then served."""
    token = bearer_token(required=True)
    body = json_object()
    page, width = optional_string(body, "page", page_max_length()), share_width(body.get("width"))
    return envelope(200, "获取成功", shares().share_code(token, page, width, client_info()))


@bp.post("/logout")
def logout():
    """Logout everywhere: every token of the bearer's user, on every device, stops working."""
    token = bearer_token(required=True)
    json_object()
    accounts().logout(token)
    return envelope(200, "已退出登录", {"status": "logout_success"})


@bp.post("/close-account")
def close_account():
    """Close the bearer's account: the user record is deleted, its openid and phone number are free."""
    token = bearer_token(required=True)
    json_object()
    accounts().close_account(token)
    return envelope(200, "账号已注销", {"status": "close_success"})


# WeChat reads these two answers as plain text (消息推送 / 服务器配置); a refusal is our envelope (errors.py).
@bp.get("/push")
def push_verification():
    """WeChat's URL verification: echostr back when signature is the push token's."""
    return moderation().verify_push_url(request.args), 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.post("/push")
def push():
    """A message push (JSON, plain or safe mode): its event applied (a picture verdict), answered success."""
    moderation().receive_push(request.args, request.get_data(cache=False))
    return "success", 200, {"Content-Type": "text/plain; charset=utf-8"}
