"""Client of the WeChat server API: jscode2session, getuserphonenumber and a cached stable access_token."""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Container

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

# The endpoints, by the names errors and log lines give them.
JSCODE2SESSION, GET_PHONE_NUMBER, STABLE_TOKEN = "jscode2session", "getuserphonenumber", "stable_token"

ERR_INVALID_CODE = 40029
ERR_CODE_USED = 40163
ERR_RISKY_USER = 40226
ERR_RATE_LIMITED = 45011
# access_token invalid (40001), expired (42001), or not this app's (40014): a fresh token may fix it.
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})
# The jscode2session errcodes that are about the user's code or account; any other (-1 system busy,
# 40013 / 40125 bad appid / secret, ...) is WeChat's fault or our configuration's.
LOGIN_REFUSALS = frozenset({ERR_INVALID_CODE, ERR_CODE_USED, ERR_RISKY_USER})
# On getuserphonenumber every 4xxxx but the rate limit and the token errors is about the phone code.
PHONE_REFUSALS = range(40000, 50000)
# WeChat's request id at the end of errmsg ("..., rid: 6492a2b5-1b2c3d4e-5f6a7b8c"): what its support asks for.
WECHAT_RID = re.compile(r"rid: ([0-9A-Za-z-]{1,64})")
ERRMSG_MAX_LENGTH = 200

# Refresh this long before WeChat's expiry so a token never dies mid-request.
TOKEN_REFRESH_MARGIN = 300.0
POOL_SIZE = 32
# Connecting should be fast; a slow connect means WeChat (or our egress) is down, not busy.
CONNECT_TIMEOUT_CAP = 3.05


class WeChatError(Exception):
    """A WeChat call failed: endpoint, WeChat's errcode and errmsg (0, "" when none). As such: an unusable answer.

    errmsg stays out of str() and repr(): it is WeChat's free text, not ours to print.
    """

    def __init__(self, endpoint: str, errcode: int = 0, errmsg: str = ""):
        super().__init__(f"wechat {endpoint} failed: {type(self).__name__} errcode={errcode}")
        self.endpoint = endpoint
        self.errcode = errcode
        self.errmsg = errmsg[:ERRMSG_MAX_LENGTH]


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached in time (connection error, timeout)."""


class WeChatRateLimited(WeChatError):
    """WeChat's call quota of this app is used up (errcode 45011)."""


class WeChatCodeRejected(WeChatError):
    """WeChat refused the user's code or the user (invalid, used, risky account)."""


class WeChatCodeMissing(WeChatError):
    """The code was empty; WeChat was not called."""


@dataclass(frozen=True)
class WeChatSession:
    """What jscode2session returns; session_key stays server-side and out of repr()."""

    openid: str
    unionid: str
    session_key: str = field(repr=False)


class _RedactQuery(logging.Filter):
    """Blank secret query parameters in urllib3's DEBUG request lines."""

    _pattern = re.compile(r"([?&](?:secret|js_code|access_token|code)=)[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        redacted = self._pattern.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_urllib3_redaction() -> None:
    # urllib3 logs every request URL at DEBUG, and jscode2session carries the app secret in its query string.
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactQuery) for f in logger.filters):
        logger.addFilter(_RedactQuery())


class WeChatClient:
    """Thread-safe client of the WeChat server API; every failure raises a WeChatError."""

    def __init__(
        self,
        appid: str,
        secret: str,
        api_base: str = "https://api.weixin.qq.com",
        timeout: float = 5.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.appid = appid
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self._timeout = (min(timeout, CONNECT_TIMEOUT_CAP), timeout)
        self._clock = clock
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Default max_retries=0: a login code is single-use, so the transport must never resend it.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # requests re-reads proxy, netrc and CA settings from the environment on every call (a
            # sixth of a login's sidecar CPU): read them once, for the one host this client calls.
            session.proxies = requests.utils.get_environ_proxies(self.api_base)
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            session.trust_env = False
        self._session = session
        # (token, refresh_at) as one tuple so readers outside the lock never see half an update.
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        _install_urllib3_redaction()

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self.api_base!r})"

    def close(self) -> None:
        """Close the HTTP pool if this client created it."""
        if self._owns_session:
            self._session.close()

    def code_to_session(self, js_code: str) -> WeChatSession:
        """Exchange a wx.login code for openid, unionid and session_key (never retried: a code is single-use)."""
        endpoint = JSCODE2SESSION
        if not isinstance(js_code, str) or not js_code.strip():
            raise WeChatCodeMissing(endpoint)
        data = self._call(endpoint, "GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self._secret, "js_code": js_code, "grant_type": "authorization_code"})
        errcode = _errcode(endpoint, data)
        if errcode:
            raise _refusal(endpoint, data, errcode, LOGIN_REFUSALS)
        openid, session_key = data.get("openid"), data.get("session_key")
        unionid = data.get("unionid") or ""
        if not _nonempty_str(openid) or not _nonempty_str(session_key) or not isinstance(unionid, str):
            log.warning("wechat %s failed: malformed body", endpoint)
            raise WeChatError(endpoint)
        return WeChatSession(openid=openid, unionid=unionid, session_key=session_key)

    def phone_number(self, phone_code: str, openid: str = "") -> str:
        """Exchange a getPhoneNumber code for the user's phone number without country code (purePhoneNumber).

        openid is optional for WeChat: the profile route has none, its one PocketBase request comes after."""
        endpoint = GET_PHONE_NUMBER
        if not isinstance(phone_code, str) or not phone_code.strip():
            raise WeChatCodeMissing(endpoint)

        body = {"code": phone_code, **({"openid": openid} if openid else {})}

        def ask(token: str) -> tuple[dict, int]:
            data = self._call(endpoint, "POST", "/wxa/business/getuserphonenumber",
                              params={"access_token": token}, json=body)
            return data, _errcode(endpoint, data)

        token = self._access_token()
        data, errcode = ask(token)
        if errcode in TOKEN_ERRCODES:
            # WeChat rejected the token before looking at the phone code, so the code is still unused.
            self._drop_token(token)
            data, errcode = ask(self._access_token())
            if errcode in TOKEN_ERRCODES:
                raise WeChatError(endpoint, errcode, _errmsg(data))
        if errcode:
            raise _refusal(endpoint, data, errcode, PHONE_REFUSALS)
        phone_info = data.get("phone_info")
        phone = phone_info.get("purePhoneNumber") if isinstance(phone_info, dict) else None
        if not _nonempty_str(phone):
            log.warning("wechat %s failed: malformed body", endpoint)
            raise WeChatError(endpoint)
        return phone

    def _access_token(self) -> str:
        cached = self._valid_token()
        if cached is not None:
            return cached
        with self._token_lock:
            # Another thread may have fetched while we waited for the lock.
            cached = self._valid_token()
            if cached is not None:
                return cached
            token, expires_in = self._fetch_stable_token()
            lifetime = max(expires_in - TOKEN_REFRESH_MARGIN, expires_in / 2)
            self._token = (token, self._clock() + lifetime)
            return token

    def _valid_token(self) -> str | None:
        entry = self._token
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        return None

    def _drop_token(self, failed: str) -> None:
        with self._token_lock:
            # Only drop the token that failed; another thread may already have cached a fresh one.
            if self._token is not None and self._token[0] == failed:
                self._token = None

    def _fetch_stable_token(self) -> tuple[str, float]:
        endpoint = STABLE_TOKEN
        # stable_token, unlike cgi-bin/token, does not invalidate tokens other processes still hold.
        data = self._call(endpoint, "POST", "/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self._secret, "force_refresh": False})
        errcode = _errcode(endpoint, data)
        if errcode:
            # Any token error is our configuration or WeChat's fault, never the API user's.
            raise _refusal(endpoint, data, errcode, ())
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if (not _nonempty_str(token) or isinstance(expires_in, bool)
                or not isinstance(expires_in, (int, float)) or expires_in <= 0):
            log.warning("wechat %s failed: malformed body", endpoint)
            raise WeChatError(endpoint)
        return token, float(expires_in)

    def _call(self, endpoint: str, method: str, path: str, **kwargs: Any) -> dict:
        """Send one request and return its JSON object; transport and HTTP failures raise WeChatError."""
        started = time.monotonic()
        try:
            response = self._session.request(
                method, self.api_base + path, timeout=self._timeout, allow_redirects=False, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # str(exc) holds the full URL, query string and secret included: log the class name only.
            log.warning("wechat %s failed: %s elapsed_ms=%d", endpoint, type(exc).__name__, _ms(started))
            raise WeChatUnavailable(endpoint) from None
        except requests.RequestException as exc:
            log.warning("wechat %s failed: %s elapsed_ms=%d", endpoint, type(exc).__name__, _ms(started))
            raise WeChatError(endpoint) from None
        if not 200 <= response.status_code < 300:
            log.warning("wechat %s failed: http_status=%d elapsed_ms=%d", endpoint, response.status_code,
                        _ms(started))
            raise WeChatError(endpoint)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            log.warning("wechat %s failed: body is not a JSON object elapsed_ms=%d", endpoint, _ms(started))
            raise WeChatError(endpoint)
        errcode = data.get("errcode") or 0
        if errcode:
            # errcode and WeChat's rid only: errmsg is WeChat's free text.
            rid = WECHAT_RID.search(_errmsg(data))
            log.warning("wechat %s failed: errcode=%s rid=%s elapsed_ms=%d", endpoint, errcode,
                        rid.group(1) if rid else "-", _ms(started))
        else:
            log.debug("wechat %s ok elapsed_ms=%d", endpoint, _ms(started))
        return data


def _errcode(endpoint: str, data: dict) -> int:
    errcode = data.get("errcode") or 0
    if isinstance(errcode, bool) or not isinstance(errcode, int):
        log.warning("wechat %s failed: malformed errcode", endpoint)
        raise WeChatError(endpoint, 0, _errmsg(data))
    return errcode


def _errmsg(data: dict) -> str:
    errmsg = data.get("errmsg")
    return errmsg if isinstance(errmsg, str) else ""


def _refusal(endpoint: str, data: dict, errcode: int, users_fault: Container[int]) -> WeChatError:
    """The error for a non-zero errcode: the rate limit, a refusal of the user's code, or any other failure."""
    if errcode == ERR_RATE_LIMITED:
        kind = WeChatRateLimited
    elif errcode in users_fault:
        kind = WeChatCodeRejected
    else:
        kind = WeChatError
    return kind(endpoint, errcode, _errmsg(data))


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
