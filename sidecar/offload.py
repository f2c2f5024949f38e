"""CPU-bound work run off the worker's event loop, and how much of it a worker takes on at once.

The sidecar runs under gunicorn's gevent worker (deploy/gunicorn.conf.py): one OS thread per worker serves
every request as a greenlet, so an upload's picture work (~14 ms for a phone photo, ~0.8 s and ~300 MB at
UPLOAD_MAX_PIXELS: docs/performance.md, "The picture work off the event loop") would stall every other request of that worker meanwhile.
Pillow releases the GIL while it decodes and encodes, so a real thread lets the loop go on serving. The
threads are a pool of their own (PICTURE_THREADS), not gevent's hub pool, which also resolves host names
for new connections. Outside gevent (the app called in-process by tests and bench/inprocess.py, or another
worker class) the function runs where it is called.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, TypeVar

T = TypeVar("T")

# Picture work at once per worker: bounds its memory (~300 MB each at UPLOAD_MAX_PIXELS) and its cores (a
# worker per two cores: deploy/gunicorn.conf.py).
PICTURE_THREADS = 2
# Uploads in progress at once per worker, their bodies (up to UPLOAD_MAX_BYTES each) read into memory
# included: gthread's 8 threads bounded this by themselves, a gevent worker takes every request nginx sends.
UPLOADS_AT_ONCE = 8
# How long an upload waits for its turn before the 503: nginx waits 30 s for the whole answer
# (deploy/nginx-api-server.conf.template).
UPLOAD_WAIT_SECONDS = 10.0


class UploadsBusy(Exception):
    """No place for one more upload in this worker came free in time (sidecar/errors.py: 503)."""


_pool = None
_uploads = threading.BoundedSemaphore(UPLOADS_AT_ONCE)  # made after gevent's patching: a gevent semaphore


def in_gevent() -> bool:
    """True when gevent has patched this process's threads (gunicorn's gevent worker does, before loading us)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def run_off_loop(function: Callable[..., T], *args) -> T:
    """function(*args) in a thread of this worker's picture pool when under gevent, else here; its answer or
    its exception, as a direct call gives them."""
    if not in_gevent():
        return function(*args)
    global _pool
    if _pool is None:  # made in the worker, after the fork: threads do not survive one
        from gevent.threadpool import ThreadPool
        _pool = ThreadPool(PICTURE_THREADS)
    value, error = _pool.apply(_outcome, (function, args))
    if error is not None:
        raise error
    return value


def _outcome(function: Callable[..., T], args: tuple) -> tuple[T | None, Exception | None]:
    """function(*args)'s value or exception, returned: an exception raised in a pool thread would also be
    printed by gevent's hub (a traceback in the log for every refused upload), then raised in the caller."""
    try:
        return function(*args), None
    except Exception as exc:  # noqa: BLE001 - raised again by run_off_loop, in the request's greenlet
        return None, exc


@contextmanager
def upload_slot():
    """One of the worker's UPLOADS_AT_ONCE places for an upload, held while the block runs; UploadsBusy when none
    came free within UPLOAD_WAIT_SECONDS."""
    if not _uploads.acquire(timeout=UPLOAD_WAIT_SECONDS):
        raise UploadsBusy()
    try:
        yield
    finally:
        _uploads.release()
