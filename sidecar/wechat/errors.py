"""WeChat's failures as typed errors, and the errcode helpers every endpoint module shares.

What API users see of each is worded in sidecar/errors.py, never here.
"""
from __future__ import annotations

import logging
import re
from typing import Container

log = logging.getLogger("sidecar.wechat")

# The endpoints, by the names errors and log lines give them.
JSCODE2SESSION, GET_PHONE_NUMBER, STABLE_TOKEN = "jscode2session", "getuserphonenumber", "stable_token"
MSG_SEC_CHECK, MEDIA_CHECK_ASYNC = "msg_sec_check", "media_check_async"
SUBSCRIBE_SEND = "subscribe_send"
GET_UNLIMITED = "getwxacodeunlimit"

ERR_INVALID_CODE = 40029
ERR_CODE_USED = 40163
ERR_RISKY_USER = 40226
ERR_RATE_LIMITED = 45011
# msgSecCheck's older answer for content that violates the rules (内容含有违法违规内容): a verdict, not a failure.
ERR_CONTENT_RISKY = 87014
# access_token invalid (40001), expired (42001), or not this app's (40014): a fresh token may fix it.
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})
ERRMSG_MAX_LENGTH = 200
# WeChat's request id at the end of errmsg ("..., rid: 6492a2b5-1b2c3d4e-5f6a7b8c"): what its support asks for.
WECHAT_RID = re.compile(r"rid: ([0-9A-Za-z-]{1,64})")
# An openid or unionid as WeChat writes them (28 characters of base64url today): ASCII letters, digits, "-" and
# "_", at most as long as the field that stores it (schema.yaml: 128). Anything else is not WeChat's answer.
WECHAT_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")


class WeChatError(Exception):
    """A WeChat call failed: endpoint, WeChat's errcode and errmsg (0, "" when none). As such: an unusable answer.

    errmsg stays out of str() and repr(): it is WeChat's free text, not ours to print.
    """

    def __init__(self, endpoint: str, errcode: int = 0, errmsg: str = ""):
        super().__init__(f"wechat {endpoint} failed: {type(self).__name__} errcode={errcode}")
        self.endpoint = endpoint
        self.errcode = errcode
        self.errmsg = errmsg[:ERRMSG_MAX_LENGTH]

    @property
    def rid(self) -> str:
        """WeChat's request id from errmsg ("" when none): safe to log, unlike errmsg."""
        found = WECHAT_RID.search(self.errmsg)
        return found.group(1) if found else ""


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached in time (connection error, timeout)."""


class WeChatRateLimited(WeChatError):
    """WeChat's call quota of this app is used up (errcode 45011)."""


class WeChatCodeRejected(WeChatError):
    """WeChat refused the user's code or the user (invalid, used, risky account)."""


class WeChatCodeMissing(WeChatError):
    """The code was empty; WeChat was not called."""


class PushRefused(Exception):
    """A message push (消息推送) that is not WeChat's or cannot be read; nothing of it was applied."""


class PushSignatureInvalid(PushRefused):
    """The push's signature or msg_signature is missing or wrong (or no push token is configured)."""


class PushReplayed(PushRefused):
    """A correctly signed push that is not fresh: its timestamp outside the window, or its nonce seen before
    (pb_hooks/lib/media_checks.js decides, where every worker and host sees the nonces)."""


class PushMalformed(PushRefused):
    """A correctly signed push whose body cannot be read: not JSON, bad ciphertext or padding, another appid."""


def errcode_of(endpoint: str, data: dict) -> int:
    """The answer's errcode (0 when none); a non-integer one is an unusable answer."""
    errcode = data.get("errcode") or 0
    if isinstance(errcode, bool) or not isinstance(errcode, int):
        log.warning("wechat %s failed: malformed errcode", endpoint)
        raise WeChatError(endpoint, 0, errmsg_of(data))
    return errcode


def errmsg_of(data: dict) -> str:
    errmsg = data.get("errmsg")
    return errmsg if isinstance(errmsg, str) else ""


def users_input_refused(errcode: int, users_fault: Container[int]) -> bool:
    """The errcode refuses the user's input (WeChatCodeRejected), rather than saying WeChat or our call failed."""
    return errcode in users_fault and errcode != ERR_RATE_LIMITED and errcode not in TOKEN_ERRCODES


def refusal(endpoint: str, data: dict, errcode: int, users_fault: Container[int]) -> WeChatError:
    """The error for a non-zero errcode: the rate limit, a refusal of the user's code, or any other failure."""
    if errcode == ERR_RATE_LIMITED:
        kind = WeChatRateLimited
    elif users_input_refused(errcode, users_fault):
        kind = WeChatCodeRejected
    else:
        kind = WeChatError
    return kind(endpoint, errcode, errmsg_of(data))


def malformed(endpoint: str) -> WeChatError:
    """The error for a 200 answer without the fields the endpoint promises (logged here)."""
    log.warning("wechat %s failed: malformed body", endpoint)
    return WeChatError(endpoint)


def nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def wechat_id(value: object) -> bool:
    """Whether value is an openid or unionid as WeChat writes them (WECHAT_ID): never empty, blank or padded."""
    return isinstance(value, str) and WECHAT_ID.fullmatch(value) is not None
