"""bench/results.md: the tables and sections of a `make bench` run."""
from __future__ import annotations

import runpy
import time

from bench.output import BENCH
from bench.scale_report import current_section
from bench.scenarios import BASELINE, SCENARIOS
from bench.seed_api import BATCH, N_ATTACHMENTS, N_FILE_ATTACHMENTS
from bench.targets import targets
from bench.wrk_inputs import N_TOKENS
from ops.stack import GUNICORN_CONF

CPU_COLUMNS = [("sidecar", "sidecar (gunicorn)"), ("pocketbase", "PocketBase"), ("nginx", "nginx"),
               ("wechat_stub", "WeChat stub")]
LIMITS = BENCH / "limits.md"      # the analysis of an actual run, kept by hand (profile, diagnosis)


def table_row(label: str, c: int, r: dict, base: dict | None, base_name: str | None) -> str:
    """One results row: req/s, latencies, errors and the ratio to the baseline."""
    ratio = f"{r['rps'] / base['rps']:.2f}x {base_name}" if base and base["rps"] else ""
    extra = f" ({r['new_users']} new users, {r['new_users_per_s']:.0f}/s)" if "new_users" in r else ""
    return (f"| {label}{extra} | {c} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['p99_ms'] / max(r['p50_ms'], 0.001):.1f} | {r['non2xx']} | {r['socket_errors']} | {ratio} |")


def table(results: dict, conns_list: list[int]) -> str:
    """The results table: every scenario at every connection count."""
    lines = ["| route | conns | req/s | p50 ms | p99 ms | p99/p50 | non-2xx | socket err | ratio to baseline |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, _, label, _ in SCENARIOS:
        for c in conns_list:
            r = results.get((name, c))
            if r:
                lines.append(table_row(label, c, r, results.get((BASELINE.get(name), c)), BASELINE.get(name)))
    return "\n".join(lines)


def cpu_table(results: dict, conns: int) -> str:
    """CPU milliseconds per request spent in each process of the stack, at one connection count."""
    lines = ["| route | " + " | ".join(label for _, label in CPU_COLUMNS) + " | total |",
             "|---|" + "---:|" * (len(CPU_COLUMNS) + 1)]
    for name, _, label, _ in SCENARIOS:
        r = results.get((name, conns))
        if not r or "cpu_ms" not in r:
            continue
        cells = [r["cpu_ms"].get(key, 0.0) for key, _ in CPU_COLUMNS]
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in cells) + f" | {sum(cells):.2f} |")
    return "\n".join(lines)


def worker_class() -> str:
    """The name of the sidecar's gunicorn worker class, as deploy/gunicorn.conf.py sets it (a name or a class)."""
    value = runpy.run_path(str(GUNICORN_CONF))["worker_class"]
    return getattr(value, "__name__", value)


def header(duration: int, facts: dict, config) -> list[str]:
    """The title, how it was run, and the machine and versions."""
    return [
        "# Benchmark results (`make bench`)",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python -m bench.run`; "
        f"wrk, {duration} s per cell, 2 threads (1 at c=1), through nginx unless marked direct. "
        "RATE_LIMITS=off, WeChat dev stub.",
        "",
        "## Machine and versions",
        "",
        f"- nproc {facts['nproc']}, CPU {facts['cpu']}, memory {facts['memory']}, kernel {facts['kernel']}",
        f"- PocketBase: {facts['pocketbase']}; Python {facts['python']}; {facts['gunicorn']}; "
        f"{facts['nginx']}; {facts['wrk']}",
        f"- gunicorn: {worker_class()}, {config.sidecar_workers} workers",
        "- everything (wrk, nginx, gunicorn, PocketBase, stub) shares the same 2 cores",
        "",
    ]


def data_section(seed_info: dict) -> list[str]:
    """What was seeded and how."""
    return [
        "## Data",
        "",
        f"Seeded in {seed_info['seconds']} s through PocketBase's batch API ({BATCH} requests per batch, "
        f"batch.maxRequests raised for the seed and restored after): {seed_info['counts']}. "
        f"Half the users have a company_id and three attachment ids; of the {N_ATTACHMENTS} attachment "
        f"records, {N_FILE_ATTACHMENTS} carry a real uploaded file (a 1x1 PNG, multipart batch), "
        "the rest are metadata-only records (no file). Profile and refresh-token rotate over "
        f"{N_TOKENS} users' tokens from our login route "
        "(refreshable: the native auth-refresh baseline uses the same ones).",
        "",
    ]


def results_sections(results: dict, conns_list: list[int]) -> list[str]:
    """The results table and where the CPU goes at the largest connection count."""
    return [
        "## Results",
        "",
        table(results, conns_list),
        "",
        "Ratio: the route's req/s over the baseline's at the same connection count (nginx rows: vs direct).",
        "",
        f"## Where the CPU goes (ms of CPU per request, c={max(conns_list)})",
        "",
        "Read from /proc for each process group of the stack during the cell (wrk itself not counted). "
        "The machine's 2 cores are the budget: at 2 cores, 1 ms of CPU per request caps a route near 2,000 req/s.",
        "",
        cpu_table(results, max(conns_list)),
        "",
    ]


def memory_section(mem: dict) -> list[str]:
    """VmRSS of PocketBase and gunicorn after the run."""
    workers = mem["gunicorn_workers_kb"]
    return [
        "## Memory after the run (VmRSS)",
        "",
        f"- PocketBase: {mem['pocketbase_kb'] / 1024:.0f} MiB",
        f"- gunicorn master: {mem['gunicorn_master_kb'] / 1024:.0f} MiB; workers: "
        + ", ".join(f"{k / 1024:.0f}" for k in workers) + f" MiB (total {sum(workers) / 1024:.0f} MiB)",
        "",
    ]


def targets_section(results: dict, conns_list: list[int]) -> list[str]:
    """Each target, PASS or MISS, with the measured value."""
    rows = [f"- **{'PASS' if ok else 'MISS'}** {label}: {value}" for label, ok, value in targets(results, conns_list)]
    return ["## Targets", ""] + rows


def render(results, conns_list, mem, facts, config, seed_info, duration) -> str:
    """The whole of results.md: this run, the analysis kept by hand and the last cost curve."""
    lines = (header(duration, facts, config) + data_section(seed_info) + results_sections(results, conns_list)
             + memory_section(mem) + targets_section(results, conns_list))
    lines += ["", "## What limits it", "",
              LIMITS.read_text().strip() if LIMITS.exists() else "(no analysis yet: see bench/limits.md)", ""]
    section = current_section()  # the cost curve of the last `make bench-scale`, kept as it was
    if section:
        lines += [section]
    return "\n".join(lines)
