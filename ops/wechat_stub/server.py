"""The dev stub's threaded HTTP server: WeChat's paths and JSON in front of WeChatAnswers, plus the test controls."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ops.wechat_stub.answers import (
    DEFAULT_APPID, DEFAULT_SECRET, GET_PHONE_NUMBER, GET_UNLIMITED, JSCODE2SESSION, MEDIA_CHECK_ASYNC, MSG_SEC_CHECK,
    STABLE_TOKEN, SUBSCRIBE_SEND, StubAnswer, WeChatAnswers, wechat_error,
)
from ops.wechat_stub.security import PushTarget

log = logging.getLogger("ops.wechat_stub")


class WeChatStub(WeChatAnswers):
    """The fake WeChat server: WeChatAnswers behind a threaded HTTP server."""

    def __init__(self, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET, session_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, push: PushTarget | None = None):
        super().__init__(appid, secret, session_key, push)
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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
    # socketserver's listen backlog is 5: a gevent worker opening its connections for 32 requests at once
    # had SYNs dropped and resent a second later (the returning login's p99 at 32 connections: 718 ms
    # against a p50 of 39). WeChat's servers take such a burst.
    request_queue_size = 128

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
        if urlsplit(self.path).path.startswith("/__stub/"):  # the stub's own controls: not counted as answering
            return self._answer(self.server.stub)
        with self.server.stub.answering():
            self._answer(self.server.stub)

    def _answer(self, stub) -> None:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        route = (self.command, parts.path)
        try:
            if route == ("GET", JSCODE2SESSION):
                self._send_json(stub.jscode2session(query))
            elif route == ("POST", STABLE_TOKEN):
                body = self._read_json()
                self._send_json(stub.stable_token(body) if body is not None else wechat_error(47001))
            elif route in (("POST", GET_PHONE_NUMBER), ("POST", MSG_SEC_CHECK), ("POST", MEDIA_CHECK_ASYNC),
                           ("POST", SUBSCRIBE_SEND), ("POST", GET_UNLIMITED)):
                answer = {GET_PHONE_NUMBER: stub.get_phone_number, MSG_SEC_CHECK: stub.msg_sec_check,
                          MEDIA_CHECK_ASYNC: stub.media_check_async, SUBSCRIBE_SEND: stub.subscribe_send,
                          GET_UNLIMITED: stub.get_unlimited}[parts.path]
                body = self._read_json()
                self._send_json(answer(query, body) if body is not None else wechat_error(47001))
            elif route == ("POST", "/__stub/expire-token"):
                stub.expire_token()
                self._send_json({"ok": True})
            elif route == ("GET", "/__stub/subscribe-messages"):
                self._send_json(stub.subscribe.messages(query.get("touser", "")))
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

