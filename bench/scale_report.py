"""The "Cost curve" section of bench/results.md, drawn from bench/scale.json."""
from __future__ import annotations

import json
from pathlib import Path

from bench.output import BENCH
from bench.scale_queries import QUERIES
from bench.scenarios import SCENARIOS

SCALE_JSON = BENCH / "scale.json"
NOTES = BENCH / "scale-notes.md"   # the analysis of a run, kept by hand
RESULTS = BENCH / "results.md"
MARKER = "<!-- cost curve: written by `make bench-scale` from bench/scale.json; kept by `make bench` -->"
TOLERANCE = 0.20                   # target: each route's req/s at the largest size within 20% of the smallest
CPU_KEYS = [("sidecar", "sidecar"), ("pocketbase", "PB"), ("nginx", "nginx"), ("wechat_stub", "stub")]


def by_route(data: dict) -> dict[str, dict[int, dict]]:
    """{scenario name: {users: the result at the report's connection count}}."""
    out: dict[str, dict[int, dict]] = {}
    for size in data["sizes"]:
        for r in size["results"]:
            if r["conns"] == data["conns"]:
                out.setdefault(r["name"], {})[size["users"]] = r
    return out


def verdicts(data: dict) -> list[tuple[str, str, float | None, float | None]]:
    """(name, label, largest/smallest req/s, largest/smallest CPU ms per request) for each scenario."""
    routes = by_route(data)
    sizes = [s["users"] for s in data["sizes"]]
    out = []
    for name, _, label, _ in SCENARIOS:
        cells = routes.get(name, {})
        if sizes[0] in cells and sizes[-1] in cells and cells[sizes[0]]["rps"]:
            small, large = cells[sizes[0]], cells[sizes[-1]]
            cpu_small, cpu_large = sum(small["cpu_ms"].values()), sum(large["cpu_ms"].values())
            out.append((name, label, large["rps"] / small["rps"], cpu_large / cpu_small if cpu_small else None))
        else:
            out.append((name, label, None, None))
    return out


def within(ratio: float | None) -> str:
    """Whether a largest/smallest ratio holds within TOLERANCE ("" when there is none)."""
    if ratio is None:
        return ""
    return "yes" if abs(ratio - 1) <= TOLERANCE else "**no**"


def intro(data: dict, sizes: list[int]) -> list[str]:
    """The heading, how the run was made, the chart and the seeded sizes."""
    lines = [
        MARKER, "", "## Cost curve: the same routes at " + ", ".join(f"{n:,}" for n in sizes) + " users", "",
        f"Generated {data['generated']} by `make bench-scale` ({data['total_seconds'] / 60:.1f} min in all, "
        f"seeding included); wrk at c={data['conns']}, {data['duration']} s per cell, {data['rounds']} rounds "
        "with the sizes interleaved (all sizes' stacks up at once, each cell run on each size in turn), "
        "medians of the rounds shown; the data of each size is "
        "written straight into SQLite while PocketBase is stopped (bench/seed_sql.py: one template record per "
        "collection made by PocketBase, cloned; same proportions as `make bench`: companies = users/10, "
        "three attachments for every other user, documents = users/2). The machine is shared and its speed "
        "drifts: compare the sizes within one run, not across runs.",
        "", "![req/s and CPU per request against users](scale.png)", "",
        "| size | seeded rows | seed s | stack start s |", "|---:|---|---:|---:|",
    ]
    for s in data["sizes"]:
        lines.append(f"| {s['users']:,} | " + ", ".join(f"{k} {v:,}" for k, v in s["counts"].items())
                     + f" | {s['seed_seconds']} | {s['start_seconds']} |")
    return lines


def rps_table(data: dict, sizes: list[int], routes: dict) -> list[str]:
    """req/s of each route at each size and whether it (and its CPU per request) holds."""
    last, first = f"{sizes[-1]:,}", f"{sizes[0]:,}"
    lines = ["", f"### req/s (c={data['conns']}) and whether it holds from {first} to {last} users "
             f"(within {TOLERANCE:.0%})", "",
             "req/s is the target; CPU ms per request (all processes, next table) is the steadier witness on a "
             "shared machine: when it holds and req/s does not, the machine moved, not the route.", "",
             "| route | " + " | ".join(f"{n:,}" for n in sizes)
             + f" | req/s {last} / {first} | holds | CPU per request {last} / {first} | holds |",
             "|---|" + "---:|" * len(sizes) + "---:|---|---:|---|"]
    for name, label, rps_ratio, cpu_ratio in verdicts(data):
        cells = routes.get(name, {})
        lines.append(f"| {label} | " + " | ".join(f"{cells[n]['rps']:.0f}" if n in cells else "" for n in sizes)
                     + (f" | {rps_ratio:.2f}x | {within(rps_ratio)}" if rps_ratio is not None else " | | ")
                     + (f" | {cpu_ratio:.2f}x | {within(cpu_ratio)} |" if cpu_ratio is not None else " | | |"))
    return lines


def cpu_table(sizes: list[int], routes: dict) -> list[str]:
    """CPU ms per request of each process, for each route at each size."""
    labels = {name: label for name, _, label, _ in SCENARIOS}
    lines = ["", "### CPU per request (ms) by process, at each size", "",
             "| route | users | " + " | ".join(label for _, label in CPU_KEYS) + " | total | non-2xx |",
             "|---|---:|" + "---:|" * (len(CPU_KEYS) + 2)]
    for name, _, _, _ in SCENARIOS:
        for n in sizes:
            r = routes.get(name, {}).get(n)
            if not r:
                continue
            cpu = [r["cpu_ms"].get(k, 0.0) for k, _ in CPU_KEYS]
            lines.append(f"| {labels[name]} | {n:,} | " + " | ".join(f"{v:.2f}" for v in cpu)
                         + f" | {sum(cpu):.2f} | {r['non2xx'] + r['socket_errors']} |")
    return lines


def queries_table(data: dict, sizes: list[int]) -> list[str]:
    """The median ms of each statement at each size and its plan at the largest."""
    lines = ["", "### The statements behind the routes, on each seeded file (median ms, sqlite3 in Python)", "",
             "| statement | " + " | ".join(f"{n:,}" for n in sizes) + f" | plan at {sizes[-1]:,} |",
             "|---|" + "---:|" * len(sizes) + "---|"]
    for i, (label, _, _) in enumerate(QUERIES):
        cells = [s["queries"][i] for s in data["sizes"] if i < len(s["queries"])]
        lines.append(f"| {label} | " + " | ".join(f"{c['ms']:.3f}" for c in cells)
                     + f" | {cells[-1]['plan'] if cells else ''} |")
    return lines


def render_section(data: dict) -> str:
    """The "Cost curve" section of results.md, from scale.json (and the notes kept by hand)."""
    sizes = [s["users"] for s in data["sizes"]]
    routes = by_route(data)
    lines = (intro(data, sizes) + rps_table(data, sizes, routes) + cpu_table(sizes, routes)
             + queries_table(data, sizes))
    lines += ["", NOTES.read_text().strip() if NOTES.exists() else "(no analysis yet: bench/scale-notes.md)", ""]
    return "\n".join(lines)


def splice_results(section: str, path: Path = RESULTS) -> None:
    """Replace the cost-curve section at the end of results.md (or append it)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    head = text.split(MARKER, 1)[0].rstrip("\n")
    path.write_text(head + "\n\n" + section)


def current_section() -> str:
    """The cost-curve section from the committed scale.json, for `make bench` to keep in results.md."""
    if not SCALE_JSON.exists():
        return ""
    return render_section(json.loads(SCALE_JSON.read_text()))
