"""jscode2session: a wx.login code for the user's openid, unionid and session_key.

WeChat doc: 小程序登录 / code2Session (GET /sns/jscode2session).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sidecar.wechat.errors import (
    ERR_CODE_USED, ERR_INVALID_CODE, ERR_RISKY_USER, JSCODE2SESSION, WeChatCodeMissing, errcode_of, malformed,
    nonempty_str, refusal,
)
from sidecar.wechat.transport import WeChatTransport

# The errcodes that are about the user's code or account; any other (-1 system busy, 40013 / 40125 bad
# appid / secret, ...) is WeChat's fault or our configuration's.
LOGIN_REFUSALS = frozenset({ERR_INVALID_CODE, ERR_CODE_USED, ERR_RISKY_USER})


@dataclass(frozen=True)
class WeChatSession:
    """What jscode2session returns; session_key stays server-side and out of repr()."""

    openid: str
    unionid: str
    session_key: str = field(repr=False)


class LoginApi(WeChatTransport):
    def code_to_session(self, js_code: str) -> WeChatSession:
        """Exchange a wx.login code for openid, unionid and session_key (never retried: a code is single-use)."""
        endpoint = JSCODE2SESSION
        if not isinstance(js_code, str) or not js_code.strip():
            raise WeChatCodeMissing(endpoint)
        data = self._call(endpoint, "GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self._secret, "js_code": js_code, "grant_type": "authorization_code"},
            users_fault=LOGIN_REFUSALS)
        errcode = errcode_of(endpoint, data)
        if errcode:
            raise refusal(endpoint, data, errcode, LOGIN_REFUSALS)
        openid, session_key = data.get("openid"), data.get("session_key")
        unionid = data.get("unionid") or ""
        if not nonempty_str(openid) or not nonempty_str(session_key) or not isinstance(unionid, str):
            raise malformed(endpoint)
        return WeChatSession(openid=openid, unionid=unionid, session_key=session_key)
