"""The machine and the versions a run was measured on."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from ops.processes import pocketbase_binary
from ops.stack import nginx_binary


def first_line(argv: list[str]) -> str:
    """The first line a command prints (its version), "?" when it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine_facts() -> dict:
    """CPU, memory, kernel and the versions of PocketBase, Python, gunicorn, nginx and wrk."""
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "pocketbase": first_line([pocketbase_binary(), "--version"]),
        "python": sys.version.split()[0],
        "gunicorn": first_line([sys.executable, "-m", "gunicorn", "--version"]),
        "nginx": first_line([nginx_binary(), "-v"]),
        "wrk": first_line(["wrk", "-v"]),
    }
