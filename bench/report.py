"""The report of a run (bench/results.md, bench/scale.md): what was measured, on what, and the targets held.
Only this run's figures: the reasons behind the design are in docs/performance.md."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.scenarios import BY_NAME, SCENARIOS
from ops.processes import pocketbase_binary

CPU = [("sidecar", "sidecar"), ("pocketbase", "PocketBase"), ("nginx", "nginx"), ("wechat_stub", "stub")]
# (route, baseline, minimum req/s ratio, at which connection counts: None = all)
RATIOS = [("login_returning", "native_refresh_nginx", 0.5, None), ("profile", "native_refresh_nginx", 0.4, None),
          ("refresh_token", "native_refresh_nginx", 0.8, None), ("users_count", "native_list_nginx", 0.4, None),
          ("upload", "native_upload_nginx", 0.3, [8])]
NGINX_OVERHEAD = 0.15             # nginx may cost the native list at most this share of its direct req/s
NEW_USERS_PER_S = 300             # first logins per second at c=32
TAIL = 5                          # p99 at most this many times p50 at c=32
FEED_CPU = 0.1                    # a cached feed costs PocketBase at most this share of an uncached one
HOLDS = 0.20                      # bench-scale: a route's figures at the largest size within 20% of the smallest


def ms(value: float, digits: int = 2) -> str:
    """A CPU figure, "-" when the cell finished no request."""
    return "-" if value != value else f"{value:.{digits}f}"


def version(argv: list[str]) -> str:
    """The first line a command prints, "?" when it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def header(run: dict) -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    (before, after) = run["load"]
    return [
        "# Benchmark results", "",
        f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python -m bench.run {run['argv']}` "
        f"in {run['minutes']:.1f} min: wrk, {run['duration']} s per cell, {run['rounds']} round(s), 2 threads "
        "(1 at c=1), through nginx unless marked direct; RATE_LIMITS off, WeChat dev stub. Everything (wrk, "
        "nginx, gunicorn, PocketBase, the stub) shares the machine: compare figures within one run.", "",
        f"- {os.cpu_count()} cores ({cpu}), kernel {platform.release()}; load average before "
        f"{before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}",
        f"- {version([pocketbase_binary(), '--version'])}; Python {sys.version.split()[0]}; "
        f"{version(['nginx', '-v'])}; {run['workers']} gunicorn gevent worker(s)", "",
        "| users | seeded rows | seed s | stack start s | memory after (MiB) |", "|---:|---|---:|---:|---|",
        *(f"| {s['users']:,} | " + ", ".join(f"{k} {v:,}" for k, v in s["counts"].items())
          + f" | {s['seed_seconds']} | {s['start_seconds']} | "
          + ", ".join(f"{k} {v:.0f}" for k, v in s.get("rss_mib", {}).items()) + " |" for s in run["sizes"]), ""]


def results_table(results: dict, sizes: list[int]) -> list[str]:
    lines = ["## req/s, latency and CPU per request", "",
             "CPU: ms per request of each process group, from /proc over the cell (wrk not counted); at 2 cores, "
             "1 ms of CPU per request caps a route near 2,000 req/s. Ratio: req/s over its baseline's.", "",
             "| route | users | c | req/s | p50 ms | p99 ms | non-2xx | socket err | "
             + " | ".join(label for _, label in CPU) + " | CPU total | ratio to baseline |",
             "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * (len(CPU) + 1) + "---|"]
    for (users, name, c), r in sorted(results.items(), key=lambda kv: ([s.name for s in SCENARIOS].index(kv[0][1]),
                                                                       kv[0][0], kv[0][2])):
        scenario = BY_NAME[name]
        base = results.get((users, scenario.baseline, c))
        ratio = f"{r['rps'] / base['rps']:.2f}x {scenario.baseline}" if base and base["rps"] else ""
        extra = f" ({r['new_users']} new users, {r['new_users_per_s']:.0f}/s)" if "new_users" in r else ""
        cpu = [r["cpu_ms"].get(key, 0.0) for key, _ in CPU]
        lines.append(f"| {scenario.label}{extra} | {users:,} | {c} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['non2xx']} | {r['socket_errors']} | "
                     + " | ".join(ms(v) for v in cpu) + f" | {ms(sum(cpu))} | {ratio} |")
    return lines + [""]


def burst(results: dict) -> list[str]:
    """The document feed's burst: the same URL from every connection, cached against uncached."""
    lines = ["## The feed's burst: one URL from every connection, guest (cached) against signed in (not cached)", "",
             "| users | c | req/s cached | req/s uncached | PocketBase CPU ms/request cached | uncached |",
             "|---:|---:|---:|---:|---:|---:|"]
    for (users, name, c), cached in sorted(results.items()):
        uncached = results.get((users, "feed_type_token", c))
        if name == "feed_type_cached" and uncached:
            lines.append(f"| {users:,} | {c} | {cached['rps']:.0f} | {uncached['rps']:.0f} | "
                         f"{ms(cached['cpu_ms'].get('pocketbase', 0.0), 3)} | "
                         f"{ms(uncached['cpu_ms'].get('pocketbase', 0.0), 3)} |")
    return lines + [""] if len(lines) > 4 else []


def curve(results: dict, sizes: list[int]) -> list[str]:
    """bench-scale: each route at the largest size against the smallest."""
    if len(sizes) < 2:
        return []
    lines = [f"## Cost curve: {sizes[-1]:,} users against {sizes[0]:,}", "",
             f"Holds: within {HOLDS:.0%}. CPU per request (all processes) is the steadier witness on a shared "
             "machine: when it holds and req/s does not, the machine moved, not the route.", "",
             "| route | c | " + " | ".join(f"req/s {n:,}" for n in sizes) + " | req/s ratio | CPU ms/req "
             + " | ".join(f"{n:,}" for n in sizes) + " | CPU ratio | holds |",
             "|---|---:|" + "---:|" * (2 * len(sizes) + 2) + "---|"]
    for s in SCENARIOS:
        for c in sorted({k[2] for k in results}):
            cells = [results.get((n, s.name, c)) for n in sizes]
            if not all(cells):
                continue
            cpu = [sum(r["cpu_ms"].values()) for r in cells]
            rps_ratio, cpu_ratio = cells[-1]["rps"] / max(cells[0]["rps"], 1e-9), cpu[-1] / max(cpu[0], 1e-9)
            holds = "yes" if abs(rps_ratio - 1) <= HOLDS or abs(cpu_ratio - 1) <= HOLDS else "**no**"
            lines.append(f"| {s.label} | {c} | " + " | ".join(f"{r['rps']:.0f}" for r in cells)
                         + f" | {rps_ratio:.2f}x | " + " | ".join(ms(v) for v in cpu)
                         + f" | {ms(cpu_ratio)}x | {holds} |")
    return lines + [""]


def queries(run: dict) -> list[str]:
    sizes = run["sizes"]
    lines = ["## The statements behind the routes (median ms, sqlite3 on the seeded file)", "",
             "| statement | " + " | ".join(f"{s['users']:,}" for s in sizes) + f" | plan at {sizes[-1]['users']:,} |",
             "|---|" + "---:|" * len(sizes) + "---|"]
    for i, q in enumerate(sizes[0]["queries"]):
        lines.append(f"| {q['query']} | " + " | ".join(f"{s['queries'][i]['ms']:.3f}" for s in sizes)
                     + f" | {sizes[-1]['queries'][i]['plan']} |")
    return lines + [""]


def targets(results: dict, conns: list[int]) -> list[tuple[str, bool, str]]:
    """(label, held, measured) of each target on the smallest size."""
    users = min(k[0] for k in results)
    get = lambda name, c: results.get((users, name, c))  # noqa: E731
    out = []
    for name, base, minimum, at in RATIOS:
        for c in at or conns:
            r, b = get(name, c), get(base, c)
            if r and b:
                out.append((f"{name} >= {minimum}x {base} @ c={c}", r["rps"] / b["rps"] >= minimum,
                            f"{r['rps'] / b['rps']:.2f}x"))
    for c in conns:
        r, b = get("native_list_nginx", c), get("native_list_direct", c)
        if r and b:
            cost = 1 - r["rps"] / b["rps"]
            out.append((f"nginx costs the native list <= {NGINX_OVERHEAD:.0%} @ c={c}", cost <= NGINX_OVERHEAD,
                        f"{cost:.1%}"))
        cached, uncached = get("feed_type_cached", c), get("feed_type_token", c)
        if cached and uncached and c > 1:
            share = cached["cpu_ms"].get("pocketbase", 0) / max(uncached["cpu_ms"].get("pocketbase", 0), 1e-9)
            out.append((f"a cached feed request costs PocketBase <= {FEED_CPU}x an uncached one @ c={c}",
                        share <= FEED_CPU, f"{share:.3f}x"))
    first = get("login_new", 32)
    if first:
        out.append((f"first-login burst @ c=32 >= {NEW_USERS_PER_S} new users/s", first["new_users_per_s"]
                    >= NEW_USERS_PER_S, f"{first['new_users_per_s']:.0f}/s"))
    for s in SCENARIOS:
        r = get(s.name, 32)
        if r:
            tail = r["p99_ms"] / max(r["p50_ms"], 0.001)
            out.append((f"p99 <= {TAIL}x p50 @ c=32: {s.label}", tail <= TAIL, f"{tail:.1f}x"))
    errors = sum(r["non2xx"] + r["socket_errors"] for r in results.values())
    return out + [("no errors anywhere", errors == 0, f"{errors} non-2xx or socket errors")]


def render(results: dict, run: dict) -> str:
    """The whole report."""
    sizes = [s["users"] for s in run["sizes"]]
    rows = [f"- **{'PASS' if ok else 'MISS'}** {label}: {value}" for label, ok, value in targets(results, run["conns"])]
    lines = (header(run) + results_table(results, sizes) + burst(results) + curve(results, sizes) + queries(run)
             + [f"## Targets (at {sizes[0]:,} users)", "", *rows, ""])
    return "\n".join(lines)
