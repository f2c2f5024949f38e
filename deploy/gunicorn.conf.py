"""gunicorn's settings for the sidecar, in one place: read by `make run` (ops/stack.py) and by
deploy/systemd/bai-sidecar.service (`-c`). The bind address and the process name stay on each command line:
one machine may run several sidecars. The number of workers comes from SIDECAR_WORKERS (ops/settings.py;
tests/test_gunicorn_conf.py checks this fallback against StackConfig's default).
"""
import importlib.util
import os

# The sidecar mostly waits on PocketBase and WeChat: a gevent worker waits for all of its requests on one
# event loop, where gthread's threads handed each request between a poller and a pool and contended for the
# GIL. A users-count or refresh-token costs 0.67-0.71x the sidecar CPU of 3 gthread workers x 8 threads, and
# each route's throughput is higher (bench/limits.md, "worker model"). CPU-bound work leaves the loop
# (sidecar/offload.py); at most 8 PocketBase requests per worker run at once (sidecar/httppool.py).
# gunicorn's gevent worker, but for its stop: deploy/gunicorn_worker.py (read from beside this file, so the
# master imports no part of the app before gevent has patched the workers).


def _worker_class():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn_worker.py")
    spec = importlib.util.spec_from_file_location("bai_gunicorn_worker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.IdleClosingGeventWorker


worker_class = _worker_class()
# One worker uses at most one core, and PocketBase needs about as much CPU as the sidecar for the same
# request (make bench's CPU table): half the cores, at least one. On 2 cores, 1 worker measured 0.72-0.83x
# the CPU per request of 2 (fewer processes for the 2 cores to switch between).
workers = int(os.environ.get("SIDECAR_WORKERS") or max(1, (os.cpu_count() or 1) // 2))
# preload_app stays off: each worker imports the app after gevent has patched it, so the app's locks and
# semaphores are gevent's (a real one, taken while its holder waits on the loop, would freeze the worker).
# Longer than nginx's upstream keepalive_timeout (30 s): nginx always closes idle connections first.
keepalive = 75
timeout = 30
graceful_timeout = 10
# nginx passes header lines up to 16 KiB (large_client_header_buffers); gunicorn's default 8 KiB would
# answer longer ones with its own plain-text 400 instead of the sidecar's envelope.
limit_request_field_size = 16384
# The request line's bound is nginx's too (the same 16 KiB buffer); gunicorn caps a non-zero limit at 8190, so
# 0 (no limit of its own): a URL of 4-16 KiB that nginx passes gets the route's answer, not gunicorn's HTML 414,
# and a longer one gets nginx's 414 envelope (deploy/nginx-api-server.conf.template).
limit_request_line = 0
# The sidecar writes its own line per request, so there is no access log; the error log goes to stderr
# (sidecar.log under make run, the journal under systemd).
errorlog = "-"
loglevel = "info"
# The default control socket is one fixed path per user: two sidecars would fight over it.
control_socket_disable = True
