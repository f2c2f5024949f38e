"""CPU-bound work run off the worker's event loop.

The sidecar runs under gunicorn's gevent worker (deploy/gunicorn.conf.py): one OS thread per worker serves
every request as a greenlet, so an upload's picture work (~14 ms for a phone photo, ~0.8 s at
UPLOAD_MAX_PIXELS: bench/limits.md, "Uploads") would stall every other request of that worker meanwhile.
Pillow releases the GIL while it decodes and encodes, so a real thread from gevent's threadpool lets the loop
go on serving. Outside gevent (the app called in-process by tests and bench/inprocess.py, or another worker
class) the function runs where it is called.
"""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


def in_gevent() -> bool:
    """True when gevent has patched this process's threads (gunicorn's gevent worker does, before loading us)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def run_off_loop(function: Callable[..., T], *args) -> T:
    """function(*args) in a thread of gevent's threadpool when under gevent, else here; its answer or its
    exception, as a direct call gives them."""
    if not in_gevent():
        return function(*args)
    import gevent
    return gevent.get_hub().threadpool.apply(function, args)
