"""Deterministic fake of the WeChat server API, for development (`make run` without WECHAT_APPID) and tests.

It answers the three WeChat endpoints the sidecar calls, with WeChat's own paths, parameters and error
shapes, so the sidecar talks to it exactly as it talks to https://api.weixin.qq.com:

- ``GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code``
- ``POST /cgi-bin/stable_token`` with JSON ``{grant_type, appid, secret, force_refresh}``
- ``POST /wxa/business/getuserphonenumber?access_token=T`` with JSON ``{code, openid}``

Code conventions (the same table is in deploy/README.md, section "WeChat dev stub"). The rules apply to
the login code (``js_code``) and to the phone code (``code``); the first matching rule wins:

============================  ===================================================================
code                          answer
============================  ===================================================================
``fail-<errcode>[.x]``        ``{"errcode": <errcode>, "errmsg": ...}``, e.g. ``fail-40029``,
                              ``fail-40163``, ``fail-40226``, ``fail-45011``, ``fail--1``
``slow-<seconds>[.REST]``     sleep (float allowed, at most 60 s), then answer as for ``REST``
                              (login default ``slow``; phone default ``phone-13800138000``)
``http500[.x]``               HTTP 500 with an HTML body
``garbage[.x]``               HTTP 200 with a body that is not JSON
login ``NAME[.x]``            openid ``dev-openid-NAME``, unionid ``dev-unionid-NAME`` (NAME is the
                              part before the first ``.``, so ``alice.1`` and ``alice.2`` are one user)
phone ``phone-<digits>[.x]``  purePhoneNumber ``<digits>``, phoneNumber ``+86 <digits>``
any other phone code          errcode 40029 (invalid code)
============================  ===================================================================

Credentials: a wrong ``appid`` answers errcode 40013, a wrong ``secret`` 40125. Access tokens are
``stub-token-<n>``; ``stable_token`` returns the current valid one unless ``force_refresh`` is true or
there is none. A phone call with any token but the current valid one answers 40001.

Control endpoints for tests: ``POST /__stub/expire-token`` (the current token becomes invalid),
``GET /__stub/stats`` (calls per endpoint), ``POST /__stub/reset``. In process the same is
``stub.expire_token()``, ``stub.stats()``, ``stub.reset()``.

The session key is ``WECHAT_STUB_SESSION_KEY`` (or the ``session_key`` argument) when set, otherwise a
deterministic per-user value. Neither the secret nor any session key is ever logged.

Run as a process: ``python -m ops.wechat_stub --port 8555 [--appid A --secret S] [--host H]``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("ops.wechat_stub")

DEFAULT_APPID = "dev-appid"
DEFAULT_SECRET = "dev-secret"
DEFAULT_PHONE = "13800138000"
MAX_SLEEP_SECONDS = 60.0
TOKEN_TTL_SECONDS = 7200

JSCODE2SESSION = "/sns/jscode2session"
STABLE_TOKEN = "/cgi-bin/stable_token"
GET_PHONE_NUMBER = "/wxa/business/getuserphonenumber"
ENDPOINTS = (JSCODE2SESSION, STABLE_TOKEN, GET_PHONE_NUMBER)

# errmsg values as WeChat words them, so logs and error mapping look like production.
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "high risk user",
    41001: "access_token missing",
    41008: "missing code",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
}

FAIL_CODE = re.compile(r"^fail-(-?\d+)(?:\..*)?$", re.S)
SLOW_CODE = re.compile(r"^slow-(\d+(?:\.\d+)?)(?:\.(.+))?$", re.S)
PHONE_CODE = re.compile(r"^phone-(\d{1,20})(?:\..*)?$", re.S)
HTTP500_CODE = re.compile(r"^http500(?:\..*)?$", re.S)
GARBAGE_CODE = re.compile(r"^garbage(?:\..*)?$", re.S)

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
    """The user name a login code stands for: the part before the first '.'."""
    return code.split(".", 1)[0]


class WeChatStub:
    """The fake WeChat server: state (tokens, call counts) plus a threaded HTTP server around it."""

    def __init__(self, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET, session_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.appid = appid
        self.secret = secret
        self.session_key = session_key
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- state -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every token and call count."""
        with self._lock:
            self._token_serial = 0
            self._current_token: str | None = None
            self._token_expires_at = 0.0
            self._calls = {endpoint: 0 for endpoint in ENDPOINTS}

    def expire_token(self) -> None:
        """Invalidate the current access token (as WeChat does when it expires or is refreshed elsewhere)."""
        with self._lock:
            self._current_token = None

    def stats(self) -> dict:
        """Calls per endpoint path, plus the number of tokens issued."""
        with self._lock:
            return {"calls": dict(self._calls), "tokens_issued": self._token_serial}

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

    def get_phone_number(self, query: dict, body: dict) -> dict:
        """Answer POST /wxa/business/getuserphonenumber."""
        self._count(GET_PHONE_NUMBER)
        token = query.get("access_token")
        if not token:
            return wechat_error(41001)
        with self._lock:
            valid = token == self._valid_token()
        if not valid:
            return wechat_error(40001)
        code = body.get("code")
        if not isinstance(code, str) or not code:
            return wechat_error(47001)
        outcome = apply_common_rules(code, default_after_slow=f"phone-{DEFAULT_PHONE}")
        if isinstance(outcome, dict):
            return outcome
        phone = PHONE_CODE.match(outcome)
        if not phone:
            return wechat_error(40029)
        digits = phone.group(1)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": f"+86 {digits}",
                "purePhoneNumber": digits,
                "countryCode": "86",
                "watermark": {"timestamp": int(time.time()), "appid": self.appid},
            },
        }

    # -- server ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> "WeChatStub":
        """Open the listening socket (on a free port when port is 0) without serving yet."""
        if self._server is None:
            self._server = StubHTTPServer((self.host, self.port), StubRequestHandler, self)
            self.port = self._server.server_address[1]
        return self

    def start(self) -> "WeChatStub":
        """Serve in a daemon thread."""
        self.bind()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="wechat-stub",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until request_shutdown() (the process mode)."""
        server = self.bind()._server
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            server.server_close()

    def request_shutdown(self) -> None:
        """Make serve_forever() return soon; safe to call from a signal handler."""
        if self._server:
            # shutdown() blocks until the serving loop ends, so it must not run in the serving thread.
            threading.Thread(target=self._server.shutdown, daemon=True).start()

    def stop(self) -> None:
        """Stop serving; requests still sleeping are abandoned (their threads are daemons)."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "WeChatStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class StubHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its stub and does not wait for sleeping requests on close."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, handler, stub: WeChatStub):
        super().__init__(address, handler)
        self.stub = stub


class StubRequestHandler(BaseHTTPRequestHandler):
    """Routes requests to the stub; logs method, path and status only (never the query: it holds the secret)."""

    server: StubHTTPServer
    server_version = "wechat-stub/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment (buffered, flushed after each request) with Nagle off:
    # otherwise the body waits ~40 ms for the client's delayed ACK on every reused keep-alive connection.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the default line includes the query string, i.e. the secret; log_request below replaces it

    def log_request(self, code="-", size="-") -> None:
        log.info("%s %s %s", self.command, urlsplit(self.path).path, code)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, payload: dict, status: int = 200) -> None:
        # WeChat answers JSON with this (odd but real) content type.
        self._send(status, "application/json; encoding=utf-8", json.dumps(payload, ensure_ascii=False).encode())

    def _read_json(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _dispatch(self) -> None:
        stub = self.server.stub
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        route = (self.command, parts.path)
        try:
            if route == ("GET", JSCODE2SESSION):
                self._send_json(stub.jscode2session(query))
            elif route == ("POST", STABLE_TOKEN):
                body = self._read_json()
                self._send_json(stub.stable_token(body) if body is not None else wechat_error(47001))
            elif route == ("POST", GET_PHONE_NUMBER):
                body = self._read_json()
                self._send_json(stub.get_phone_number(query, body) if body is not None else wechat_error(47001))
            elif route == ("POST", "/__stub/expire-token"):
                stub.expire_token()
                self._send_json({"ok": True})
            elif route == ("GET", "/__stub/stats"):
                self._send_json(stub.stats())
            elif route == ("POST", "/__stub/reset"):
                stub.reset()
                self._send_json({"ok": True})
            else:
                self._send(404, "text/html; charset=utf-8", b"<html><body>404 Not Found</body></html>")
        except StubAnswer as answer:
            self._send(answer.status, answer.content_type, answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow- code)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        self._dispatch()


def main(argv: list[str] | None = None) -> int:
    """Run the stub as a process until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m ops.wechat_stub", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--appid", default=os.environ.get("WECHAT_STUB_APPID", DEFAULT_APPID))
    parser.add_argument("--secret", default=os.environ.get("WECHAT_STUB_SECRET", DEFAULT_SECRET))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s wechat-stub %(message)s")
    stub = WeChatStub(appid=args.appid, secret=args.secret,
                      session_key=os.environ.get("WECHAT_STUB_SESSION_KEY") or None,
                      host=args.host, port=args.port)

    signal.signal(signal.SIGTERM, lambda signum, frame: stub.request_shutdown())
    signal.signal(signal.SIGINT, lambda signum, frame: stub.request_shutdown())
    stub.bind()
    # Names the URL and appid only: the secret and session keys never reach the log.
    log.info("WeChat dev stub listening on %s (appid %s)", stub.url, stub.appid)
    stub.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
