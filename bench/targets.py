"""The targets a `make bench` run is held to, each a (label, passed, measured value)."""
from __future__ import annotations

from bench.scenarios import SCENARIOS

Target = tuple[str, "bool | None", str]
# (label, route, baseline, minimum req/s ratio to the baseline); raised by issue #23 (bench/limits.md)
RATIO_TARGETS = [
    ("returning-user login", "login_returning", "native_refresh_nginx", 0.5),
    ("profile", "profile", "native_refresh_nginx", 0.4),
    ("refresh-token", "refresh_token", "native_refresh_nginx", 0.8),
    ("users-count", "users_count", "native_list_nginx", 0.4),
]
# Issue #23: the sidecar's CPU per request at most half of the run of 2026-11-25's (users-count 2.10 ms,
# refresh-token 2.35 ms at c=32). CPU ms move with the machine by several times between runs, so each is
# held against what PocketBase spent per request of the route's baseline in the same run (0.98 and
# 3.24 ms then): (label, route, baseline, maximum ratio = half of that run's).
CPU_TARGETS = [
    ("users-count", "users_count", "native_list_nginx", round(2.10 / 0.98 / 2, 2)),
    ("refresh-token", "refresh_token", "native_refresh_nginx", round(2.35 / 3.24 / 2, 2)),
]

# (label, route, baseline, minimum req/s ratio, the one connection count it is held at)
RATIO_TARGETS_AT = [
    ("upload (300 KB photo)", "upload", "native_upload_nginx", 0.3, 8),
]
NGINX_OVERHEAD = 0.15             # nginx may cost the native list at most this share of its direct req/s
BURST_NEW_USERS_PER_S = 300       # first logins per second at c=32
TAIL = 5                          # p99 at most this many times p50 at c=32


def ratio_targets(results: dict, conns_list: list[int]) -> list[Target]:
    """Each route's req/s against its baseline's, at each connection count (or at its one, RATIO_TARGETS_AT)."""
    rows = [(label, name, base, minimum, c) for label, name, base, minimum in RATIO_TARGETS for c in conns_list]
    rows += RATIO_TARGETS_AT
    out = []
    for label, name, base, minimum, c in rows:
        r, b = results.get((name, c)), results.get((base, c))
        if r and b:
            value = r["rps"] / b["rps"]
            out.append((f"{label} >= {minimum}x {base} @ c={c}", value >= minimum, f"{value:.2f}x"))
    return out


def cpu_targets(results: dict) -> list[Target]:
    """Each route's sidecar CPU per request at c=32 against PocketBase's per request of its baseline."""
    out = []
    for label, name, base, maximum in CPU_TARGETS:
        r, b = results.get((name, 32)), results.get((base, 32))
        if r and b and b["cpu_ms"].get("pocketbase"):
            value = r["cpu_ms"].get("sidecar", 0.0) / b["cpu_ms"]["pocketbase"]
            out.append((f"{label} sidecar CPU/request <= {maximum}x {base}'s PocketBase CPU/request @ c=32",
                        value <= maximum, f"{value:.2f}x ({r['cpu_ms'].get('sidecar', 0.0):.2f} ms)"))
    return out


def nginx_overhead_targets(results: dict, conns_list: list[int]) -> list[Target]:
    """What nginx costs the native list, at each connection count."""
    out = []
    for c in conns_list:
        r, b = results.get(("native_list_nginx", c)), results.get(("native_list_direct", c))
        if r and b:
            cost = 1 - r["rps"] / b["rps"]
            out.append((f"nginx overhead on native list <= {NGINX_OVERHEAD:.0%} @ c={c}", cost <= NGINX_OVERHEAD,
                        f"{cost * 100:.1f}%"))
    return out


def burst_targets(results: dict) -> list[Target]:
    """New users per second of the first-login burst at c=32, without errors."""
    burst = results.get(("login_new", 32))
    if not burst:
        return []
    ok = burst["new_users_per_s"] >= BURST_NEW_USERS_PER_S and burst["non2xx"] == 0 and burst["socket_errors"] == 0
    return [(f"first-login burst @ c=32 >= {BURST_NEW_USERS_PER_S} new users/s, 0 errors", ok,
             f"{burst['new_users_per_s']:.0f}/s, {burst['non2xx'] + burst['socket_errors']} errors, "
             f"{burst['new_users']} created for {burst['ok']} 2xx")]


def tail_targets(results: dict) -> list[Target]:
    """p99 over p50 of every scenario at c=32."""
    out = []
    for name, _, label, _ in SCENARIOS:
        r = results.get((name, 32))
        if r:
            q = r["p99_ms"] / max(r["p50_ms"], 0.001)
            out.append((f"p99 <= {TAIL}x p50 @ c=32: {label}", q <= TAIL,
                        f"{q:.1f}x ({r['p50_ms']:.1f}/{r['p99_ms']:.1f} ms)"))
    return out


def targets(results: dict, conns_list: list[int]) -> list[Target]:
    """Every target, in the order results.md lists them."""
    errors = sum(r["non2xx"] + r["socket_errors"] for r in results.values())
    return (ratio_targets(results, conns_list) + cpu_targets(results) + nginx_overhead_targets(results, conns_list)
            + burst_targets(results) + tail_targets(results)
            + [("no errors anywhere", errors == 0, f"{errors} non-2xx/socket errors in total")])
