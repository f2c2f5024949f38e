"""jscode2session: a wx.login code for the user's openid, unionid and session_key.

WeChat doc: 小程序登录 / code2Session (GET /sns/jscode2session).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sidecar.wechat.errors import (
    ERR_CODE_USED, ERR_INVALID_CODE, ERR_RISKY_USER, JSCODE2SESSION, WeChatCodeMissing, errcode_of, malformed,
    refusal, wechat_id,
)
from sidecar.wechat.transport import WeChatTransport

# The errcodes that are about the user's code or account; any other (-1 system busy, 40013 / 40125 bad
# appid / secret, ...) is WeChat's fault or our configuration's.
LOGIN_REFUSALS = frozenset({ERR_INVALID_CODE, ERR_CODE_USED, ERR_RISKY_USER})
# session_key: base64 of 16 bytes (24 characters); bounded and without blanks, whatever its exact length.
SESSION_KEY = re.compile(r"[0-9A-Za-z+/=_-]{1,128}")


@dataclass(frozen=True)
class WeChatSession:
    """What jscode2session returns; session_key stays server-side and out of repr()."""

    openid: str
    unionid: str
    session_key: str = field(repr=False)


class LoginApi(WeChatTransport):
    def code_to_session(self, js_code: str) -> WeChatSession:
        """Exchange a wx.login code for openid, unionid and session_key (never retried: a code is single-use).

        An answer whose openid or unionid is not one (errors.WECHAT_ID), or without a session_key, is a WeChatError
        (502): nothing is created or changed."""
        endpoint = JSCODE2SESSION
        if not isinstance(js_code, str) or not js_code.strip():
            raise WeChatCodeMissing(endpoint)
        data = self._call(endpoint, "GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self._secret, "js_code": js_code, "grant_type": "authorization_code"},
            users_fault=LOGIN_REFUSALS)
        errcode = errcode_of(endpoint, data)
        if errcode:
            raise refusal(endpoint, data, errcode, LOGIN_REFUSALS)
        openid, session_key, unionid = data.get("openid"), data.get("session_key"), data.get("unionid", "")
        # WeChat's answer is checked as a client's input would be: an openid that is blank, padded, too long or of
        # characters WeChat never writes would register a user (or log into one) that is nobody's (502).
        if not wechat_id(openid) or not (unionid == "" or wechat_id(unionid)) or \
                not isinstance(session_key, str) or SESSION_KEY.fullmatch(session_key) is None:
            raise malformed(endpoint)
        return WeChatSession(openid=openid, unionid=unionid, session_key=session_key)
