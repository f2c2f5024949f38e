"""sidecar/httppool.py: keep-alive reuse, dropped connections, size limit, refusal as OSError."""
from __future__ import annotations

import concurrent.futures as cf
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops.processes import free_port
from sidecar.httppool import ConnectionPool


class EchoHandler(BaseHTTPRequestHandler):
    """Answers '<method> <path> <body>' and counts the connections it was asked on."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self):
        self._answer(b"")

    def do_POST(self):
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _answer(self, body: bytes):
        payload = f"{self.command} {self.path} ".encode() + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        # "/vanish" closes a connection that it announced as keep-alive, like an idle timeout does.
        self.close_connection = self.close_connection or self.path == "/vanish"

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), EchoHandler)
    httpd.daemon_threads = True
    httpd.lock, httpd.connections = threading.Lock(), 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url_of(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def test_sequential_requests_share_one_connection(server):
    pool = ConnectionPool(url_of(server), timeout=5)
    answers = [pool.request("GET", f"/n{i}") for i in range(5)]
    assert answers == [(200, f"GET /n{i} ".encode()) for i in range(5)]
    assert server.connections == 1


def test_post_body_and_base_path_are_sent(server):
    pool = ConnectionPool(url_of(server) + "/base/", timeout=5)
    assert pool.request("POST", "/x?a=1", b'{"k": 1}', {"Content-Type": "application/json"}) == \
        (200, b'POST /base/x?a=1 {"k": 1}')


def test_connection_close_answer_is_not_reused(server):
    pool = ConnectionPool(url_of(server), timeout=5)
    pool.request("GET", "/close")
    pool.request("GET", "/after")
    assert server.connections == 2


def test_idle_connection_closed_by_the_server_is_not_reused(server):
    pool = ConnectionPool(url_of(server), timeout=5)
    pool.request("GET", "/vanish")
    assert pool.request("GET", "/second") == (200, b"GET /second ")
    assert server.connections == 2


def test_request_on_a_connection_closed_unnoticed_is_sent_again_once(server, monkeypatch):
    pool = ConnectionPool(url_of(server), timeout=5)
    pool.request("GET", "/vanish")
    monkeypatch.setattr("sidecar.httppool._dropped", lambda connection: False)  # the close races our send
    assert pool.request("POST", "/again", b"body") == (200, b"POST /again body")
    assert server.connections == 2


def test_concurrent_requests_each_get_a_connection_and_idle_ones_are_capped(server):
    pool = ConnectionPool(url_of(server), timeout=5, size=2)
    with cf.ThreadPoolExecutor(8) as executor:
        answers = list(executor.map(lambda i: pool.request("GET", f"/c{i}"), range(64)))
    assert answers == [(200, f"GET /c{i} ".encode()) for i in range(64)]
    assert len(pool._idle) <= 2


def test_unreachable_server_raises_oserror():
    pool = ConnectionPool(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(OSError):
        pool.request("GET", "/")
