"""gunicorn's gevent worker, closing its idle keep-alive connections when it is told to stop.

deploy/gunicorn.conf.py names this class as the worker. gunicorn's GeventWorker, told to stop (SIGTERM: a
stop, a restart, or the old workers of a reload), waits until every connection's greenlet has ended, for up
to graceful_timeout. A greenlet waiting for its connection's next request ends only when the client sends
one or closes, and nginx keeps its idle upstream connections for 30 s (keepalive_timeout in
deploy/nginx.conf.template): so every stop took the whole graceful_timeout and ended in "Worker graceful
timeout", the connections still open then killed mid-wait.

This worker, once told to stop, closes the read side of every connection that has served a request and
waits for the next with none arriving, then of each connection whose request in flight has been answered
(that answer says Connection: close, so nginx does not send another on it meanwhile): its greenlet ends as
on a client's close, and the worker exits as soon as its requests in flight are answered. A connection
accepted after the stop (the listener stays open for up to a second) is served its first request, as
gunicorn serves it. The file stays outside the sidecar package so the master imports gevent only, never
the app (gevent must patch ssl and threads before the app's imports see them).
"""
from __future__ import annotations

import select
import socket
from contextlib import contextmanager

import gevent
from gevent.monkey import get_original
from gunicorn.workers.ggevent import GeventWorker


class IdleClosingGeventWorker(GeventWorker):
    """GeventWorker whose stop does not wait out the connections idle between two requests."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sockets: dict[gevent.Greenlet, socket.socket] = {}  # each connection's greenlet -> its socket
        self._served: set[gevent.Greenlet] = set()  # the greenlets whose connection has had an answer
        self._waiting: set[gevent.Greenlet] = set()  # of those, the ones waiting for their next request

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi

        def answer_closing_after_stop(environ, start_response):
            def start(status, headers, exc_info=None):
                if not self.alive:  # told to stop while this request ran
                    start_response.__self__.force_close()  # gunicorn's Response, whose method this is
                return start_response(status, headers, exc_info)
            return app(environ, start)

        self.wsgi = answer_closing_after_stop

    def handle(self, listener, client, addr):
        current = gevent.getcurrent()
        self._sockets[current] = client
        try:
            super().handle(listener, client, addr)
        finally:
            self._sockets.pop(current, None)
            self._served.discard(current)

    def handle_request(self, listener_name, req, sock, addr):
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            self._served.add(gevent.getcurrent())

    @contextmanager
    def timeout_ctx(self):
        # gunicorn reads each next request (its head) inside this context, idle time included.
        current = gevent.getcurrent()
        if current in self._served:
            self._waiting.add(current)
            if not self.alive:  # answered after the stop: its connection waits for no other request
                self.close_idle()
        try:
            with super().timeout_ctx():
                yield
        finally:
            self._waiting.discard(current)

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        gevent.spawn(self.close_idle)  # out of the signal handler, as GeventWorker.handle_quit does

    def close_idle(self) -> None:
        """Close the read side of each connection waiting for a request with no byte of one arrived."""
        for greenlet in list(self._waiting):
            client = self._sockets.get(greenlet)
            if client is not None and not _readable(client):
                _shut_read(client)


def _shut_read(client: socket.socket) -> None:
    """Close the socket's read side by the system's socket: the waiting greenlet reads the end of the stream.
    gevent's shutdown would wake it with an error instead (EBADF, which gunicorn logs as a socket error)."""
    try:
        system_socket = get_original("socket", "socket")(fileno=client.fileno())
    except OSError:
        return  # closed meanwhile
    try:
        system_socket.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # the client has gone meanwhile
    finally:
        system_socket.detach()  # the fd stays the connection's, closed by its own greenlet


def _readable(client: socket.socket) -> bool:
    """Bytes (or the client's close) wait on the socket. The system's poll: gevent's would turn the loop."""
    poller = get_original("select", "poll")()
    poller.register(client.fileno(), select.POLLIN)
    return bool(poller.poll(0))
