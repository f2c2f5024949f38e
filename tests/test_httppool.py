"""sidecar/httppool.py: keep-alive reuse, dropped connections, size limit, refusal as OSError."""
from __future__ import annotations

import concurrent.futures as cf
import http.client
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops.processes import ROOT, free_port
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
        if self.path in SPECIAL:
            return SPECIAL[self.path](self, payload)
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


def chunked(handler, payload: bytes):
    handler.send_response(200)
    handler.send_header("transfer-ENCODING", "Chunked")
    handler.end_headers()
    for piece in (payload[:3], payload[3:]):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    handler.wfile.write(b"0\r\n\r\n")


def no_length(handler, payload: bytes):
    # HTTP/1.1 without Content-Length or chunks: the body ends where the server closes.
    handler.send_response(200)
    handler.end_headers()
    handler.wfile.write(payload)
    handler.close_connection = True


def no_content(handler, payload: bytes):
    handler.send_response(204)
    handler.end_headers()


def continue_first(handler, payload: bytes):
    handler.wfile.write(b"HTTP/1.1 100 Continue\r\nX-Skipped: 1\r\n\r\n")
    handler.send_response(201)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def bad_status(handler, payload: bytes):
    handler.wfile.write(b"HTTQ/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    handler.close_connection = True


SPECIAL = {"/chunked": chunked, "/no-length": no_length, "/no-content": no_content, "/continue": continue_first,
           "/bad-status": bad_status}


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


def test_concurrent_requests_share_at_most_size_connections(server):
    pool = ConnectionPool(url_of(server), timeout=5, size=2)
    with cf.ThreadPoolExecutor(8) as executor:
        answers = list(executor.map(lambda i: pool.request("GET", f"/c{i}"), range(64)))
    assert answers == [(200, f"GET /c{i} ".encode()) for i in range(64)]
    assert server.connections <= 2
    assert len(pool._idle) <= 2


def test_a_request_waits_for_a_free_connection_and_gives_up_after_the_timeout(server):
    pool = ConnectionPool(url_of(server), timeout=0.3, size=1)
    pool._slots.acquire()  # the one connection is carrying another request
    with pytest.raises(TimeoutError):
        pool.request("POST", "/waits", b"x")
    assert server.connections == 0  # nothing was sent
    pool._slots.release()
    assert pool.request("POST", "/waits", b"x") == (200, b"POST /waits x")


def test_unreachable_server_raises_oserror():
    pool = ConnectionPool(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(OSError):
        pool.request("GET", "/")


@pytest.mark.parametrize("path, status, body, reused", [
    ("/chunked", 200, b"GET /chunked ", True),
    ("/no-length", 200, b"GET /no-length ", False),
    ("/no-content", 204, b"", True),
    ("/continue", 201, b"GET /continue ", True),
])
def test_answers_are_read_by_their_framing_and_reused_when_they_allow_it(server, path, status, body, reused):
    pool = ConnectionPool(url_of(server), timeout=5)
    assert pool.request("GET", path) == (status, body)
    assert pool.request("GET", "/next") == (200, b"GET /next ")
    assert server.connections == (1 if reused else 2)


def test_a_bad_status_line_stays_http_clients_error(server):
    pool = ConnectionPool(url_of(server), timeout=5)
    with pytest.raises(http.client.BadStatusLine):
        pool.request("GET", "/bad-status")


def test_under_gevent_the_dropped_check_uses_the_systems_poll_and_still_sees_the_close():
    """gevent's poll turns the event loop for each check (sidecar/httppool.py _original_poll): the pool
    keeps the operating system's, which still sees an idle socket the server has closed."""
    script = """from gevent import monkey; monkey.patch_all()
import select, socket
from types import SimpleNamespace
from gevent.monkey import get_original
from sidecar import httppool
ours, theirs = socket.socketpair()
idle = SimpleNamespace(sock=ours)
before = httppool._dropped(idle)
theirs.close()
print(httppool._poll is get_original("select", "poll"), select.poll is not httppool._poll, before,
      httppool._dropped(idle))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "False", "True"], out.stderr
