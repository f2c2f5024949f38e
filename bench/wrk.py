"""Running wrk with one of the bench/*.lua scripts and reading the summary line common.lua prints."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

from bench.output import BENCH, RAW
from ops.processes import ROOT


def wrk_installed() -> bool:
    """Whether wrk is on PATH (says so on stderr when it is not)."""
    if shutil.which("wrk"):
        return True
    print("wrk is not installed (Debian package wrk)", file=sys.stderr)
    return False


def parse_summary(text: str, name: str, conns: int) -> dict:
    """The figures of one cell from wrk's output: req/s, 2xx and the rest, socket errors, p50/p99."""
    match = re.search(r"^BENCH_JSON (.*)$", text, re.M)
    if not match:
        raise RuntimeError(f"wrk {name} c={conns} gave no summary:\n{text[-2000:]}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    ok = sum(n for code, n in data["statuses"].items() if 200 <= int(code) < 300)
    socket_errors = sum(v for k, v in data["errors"].items() if k != "status")
    return {
        "name": name, "conns": conns, "rps": data["requests"] / seconds, "ok": ok, "requests": data["requests"],
        "non2xx": data["requests"] - ok, "socket_errors": socket_errors, "statuses": data["statuses"],
        "p50_ms": data["latency_us"]["p50"] / 1000, "p99_ms": data["latency_us"]["p99"] / 1000,
        "seconds": seconds,
    }


def run_wrk(name: str, script: str, url: str, conns: int, duration: int, env: dict, tag: str = "") -> dict:
    """One cell: wrk with the script at conns connections for duration s; its output kept in bench/raw/."""
    threads = min(2, conns)
    argv = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
            "-s", str(BENCH / script), url]
    full_env = dict(os.environ, BENCH_DIR=str(BENCH), **env)
    out = subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=duration + 60, cwd=ROOT)
    text = out.stdout + out.stderr
    (RAW / f"{tag.strip().replace(' ', '')}{name}-c{conns}.txt").write_text(" ".join(argv) + "\n" + text)
    return parse_summary(text, name, conns)
