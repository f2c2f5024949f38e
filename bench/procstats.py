"""CPU time and resident memory of the stack's processes, read from /proc."""
from __future__ import annotations

import os
from pathlib import Path

from ops.processes import proc_stat
from ops.stack import Stack, process_group_members


def rss_kb(pid: int) -> int:
    """The process's VmRSS in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> str:
    """The process's command line ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def memory(stack: Stack) -> dict:
    """VmRSS of PocketBase, the gunicorn master and each worker (and the workers' pids)."""
    pb_pid = stack.processes["pocketbase"].pid
    master = stack.processes["sidecar"].pid
    members = process_group_members({master})
    workers = sorted(p for p in members if p != master and "gunicorn" in cmdline(p))
    return {"pocketbase_kb": rss_kb(pb_pid), "gunicorn_master_kb": rss_kb(master),
            "gunicorn_workers_kb": [rss_kb(p) for p in workers], "worker_pids": workers}


def group_ticks(pid: int) -> int:
    """Clock ticks (user + system) used so far by the process group led by pid."""
    ticks = 0
    for member in process_group_members({pid}):
        fields = proc_stat(member)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each of the stack's processes and their children."""
    tick = os.sysconf("SC_CLK_TCK")
    return {name: group_ticks(process.pid) / tick for name, process in stack.processes.items()}
