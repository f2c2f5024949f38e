"""ops/processes.py: a port found free can be taken before our server binds it; the start then moves on."""
from __future__ import annotations

import socket

import pytest

from ops.processes import free_ports, lost_port_race, retry_on_fresh_ports


def bind(port: int) -> socket.socket:
    """Listen on 127.0.0.1:port as a server would (OSError "Address already in use" when taken)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen()
    return sock


def test_a_start_that_loses_the_race_is_retried_on_fresh_ports():
    stranger_port, = free_ports(1)
    stranger = bind(stranger_port)  # another process took the port between the pick and our bind
    tried: list[int] = []

    def start(ports):
        tried.append(ports[0])
        return bind(ports[0])

    try:
        server = retry_on_fresh_ports(start, first=[stranger_port])
        assert tried[0] == stranger_port and len(tried) == 2 and server.getsockname()[1] == tried[1]
        server.close()
    finally:
        stranger.close()


def test_other_failures_are_not_retried():
    calls = []

    def start(ports):
        calls.append(ports)
        raise RuntimeError("pocketbase exited with 1: bad migration")

    with pytest.raises(RuntimeError, match="bad migration"):
        retry_on_fresh_ports(start, count=2)
    assert len(calls) == 1


def test_after_the_last_attempt_the_failure_is_raised():
    def start(ports):
        raise RuntimeError("gunicorn: Connection in use: ('127.0.0.1', 1)")

    with pytest.raises(RuntimeError, match="Connection in use"):
        retry_on_fresh_ports(start, attempts=2)


@pytest.mark.parametrize("message, lost", [
    ("listen tcp 127.0.0.1:8090: bind: address already in use", True),     # PocketBase
    ("OSError: [Errno 98] Address already in use", True),                  # Python's servers
    ("[ERROR] Connection in use: ('127.0.0.1', 8000)", True),              # gunicorn
    ("HTTP_PORT=8080 is not free on 127.0.0.1 (Address already in use)", True),
    ("pocketbase not ready at http://127.0.0.1:1/api/health after 60s", False),
])
def test_lost_port_race_reads_each_servers_message(message, lost):
    assert lost_port_race(RuntimeError(message)) is lost
