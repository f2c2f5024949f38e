"""Keep-alive HTTP/1.1 connections to one origin (PocketBase), shared by a worker's requests.

The gateway's call is on loopback, so the client's own CPU time counts. Measured against urllib3's
HTTPConnectionPool with the same interface (2026-11-25, docs/performance.md, "The connection pool to
PocketBase"): urllib3 costs 1.5-1.9x the CPU per call (0.43 vs 0.28 ms), and the returning login under
gunicorn ran at a median 0.955x of this pool's throughput (16 interleaved wrk rounds, 11 below 1); keeping the one
safe resend below would also need an override of urllib3's private _get_conn. So this pool stays.
"""
from __future__ import annotations

import http.client
import select
import threading
from collections import deque
from urllib.parse import urlsplit


class ConnectionPool:
    """At most `size` connections, each carrying one request at a time: idle ones are reused, a new one is
    opened when none is idle, a request waits when `size` are busy."""

    def __init__(self, url: str, timeout: float, size: int = 8):
        parts = urlsplit(url)
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._timeout = timeout
        self._idle: deque[http.client.HTTPConnection] = deque()
        self._lock = threading.Lock()
        # One slot per connection: a request waits for one (up to the timeout) rather than open a connection
        # more. Under gevent a worker serves every request it holds at once; PocketBase's CPU per request
        # grows with the requests it runs at once (profile writes at 32 at once: 2.44 ms against 1.29 ms at 8
        # at once, and 927 req/s against 567: docs/performance.md, "At most 8 PocketBase requests at once per worker").
        self._slots = threading.BoundedSemaphore(size)

    def request(self, method: str, path: str, body: bytes | tuple[bytes | memoryview, ...] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; answer (status, body). OSError or HTTPException when the server can't be reached.

        body may be a tuple of chunks, sent one after the other (headers must then give Content-Length);
        TimeoutError (an OSError) when no connection came free within the timeout."""
        if not self._slots.acquire(timeout=self._timeout):
            raise TimeoutError(f"no free connection to {self._host}:{self._port} within {self._timeout} s")
        try:
            return self._request(method, path, body, headers)
        finally:
            self._slots.release()

    def _request(self, method: str, path: str, body, headers: dict[str, str] | None) -> tuple[int, bytes]:
        connection, reused = self._checkout()
        try:
            status, data, will_close = self._exchange(connection, method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The server closed this idle connection just as we sent on it: the request never ran.
            connection = self._new_connection()
            status, data, will_close = self._exchange(connection, method, path, body, headers)
        if will_close:
            connection.close()
        else:
            self._checkin(connection)
        return status, data

    def _exchange(self, connection, method, path, body, headers) -> tuple[int, bytes, bool]:
        try:
            connection.request(method, self._base_path + path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.will_close
        except BaseException:
            connection.close()
            raise

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._new_connection(), False
            if not _dropped(connection):
                return connection, True
            connection.close()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:  # never more than `size` idle: a connection is only checked in by its slot's holder
            self._idle.append(connection)

    def _new_connection(self) -> http.client.HTTPConnection:
        return self._connection_class(self._host, self._port, timeout=self._timeout)


def _original_poll():
    """The operating system's poll, not gevent's (sidecar/offload.py says why the sidecar runs under gevent):
    the check below never waits, and gevent's poll starts a watcher per socket and turns the event loop even
    for a zero timeout: 10.3 us per check against 0.7 us (measured 2026-11-29, 20,000 checks each)."""
    try:
        from gevent.monkey import get_original
    except ImportError:
        return select.poll
    return get_original("select", "poll")


_poll = _original_poll()


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or holds junk)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = _poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
