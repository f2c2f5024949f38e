"""One cell: wrk sending one scenario's requests at one connection count, and the CPU each process of the
stack spent per request meanwhile."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from bench.scenarios import Scenario
from bench.stack import SeededStack, cpu_seconds

BENCH = Path(__file__).resolve().parent


def wrk_installed() -> bool:
    """Whether wrk is on PATH (says so when it is not)."""
    if shutil.which("wrk"):
        return True
    print("wrk is not installed (Debian package wrk; `make wrk`)")
    return False


def parse_summary(text: str) -> dict:
    """req/s, 2xx and the rest, socket errors, p50/p99 from the line scenarios.lua's done() prints."""
    match = re.search(r"^BENCH_JSON (.*)$", text, re.M)
    if not match:
        raise RuntimeError(f"wrk gave no summary:\n{text[-2000:]}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    ok = sum(n for code, n in data["statuses"].items() if 200 <= int(code) < 300)
    return {"rps": data["requests"] / seconds, "requests": data["requests"], "ok": ok,
            "non2xx": data["requests"] - ok, "socket_errors": data["socket_errors"], "statuses": data["statuses"],
            "p50_ms": data["p50_us"] / 1000, "p99_ms": data["p99_us"] / 1000, "seconds": seconds}


def run_cell(sized: SeededStack, scenario: Scenario, conns: int, duration: int, base: str | None = None,
             processes: dict | None = None) -> dict:
    """wrk's figures for one cell, plus cpu_ms: {process: CPU ms per request} of the stack's processes (or of
    `processes`, by name); wrk aims at the scenario's address on the stack (or at `base`)."""
    stack = sized.stack
    if base is None:
        base = stack.base_url + ("/pb" if scenario.path else "") if scenario.via == "nginx" else stack.config.pb_url
    env = dict(os.environ, BENCH_REQUEST=scenario.request, BENCH_USERS=str(sized.shape.n_users),
               BENCH_PREFIX=f"c{conns}x{time.monotonic_ns()}",
               BENCH_PATH_PREFIX="/pb" if scenario.via == "nginx" else "",
               **{f"BENCH_{name.upper()}": str(path) for name, path in sized.files.items()})
    argv = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
            "-s", str(BENCH / "scenarios.lua"), base + (scenario.path or "/")]
    settle(stack)
    before = cpu_seconds(processes or stack.processes)
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60)
    after = cpu_seconds(processes or stack.processes)
    r = {"name": scenario.name, "conns": conns, **parse_summary(out.stdout + out.stderr)}
    # No request finished (each takes longer than the cell): no CPU per request either.
    r["cpu_ms"] = {k: (after[k] - before.get(k, 0.0)) * 1000 / r["requests"] if r["requests"] else float("nan")
                   for k in after}
    return r


def settle(stack, deadline_s: float = 60.0) -> None:
    """Wait until PocketBase has finished what the last cell left running (wrk drops the requests in flight
    at its end; PocketBase finishes them), so that a cell's CPU is its own."""
    pocketbase = {"pocketbase": stack.processes["pocketbase"]}
    deadline = time.monotonic() + deadline_s
    last = cpu_seconds(pocketbase)["pocketbase"]
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(pocketbase)["pocketbase"]
        if now - last < 0.02:     # under 8% of a core
            return
        last = now
