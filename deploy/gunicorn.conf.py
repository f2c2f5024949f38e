"""gunicorn's settings for the sidecar, in one place: read by `make run` (ops/stack/) and by
deploy/systemd/bai-sidecar.service (`-c`). The bind address and the process name stay on each command line:
one machine may run several sidecars. The number of workers comes from SIDECAR_WORKERS (ops/settings.py;
tests/test_gunicorn_conf.py checks this fallback against StackConfig's default).
"""
import os

# The sidecar mostly waits on PocketBase and WeChat: a gevent worker waits for all of its requests on one
# event loop, where gthread's threads handed each request between a poller and a pool and contended for the
# GIL. A users-count or refresh-token costs 0.67-0.71x the sidecar CPU of 3 gthread workers x 8 threads, and
# each route's throughput is higher (docs/performance.md, "gevent workers, half the cores"). CPU-bound work
# leaves the loop (sidecar/offload.py); at most 8 PocketBase requests per worker run at once (sidecar/httppool.py).
worker_class = "gevent"
# One worker uses at most one core, and PocketBase needs about as much CPU as the sidecar for the same
# request (make bench's CPU table): half the cores, at least one. On 2 cores, 1 worker measured 0.72-0.83x
# the CPU per request of 2 (fewer processes for the 2 cores to switch between).
workers = int(os.environ.get("SIDECAR_WORKERS") or max(1, (os.cpu_count() or 1) // 2))
# preload_app stays off: each worker imports the app after gevent has patched it, so the app's locks and
# semaphores are gevent's (a real one, taken while its holder waits on the loop, would freeze the worker).
# How long a connection waits for its next request. A stopping worker (a stop, a restart, the old workers of
# a reload) ends once its connections have; one waiting for its next request ends only when nginx closes it
# or this runs out, so a long wait made every stop take the whole graceful_timeout, then killed them. 3 s:
# longer than nginx's upstream keepalive_timeout (2 s, deploy/nginx*.conf.template), so nginx always closes
# an idle connection first and never sends a request on one gunicorn has just closed (a POST would get a 502).
keepalive = 3
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
