"""A stop of the sidecar's gunicorn (deploy/gunicorn.conf.py, stock gevent worker): told to stop, a worker ends
its idle keep-alive connections within `keepalive`, answers its requests in flight (and a connection accepted
just after, saying it closes), and exits without waiting out graceful_timeout (a real gunicorn; its master is
sent SIGTERM, as systemd's stop does, and passes it on to the worker as a reload does to its old workers)."""
from __future__ import annotations

import os
import runpy
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from ops.processes import ROOT, ManagedProcess, free_port
from ops.stack import GUNICORN_CONF

SLOW_SECONDS = 1.5
STARTED_FILE = "GUNICORN_STOP_TEST_STARTED"  # env: the file /slow creates when it starts


def app(environ, start_response):
    """The WSGI app the gunicorn under test serves: /slow answers after SLOW_SECONDS (gevent's patched sleep)."""
    if environ["PATH_INFO"] == "/slow":
        Path(os.environ[STARTED_FILE]).touch()
        time.sleep(SLOW_SECONDS)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "tests.test_gunicorn_stop:app", "-c", str(GUNICORN_CONF),
            "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    env = {**os.environ, STARTED_FILE: str(tmp_path / "slow-started")}
    process = ManagedProcess("gunicorn-stop-test", argv, tmp_path / "gunicorn.log", cwd=ROOT, env=env).start()
    process.wait_http(f"http://127.0.0.1:{port}/", 30, ok=lambda r: r.status_code == 200)
    yield process, port, tmp_path / "slow-started"
    process.stop()


def ask(port: int, path: str) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
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


def wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not created within {seconds} s"
        time.sleep(0.02)


def test_a_stop_ends_idle_connections_answers_the_requests_in_flight_and_never_waits_out_graceful_timeout(gunicorn):
    process, port, slow_started = gunicorn
    conf = runpy.run_path(str(GUNICORN_CONF))
    idle = ask(port, "/")
    assert read_answer(idle).startswith(b"HTTP/1.1 200 OK")  # kept alive: the worker waits for its next request
    busy = ask(port, "/slow")
    wait_for(slow_started)  # /slow is being served

    process.proc.send_signal(signal.SIGTERM)
    late = socket.create_connection(("127.0.0.1", port), timeout=30)  # the listener is still open
    time.sleep(0.02)  # accepted, its first request not sent yet
    late.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    for client in (busy, late):
        answer = read_until_closed(client)  # answered whole, then closed (at the latest after `keepalive`)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok"), answer
    assert b"connection: close" in answer.lower(), answer  # the late one: served after the stop, saying so
    assert idle.recv(4096) == b""  # closed by gunicorn after `keepalive` (nginx, closing it first, never waits)
    process.proc.wait(timeout=conf["graceful_timeout"] + 30)
    log = process.log_path.read_bytes()
    # The worker exited by itself ("Worker exiting"), not killed by the master at graceful_timeout (no line) nor
    # killing what it waited graceful_timeout for ("Worker graceful timeout").
    assert b"Worker exiting" in log and b"graceful timeout" not in log.lower(), log
    assert b"Traceback" not in log and b"[ERROR]" not in log, log
