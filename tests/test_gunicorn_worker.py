"""deploy/gunicorn_worker.py: told to stop, the worker closes its idle keep-alive connections at once and
still answers its requests in flight and a connection accepted just after, instead of waiting out graceful_timeout (a real gunicorn; its master is
sent SIGTERM, as systemd's stop does, and passes it on to the worker as a reload does to its old workers)."""
from __future__ import annotations

import runpy
import signal
import socket
import sys
import time

import pytest

from ops.processes import ROOT, ManagedProcess, free_port
from ops.stack import GUNICORN_CONF

SLOW_SECONDS = 1.5


def app(environ, start_response):
    """The WSGI app the gunicorn under test serves: /slow answers after SLOW_SECONDS (gevent's patched sleep)."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(SLOW_SECONDS)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "tests.test_gunicorn_worker:app", "-c", str(GUNICORN_CONF),
            "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    process = ManagedProcess("gunicorn-worker-test", argv, tmp_path / "gunicorn.log", cwd=ROOT).start()
    process.wait_http(f"http://127.0.0.1:{port}/", 30, ok=lambda r: r.status_code == 200)
    yield process, port
    process.stop()


def ask(port: int, path: str) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=15)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return client


def read_answer(client: socket.socket) -> bytes:
    """One whole answer of app (its body is the last 2 bytes), leaving the connection open."""
    data = b""
    while not data.endswith(b"\r\n\r\nok"):
        chunk = client.recv(4096)
        assert chunk, data
        data += chunk
    return data


def read_until_closed(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def test_a_stop_closes_idle_connections_at_once_and_answers_the_requests_in_flight(gunicorn):
    process, port = gunicorn
    graceful_timeout = runpy.run_path(str(GUNICORN_CONF))["graceful_timeout"]
    idle = ask(port, "/")
    assert read_answer(idle).startswith(b"HTTP/1.1 200 OK")  # kept alive: the worker waits for its next request
    busy = ask(port, "/slow")
    time.sleep(SLOW_SECONDS / 3)  # /slow is being served

    stopped_at = time.monotonic()
    process.proc.send_signal(signal.SIGTERM)
    assert idle.recv(4096) == b""  # closed, not kept until nginx's 30 s or the graceful timeout
    late = socket.create_connection(("127.0.0.1", port), timeout=15)  # the listener is still open
    time.sleep(0.02)  # accepted, its first request not sent yet
    late.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    for client in (busy, late):
        answer = read_until_closed(client)  # answered whole, saying it closes (nginx sends no more on it)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok"), answer
        assert b"connection: close" in answer.lower(), answer
    process.proc.wait(timeout=graceful_timeout + 5)
    took = time.monotonic() - stopped_at
    # gunicorn's own GeventWorker waits out graceful_timeout for the idle connection, then kills it.
    assert took < graceful_timeout / 2, took
    log = process.log_path.read_bytes()
    assert b"graceful timeout" not in log.lower() and b"Traceback" not in log and b"[ERROR]" not in log, log
