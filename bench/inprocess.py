"""The sidecar's request path in-process: the Flask app called as WSGI in a loop (no gunicorn, no sockets
in front), against the real PocketBase and dev stub of bench/sidecar_alone.py, with cProfile's time per
function summed into the parts of a request (bench/limits.md, "Where a request's sidecar CPU goes").
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from collections import defaultdict

from werkzeug.test import EnvironBuilder

# The parts of a request, by where a function is defined: the first pattern found in its file name wins.
# Builtins (cProfile's "~") are counted in the part of the function that called them.
CATEGORIES = [
    ("gunicorn", ("/gunicorn/",)),
    ("PocketBase call (http.client, socket)", ("/http/client.py", "/email/", "/socket.py", "/selectors.py",
                                               "sidecar/httppool.py", "sidecar/pocketbase.py")),
    ("WeChat call (requests, urllib3)", ("/requests/", "/urllib3/", "/http/cookiejar.py", "sidecar/wechat/")),
    ("JSON encode/decode", ("/json/", "orjson", "sidecar/jsonprovider.py")),
    ("request log (logging)", ("/logging/", "sidecar/requestlog.py")),
    ("CORS", ("sidecar/cors.py",)),
    ("audit", ("sidecar/audit.py",)),
    ("Flask + Werkzeug (contexts, routing, request/response)", ("/flask/", "/werkzeug/")),
    ("our routes and services", ("/sidecar/",)),
]
OTHER = "other (stdlib: re, uuid, threading, ...)"
# The same requests the wrk scripts send (bench/*.lua), as nginx would pass them on.
NGINX_HEADERS = {"X-Real-IP": "203.0.113.7", "X-Request-Id": "0123456789abcdef0123456789abcdef",
                 "User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}


def category(filename: str) -> str | None:
    """The part of a request a function of this file belongs to; None for a builtin, OTHER when unknown."""
    if filename == "~":
        return None
    for name, patterns in CATEGORIES:
        if any(p in filename for p in patterns):
            return name
    return OTHER


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Share (0..1) of the profiled time per part; a builtin's own time goes to its callers' parts."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, callers) in stats.stats.items():
        part = category(filename)
        if part is not None:
            totals[part] += own
            continue
        edge_total = sum(edge[2] for edge in callers.values())
        for (caller_file, _, _), edge in callers.items():
            share = own * edge[2] / edge_total if edge_total else own / len(callers)
            totals[category(caller_file) or OTHER] += share
        if not callers:
            totals[OTHER] += own
    grand = sum(totals.values()) or 1.0
    return {name: value / grand for name, value in sorted(totals.items(), key=lambda kv: -kv[1])}


def route_requests(route: str, tokens: list[str], n_users: int, count: int = 64) -> list[tuple[dict, bytes]]:
    """count distinct WSGI environs (and bodies) of a route, cycled through by the loop."""
    out = []
    for n in range(count):
        token = tokens[n % len(tokens)] if tokens else ""
        headers = dict(NGINX_HEADERS, **({"Authorization": f"Bearer {token}"} if token else {}))
        if route == "users_count":
            path, body, headers = "/pb/api/system/users-count", b"{}", NGINX_HEADERS
        elif route == "refresh_token":
            path, body = "/pb/api/system/refresh-token", b"{}"
        elif route == "login_returning":
            path, body, headers = "/pb/api/wechat/login", \
                f'{{"users_wx_code": "benchuser{n % n_users}.{n}"}}'.encode(), NGINX_HEADERS
        elif route == "profile":
            path, body = "/pb/api/wechat/profile", f'{{"users_tag": "bench-tag-{n}"}}'.encode()
        else:
            raise ValueError(f"unknown route {route!r}")
        environ = EnvironBuilder(path=path, method="POST", headers=headers, data=body,
                                 content_type="application/json").get_environ()
        out.append((environ, body))
    return out


class Caller:
    """Calls the app with one of the prepared environs per call, as a WSGI server would."""

    def __init__(self, app, requests_: list[tuple[dict, bytes]]):
        self.app = app
        self.requests = requests_
        self.n = 0
        self.statuses: dict[str, int] = defaultdict(int)

    def __call__(self) -> None:
        environ, body = self.requests[self.n % len(self.requests)]
        self.n += 1
        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        status = []
        chunks = self.app(environ, lambda s, h, exc=None: status.append(s))
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        self.statuses[status[0].split()[0]] += 1


def cpu_per_request(call, n: int) -> float:
    """CPU ms per call of n calls (this process: the app's work, not PocketBase's)."""
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) * 1000 / n


def profile(call, n: int) -> pstats.Stats:
    """cProfile of n calls, timed by this thread's CPU clock (waits on PocketBase cost nothing)."""
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    return pstats.Stats(profiler, stream=open(os.devnull, "w"))


def top_functions(stats: pstats.Stats, limit: int = 25) -> str:
    """The functions with the most own time, as pstats prints them."""
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """One in-process measurement of a source tree's sidecar, run as a script by `profile_sidecar ab
    --in-process` (so that each variant's code is imported in a process of its own): prints one JSON line,
    {"cpu_ms": CPU ms per call, "statuses": {...}}. The sidecar's settings come from the environment."""
    import argparse
    import json
    import logging
    import sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", required=True)
    parser.add_argument("--route", required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--tokens", default="")
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.tree)
    from sidecar import create_app
    from sidecar.config import Config
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    app = create_app(Config.from_env(load_dotenv_file=False))
    tokens = open(args.tokens).read().split() if args.tokens else []
    call = Caller(app, route_requests(args.route, tokens, args.users))
    for _ in range(200):
        call()
    cpu = cpu_per_request(call, args.calls)
    print(json.dumps({"cpu_ms": cpu, "statuses": dict(call.statuses)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
