"""Running the scenarios cell by cell (one scenario at one connection count) on a running stack."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bench.output import RAW, log
from bench.procstats import cpu_seconds, memory
from bench.scenarios import scenario_url, sidecar_settings
from bench.seed_api import Seeder
from bench.stack_setup import configure_sidecars
from bench.wrk import run_wrk
from ops.stack import Stack


def cell_env(files: dict[str, Path], conns: int, via: str, n_users: int) -> dict[str, str]:
    """What the wrk scripts read from the environment."""
    return {"BENCH_USERS": str(n_users), "BENCH_COMPANIES": str(files["companies"]),
            "BENCH_PREFIX": f"c{conns}x{int(time.time())}",
            "BENCH_TOKENS": str(files["tokens"]),
            "BENCH_PHOTO": str(files.get("photo", "")), "BENCH_SUPERUSER": str(files.get("superuser", "")),
            "BENCH_PATH_PREFIX": "/pb" if via == "nginx" else ""}


def start_profilers(stack: Stack, duration: int) -> list[subprocess.Popen]:
    """py-spy on every sidecar worker for the cell, when BENCH_PYSPY names a py-spy binary (temp venv)."""
    pyspy = os.environ.get("BENCH_PYSPY")
    if not pyspy:
        return []
    return [subprocess.Popen(
        [pyspy, "record", "-p", str(pid), "-d", str(duration), "-r", "50", "-f", "raw",
         "-o", str(RAW / f"pyspy-login-{pid}.txt"), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in memory(stack)["worker_pids"]]


def run_cell(stack: Stack, scenario: tuple, conns: int, env: dict, duration: int, tag: str) -> dict:
    """wrk's figures for one cell plus the CPU ms per request each process of the stack spent."""
    name, script, _, via = scenario
    url = scenario_url(script, via, stack.base_url, stack.config.pb_url)
    cpu_before = cpu_seconds(stack)
    r = run_wrk(name, script, url, conns, duration, env, tag)
    cpu_after = cpu_seconds(stack)
    r["cpu_ms"] = {k: (cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / max(r["requests"], 1) for k in cpu_after}
    return r


def log_cell(tag: str, label: str, r: dict) -> None:
    """One progress line with the cell's figures."""
    log(f"{tag}{label:38s} c={r['conns']:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
        f"p99 {r['p99_ms']:7.1f} ms  non-2xx {r['non2xx']}  sock {r['socket_errors']}"
        + (f"  new users {r['new_users']}" if "new_users" in r else ""))


def run_scenarios(stack: Stack, files: dict[str, Path], scenarios: list, conns_list: list[int], duration: int,
                  n_users: int, tag: str = "") -> dict:
    """Run each scenario at each connection count: {(name, conns): wrk figures + CPU ms per request}."""
    counter = Seeder(stack.config.pb_url, stack.pb.superuser_token())
    results = {}
    for scenario in scenarios:
        name, _, label, via = scenario
        if configure_sidecars(stack, sidecar_settings(name), files["tokens"]):
            log(f"{tag}sidecars restarted with {sidecar_settings(name)}")
        for c in conns_list:
            env = cell_env(files, c, via, n_users)
            before = counter.count("tbl_auth_users") if name == "login_new" else 0
            profiled = name == "login_returning" and c == max(conns_list)
            spies = start_profilers(stack, duration) if profiled else []
            r = run_cell(stack, scenario, c, env, duration, tag)
            for spy in spies:
                spy.wait(timeout=60)
            if name == "login_new":
                r["new_users"] = counter.count("tbl_auth_users") - before
                r["new_users_per_s"] = r["new_users"] / r["seconds"]
            results[(name, c)] = r
            log_cell(tag, label, r)
    return results
