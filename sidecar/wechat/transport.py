"""The WeChat server API's transport: one pooled HTTP session, the cached stable access_token, typed failures.

Each endpoint's module (login.py, phone.py, ...) builds on WeChatTransport; WeChatClient (the package) is them all.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from typing import Any, Callable, Container

import requests
from requests.adapters import HTTPAdapter

from sidecar.wechat.errors import (
    STABLE_TOKEN, TOKEN_ERRCODES, WECHAT_RID, WeChatError, WeChatUnavailable, errcode_of, errmsg_of, malformed,
    nonempty_str, refusal, users_input_refused,
)

log = logging.getLogger("sidecar.wechat")

# Refresh this long before WeChat's expiry so a token never dies mid-request.
TOKEN_REFRESH_MARGIN = 300.0
# Kept-alive connections to WeChat per worker. A gevent worker makes all its WeChat calls at once (no
# threads bound them): past this many, urllib3 opens a connection more (a TLS handshake) and drops it after.
POOL_SIZE = 128
# Connecting should be fast; a slow connect means WeChat (or our egress) is down, not busy.
CONNECT_TIMEOUT_CAP = 3.05


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


class WeChatTransport:
    """Thread-safe transport of the WeChat server API; every failure raises a WeChatError."""

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
        return f"{type(self).__name__}(appid={self.appid!r}, api_base={self.api_base!r})"

    def close(self) -> None:
        """Close the HTTP pool if this client created it."""
        if self._owns_session:
            self._session.close()

    def call_with_token(self, endpoint: str, path: str, body: dict, users_fault: Container[int],
                        media: bool = False) -> dict | bytes:
        """POST body to path with the access_token; the answer, its errcode 0. A token WeChat rejects is renewed
        once (WeChat refused it before reading the body, so a single-use code in it is still unused); a non-zero
        errcode raises (users_fault: the errcodes that are about the user's input, WeChatCodeRejected).

        media: the endpoint answers a file's bytes on success and JSON only on failure (wxacode): the bytes are
        the answer then."""
        # UTF-8 as it is, not \u escapes: msg_sec_check is known to misjudge escaped text (WeChat's forum).
        payload = json.dumps(body, ensure_ascii=False).encode()

        def ask(token: str) -> tuple[dict | bytes, int]:
            data = self._call(endpoint, "POST", path, params={"access_token": token}, data=payload,
                              headers={"Content-Type": "application/json; charset=utf-8"}, users_fault=users_fault,
                              media=media)
            return data, 0 if isinstance(data, bytes) else errcode_of(endpoint, data)

        token = self._access_token()
        data, errcode = ask(token)
        if errcode in TOKEN_ERRCODES:
            self._drop_token(token)
            data, errcode = ask(self._access_token())
            if errcode in TOKEN_ERRCODES:
                raise WeChatError(endpoint, errcode, errmsg_of(data))
        if errcode:
            raise refusal(endpoint, data, errcode, users_fault)
        return data

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
        errcode = errcode_of(endpoint, data)
        if errcode:
            # Any token error is our configuration or WeChat's fault, never the API user's.
            raise refusal(endpoint, data, errcode, ())
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if (not nonempty_str(token) or isinstance(expires_in, bool)
                or not isinstance(expires_in, (int, float)) or expires_in <= 0):
            raise malformed(endpoint)
        return token, float(expires_in)

    def _call(self, endpoint: str, method: str, path: str, users_fault: Container[int] = (), media: bool = False,
              **kwargs: Any) -> dict | bytes:
        """Send one request and return its JSON object; transport and HTTP failures raise WeChatError. An errcode
        in users_fault (the user's input refused: a refusal, not a failure) is left to the request's log line.

        media: a body that is not JSON (it does not start with "{") is the answer, as bytes."""
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
        if media and not response.content.lstrip()[:1] == b"{":
            log.debug("wechat %s ok bytes=%d elapsed_ms=%d", endpoint, len(response.content), _ms(started))
            return response.content
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
            rid = WECHAT_RID.search(errmsg_of(data))
            log.log(logging.DEBUG if users_input_refused(errcode, users_fault) else logging.WARNING,
                    "wechat %s failed: errcode=%s rid=%s elapsed_ms=%d", endpoint, errcode,
                    rid.group(1) if rid else "-", _ms(started))
        else:
            log.debug("wechat %s ok elapsed_ms=%d", endpoint, _ms(started))
        return data


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
