"""What the dev stub answers: the code conventions (fail-, slow-, phone-, ...), access tokens and call counts."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from contextlib import contextmanager

from ops.wechat_stub import wxacode
from ops.wechat_stub.security import (
    MAX_SLEEP_SECONDS, UNCHECKED, PushTarget, marked, media_check_event, push_later, verdict,
)
from ops.wechat_stub.subscribe import SubscribeOutbox

DEFAULT_APPID = "dev-appid"
DEFAULT_SECRET = "dev-secret"
DEFAULT_PHONE = "13800138000"
TOKEN_TTL_SECONDS = 7200

JSCODE2SESSION = "/sns/jscode2session"
STABLE_TOKEN = "/cgi-bin/stable_token"
GET_PHONE_NUMBER = "/wxa/business/getuserphonenumber"
MSG_SEC_CHECK = "/wxa/msg_sec_check"
MEDIA_CHECK_ASYNC = "/wxa/media_check_async"
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"
GET_UNLIMITED = "/wxa/getwxacodeunlimit"
ENDPOINTS = (JSCODE2SESSION, STABLE_TOKEN, GET_PHONE_NUMBER, MSG_SEC_CHECK, MEDIA_CHECK_ASYNC, SUBSCRIBE_SEND,
             GET_UNLIMITED)

# errmsg values as WeChat words them, so logs and error mapping look like production.
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40037: "invalid template_id",
    40163: "code been used",
    41030: "invalid page",
    43101: "user refuse to accept the msg",
    47003: "argument invalid!",
    40226: "high risk user",
    41001: "access_token missing",
    41008: "missing code",
    40097: "invalid args",
    40169: "invalid length for scene, or the data is not json string",
    41030: "invalid page",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
}

FAIL_CODE = re.compile(r"^fail-(-?\d+)(?:\..*)?$", re.S)
SLOW_CODE = re.compile(r"^slow-(\d+(?:\.\d+)?)(?:\.(.+))?$", re.S)
# phone-<digits> (mainland, countryCode 86) or phone-<countryCode>-<digits> (e.g. phone-852-51234567)
PHONE_CODE = re.compile(r"^phone-(?:([1-9]\d{0,2})-)?(\d{1,20})(?:\..*)?$", re.S)
HTTP500_CODE = re.compile(r"^http500(?:\..*)?$", re.S)
GARBAGE_CODE = re.compile(r"^garbage(?:\..*)?$", re.S)
# A login NAME the stub knows: up to 31 letters, digits, "_" and "-". Any other code (a real one from wx.login in
# WeChat's developer tools or on a phone is 32 letters and digits) logs in as the one dev user DEVTOOLS_NAME, so
# the developer tools stay one user across logins instead of a new one per single-use code.
LOGIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,31}")
DEVTOOLS_NAME = "devtools"

HTML_500 = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>"
GARBAGE_BODY = b"<html>this is not JSON {\"errcode\":"


class StubAnswer(Exception):
    """A raw HTTP answer (status, content type, body) that short-circuits the normal JSON reply."""

    def __init__(self, status: int, content_type: str, body: bytes):
        super().__init__(status)
        self.status, self.content_type, self.body = status, content_type, body


def wechat_error(errcode: int) -> dict:
    """A WeChat-shaped error body."""
    return {"errcode": errcode, "errmsg": ERRMSG.get(errcode, f"stub error {errcode}")}


def apply_common_rules(code: str, default_after_slow: str) -> str | dict:
    """Apply the fail/slow/http500/garbage rules; return the code to answer for, or an error body."""
    while True:
        slow = SLOW_CODE.match(code)
        if not slow:
            break
        time.sleep(min(float(slow.group(1)), MAX_SLEEP_SECONDS))
        code = slow.group(2) or default_after_slow
    fail = FAIL_CODE.match(code)
    if fail:
        return wechat_error(int(fail.group(1)))
    if HTTP500_CODE.match(code):
        raise StubAnswer(500, "text/html; charset=utf-8", HTML_500)
    if GARBAGE_CODE.match(code):
        raise StubAnswer(200, "text/plain; charset=utf-8", GARBAGE_BODY)
    return code


def login_name(code: str) -> str:
    """The user name a login code stands for: the part before the first '.' when it is a NAME, else "devtools"."""
    name = code.split(".", 1)[0]
    return name if LOGIN_NAME.fullmatch(name) else DEVTOOLS_NAME


class WeChatAnswers:
    """The fake WeChat's state (tokens, call counts) and its answer to each endpoint, without HTTP."""

    def __init__(self, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET, session_key: str | None = None,
                 push: PushTarget | None = None):
        self.appid = appid
        self.secret = secret
        self.session_key = session_key
        # Where picture verdicts go (security.py); no URL: they are not pushed.
        self.push_target = push or PushTarget(appid=appid)
        self._lock = threading.Lock()
        self._answering = 0  # requests being answered now (a slow- code for seconds)
        self.reset()

    # -- state -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every token and call count."""
        with self._lock:
            self._token_serial = 0
            self._current_token: str | None = None
            self._token_expires_at = 0.0
            self._calls = {endpoint: 0 for endpoint in ENDPOINTS}
            self.subscribe = SubscribeOutbox()

    def expire_token(self) -> None:
        """Invalidate the current access token (as WeChat does when it expires or is refreshed elsewhere)."""
        with self._lock:
            self._current_token = None

    def stats(self) -> dict:
        """Calls per endpoint path, the number of tokens issued, and the requests being answered now (a test
        waits for 0 to know a slow- code's answer is over)."""
        with self._lock:
            return {"calls": dict(self._calls), "tokens_issued": self._token_serial, "answering": self._answering}

    @contextmanager
    def answering(self):
        """Counts a request in stats' "answering" while the block answers it."""
        with self._lock:
            self._answering += 1
        try:
            yield
        finally:
            with self._lock:
                self._answering -= 1

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self._calls[endpoint] += 1

    def _valid_token(self) -> str | None:
        if self._current_token and time.monotonic() < self._token_expires_at:
            return self._current_token
        return None

    def _session_key_for(self, name: str) -> str:
        if self.session_key:
            return self.session_key
        # WeChat session keys are base64 of 16 bytes; derive one per user so it is stable across runs.
        return base64.b64encode(hashlib.sha256(f"dev-session-{name}".encode()).digest()[:16]).decode()

    # -- endpoints ---------------------------------------------------------------------------------

    def jscode2session(self, query: dict) -> dict:
        """Answer GET /sns/jscode2session."""
        self._count(JSCODE2SESSION)
        if query.get("appid") != self.appid:
            return wechat_error(40013)
        if query.get("secret") != self.secret:
            return wechat_error(40125)
        if query.get("grant_type") != "authorization_code":
            return wechat_error(40002)
        code = query.get("js_code") or ""
        if not code:
            return wechat_error(41008)
        outcome = apply_common_rules(code, default_after_slow="slow")
        if isinstance(outcome, dict):
            return outcome
        name = login_name(outcome)
        return {"openid": f"dev-openid-{name}", "session_key": self._session_key_for(name),
                "unionid": f"dev-unionid-{name}"}

    def stable_token(self, body: dict) -> dict:
        """Answer POST /cgi-bin/stable_token."""
        self._count(STABLE_TOKEN)
        if body.get("grant_type") != "client_credential":
            return wechat_error(40002)
        if body.get("appid") != self.appid:
            return wechat_error(40013)
        if body.get("secret") != self.secret:
            return wechat_error(40125)
        with self._lock:
            now = time.monotonic()
            if body.get("force_refresh") is True or not self._valid_token():
                self._token_serial += 1
                self._current_token = f"stub-token-{self._token_serial}"
                self._token_expires_at = now + TOKEN_TTL_SECONDS
            return {"access_token": self._current_token,
                    "expires_in": max(1, round(self._token_expires_at - now))}

    def _token_error(self, query: dict) -> dict | None:
        """The error of a call without the current valid access token; None when it has it."""
        token = query.get("access_token")
        if not token:
            return wechat_error(41001)
        with self._lock:
            valid = token == self._valid_token()
        return None if valid else wechat_error(40001)

    def _content_check(self, endpoint: str, query: dict, body: dict, subject: str, media_types: tuple) -> object:
        """The checks both content security endpoints share: token, version 2, scene, openid, the subject (content
        or media_url) and media_type; then the markers of security.py on the subject: an error body, or the
        suggest (str)."""
        self._count(endpoint)
        refused = self._token_error(query)
        if refused:
            return refused
        value = body.get(subject)
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4) or not body.get("openid") \
                or not isinstance(value, str) or not value or body.get("media_type") not in media_types:
            return wechat_error(47001)
        # A picture's URL names no user input (uploads are stored as upload_<random>.<ext>): its uploader's openid
        # carries the markers too.
        outcome = marked(value if subject == "content" else f"{value} {body['openid']}")
        return wechat_error(outcome) if isinstance(outcome, int) else outcome

    def msg_sec_check(self, query: dict, body: dict) -> dict:
        """Answer POST /wxa/msg_sec_check (version 2): the markers of security.py in the content."""
        outcome = self._content_check(MSG_SEC_CHECK, query, body, "content", (None,))
        if isinstance(outcome, dict):
            return outcome
        outcome = "pass" if outcome == UNCHECKED else outcome
        return {"errcode": 0, "errmsg": "ok", "trace_id": self._trace_id(), **verdict(outcome)}

    def media_check_async(self, query: dict, body: dict) -> dict:
        """Answer POST /wxa/media_check_async (version 2) and push its verdict a moment later."""
        outcome = self._content_check(MEDIA_CHECK_ASYNC, query, body, "media_url", (1, 2))
        if isinstance(outcome, dict):
            return outcome
        trace_id = self._trace_id()
        if self.push_target.url:
            push_later(self.push_target, media_check_event(self.appid, body["openid"], trace_id, outcome))
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def _trace_id(self) -> str:
        return f"stub-trace-{int(time.time())}-{secrets.token_hex(6)}"

    def get_phone_number(self, query: dict, body: dict) -> dict:
        """Answer POST /wxa/business/getuserphonenumber."""
        self._count(GET_PHONE_NUMBER)
        refused = self._token_error(query)
        if refused:
            return refused
        code = body.get("code")
        if not isinstance(code, str) or not code:
            return wechat_error(47001)
        outcome = apply_common_rules(code, default_after_slow=f"phone-{DEFAULT_PHONE}")
        if isinstance(outcome, dict):
            return outcome
        phone = PHONE_CODE.match(outcome)
        if not phone:
            return wechat_error(40029)
        country, digits = phone.group(1) or "86", phone.group(2)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": f"+{country} {digits}",
                "purePhoneNumber": digits,
                "countryCode": country,
                "watermark": {"timestamp": int(time.time()), "appid": self.appid},
            },
        }

    def subscribe_send(self, query: dict, body: dict) -> dict:
        """Answer POST /cgi-bin/message/subscribe/send: the markers of subscribe.py in touser; a message sent is kept
        (GET /__stub/subscribe-messages) and logged."""
        self._count(SUBSCRIBE_SEND)
        refused = self._token_error(query)
        if refused:
            return refused
        errcode = self.subscribe.send(body)
        return wechat_error(errcode) if errcode else {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(48)}

    def get_unlimited(self, query: dict, body: dict) -> dict:
        """Answer POST /wxa/getwxacodeunlimit (ops/wechat_stub/wxacode.py): the image raised as a StubAnswer, or
        WeChat's error JSON."""
        self._count(GET_UNLIMITED)
        refused = self._token_error(query)
        if refused:
            return refused
        errcode, content_type, image = wxacode.answer(body)
        if errcode:
            return wechat_error(errcode)
        raise StubAnswer(200, content_type, image)
