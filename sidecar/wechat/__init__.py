"""Client of the WeChat server API, one module per WeChat document.

- transport.py: the pooled HTTP session, the cached stable access_token (cgi-bin/stable_token), typed failures
- login.py: jscode2session; phone.py: getuserphonenumber; security.py: msg_sec_check, media_check_async
- subscribe.py: subscribeMessage.send (订阅消息)
- push.py: message push (消息推送): URL verification, signatures, safe mode's decryption
- wxacode.py: getwxacodeunlimit (the mini-program code of a page and scene, as an image)
- errors.py: the WeChatError family (worded for API users in sidecar/errors.py)
"""
from __future__ import annotations

from sidecar.wechat.errors import (  # noqa: F401 - the names the rest of the sidecar imports from the package
    ERR_CODE_USED, ERR_INVALID_CODE, ERR_RISKY_USER, GET_PHONE_NUMBER, GET_UNLIMITED, JSCODE2SESSION,
    MEDIA_CHECK_ASYNC, MSG_SEC_CHECK, STABLE_TOKEN, SUBSCRIBE_SEND, PushMalformed, PushRefused, PushReplayed,
    PushSignatureInvalid, WeChatCodeMissing, WeChatCodeRejected, WeChatError, WeChatRateLimited, WeChatUnavailable,
)
from sidecar.wechat.login import LoginApi, WeChatSession  # noqa: F401
from sidecar.wechat.phone import PhoneApi
from sidecar.wechat.push import PushReceiver  # noqa: F401
from sidecar.wechat.security import SUGGEST_RISKY, SecurityApi, suggest_of  # noqa: F401
from sidecar.wechat.subscribe import SubscribeApi
from sidecar.wechat.wxacode import ERR_INVALID_PAGE, ERR_QUOTA, WxaCode, WxaCodeApi  # noqa: F401


class WeChatClient(LoginApi, PhoneApi, SecurityApi, SubscribeApi, WxaCodeApi):
    """Thread-safe client of the WeChat server API; every failure raises a WeChatError."""
