"""gunicorn's settings for the sidecar, in one place: read by `make run` (ops/stack.py) and by
deploy/systemd/bai-sidecar.service (`-c`). The bind address and the process name stay on each command line:
one machine may run several sidecars. Workers and threads come from SIDECAR_WORKERS / SIDECAR_THREADS
(ops/settings.py; tests/test_stack.py checks these fallbacks against StackConfig's defaults).
"""
import os

worker_class = "gthread"
# The sidecar mostly waits on PocketBase and WeChat, and PocketBase shares the CPUs: a few processes with
# more threads each for the waiting (the shapes tried measured alike: bench/limits.md, "worker model").
workers = int(os.environ.get("SIDECAR_WORKERS") or (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("SIDECAR_THREADS") or 8)
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
