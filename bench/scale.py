"""`make bench-scale`: the same routes at 10k, 100k and 1M users, to see whether their cost grows with the data.

    python -m bench.scale [--sizes 10000,100000,1000000] [--duration 8] [--conns 8]

For each size: PocketBase runs once on a temp data dir (the migrations make the schema) and makes one
template record per collection; it is stopped and bench/seed_sql.py clones those rows in one SQLite
transaction; then the whole stack starts on that data and wrk drives the scenarios of `make bench`.
Writes bench/scale.json (the figures), bench/scale.png (req/s and CPU per request against users) and
the "Cost curve" section at the end of bench/results.md (kept there by `make bench` too).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench import seed_sql
from bench.run import (BENCH, RAW, SCENARIOS, bench_config, log, machine_facts, run_scenarios, token_files,
                       warm_up)
from ops.pbserver import PocketBaseServer
from ops.stack import Stack

SCALE_JSON = BENCH / "scale.json"
CHART = BENCH / "scale.png"
NOTES = BENCH / "scale-notes.md"   # the analysis of a run, kept by hand
RESULTS = BENCH / "results.md"
MARKER = "<!-- cost curve: written by `make bench-scale` from bench/scale.json; kept by `make bench` -->"
TOLERANCE = 0.20                   # target: each route's req/s at the largest size within 20% of the smallest
CPU_KEYS = [("sidecar", "sidecar"), ("pocketbase", "PB"), ("nginx", "nginx"), ("wechat_stub", "stub")]

# Statements of the kind PocketBase runs for our routes and the native baselines (its record lookups bind
# the value as a parameter), timed on the seeded file and explained, to see which ones grow with the data.
QUERIES = [
    ("user by openid (login)", "SELECT * FROM tbl_auth_users WHERE openid = ? LIMIT 1", "openid"),
    ("view_user_info by openid (login)", "SELECT * FROM view_user_info WHERE openid = ? LIMIT 1", "openid"),
    ("view_user_info by id (profile, token check)", "SELECT * FROM view_user_info WHERE id = ? LIMIT 1", "id"),
    ("user by id (auth-refresh, token check)", "SELECT * FROM tbl_auth_users WHERE id = ? LIMIT 1", "id"),
    ("company by company_id (native list)",
     "SELECT * FROM tbl_company WHERE company_id = ? LIMIT 1", "company_id"),
    ("its totalItems (native list)",
     "SELECT COUNT(DISTINCT tbl_company.id) FROM tbl_company WHERE company_id = ?", "company_id"),
    # A records list without skipTotal counts with COUNT(DISTINCT <table>.id) (PocketBase's search provider):
    # what the sidecar's users-count asks for. COUNT(*) is the plain count, for comparison.
    ("totalItems of all users (users-count)", "SELECT COUNT(DISTINCT tbl_auth_users.id) FROM tbl_auth_users", None),
    ("COUNT(*) of users", "SELECT COUNT(*) FROM tbl_auth_users", None),
]


def query_costs(db_path: Path, shape: seed_sql.Shape, rounds: int = 200) -> list[dict]:
    """Median ms and EXPLAIN QUERY PLAN of each QUERIES statement on the seeded database (read-only)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    out = []
    try:
        for label, sql, key in QUERIES:
            def value():
                i = random.randrange(shape.n_users)
                if key == "openid":
                    return (seed_sql.openid(i),)
                if key == "id":
                    return (seed_sql.record_id("u", i),)
                if key == "company_id":
                    return (seed_sql.company_bid(random.randrange(shape.n_companies)),)
                return ()
            n = rounds if key else 5
            times = []
            for _ in range(n):
                params = value()
                t0 = time.perf_counter()
                db.execute(sql, params).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            plan = "; ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, value()))
            out.append({"query": label, "sql": sql, "ms": sorted(times)[len(times) // 2], "plan": plan})
    finally:
        db.close()
    return out


class SizedStack:
    """One size: a temp data dir seeded with n_users and the whole stack running on it."""

    def __init__(self, n_users: int):
        self.shape = seed_sql.Shape(n_users)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n_users}-"))
        self.config = bench_config(self.tmp)
        self.stack = Stack(self.config)
        self.tag = f"{n_users:>9,d} users  "
        self.info: dict = {"users": n_users}
        self.files: dict = {}

    def seed(self) -> None:
        """PocketBase once for the schema and the templates, stopped; then the rows straight into SQLite."""
        t0 = time.monotonic()
        config = self.config
        pb = PocketBaseServer(config.pb_data_dir, config.superuser_email, config.superuser_password,
                              log_path=self.tmp / "pocketbase-seed.log").start()
        try:
            templates = seed_sql.create_templates(pb.url, pb.superuser_token())
        finally:
            pb.stop()
        self.info["counts"] = seed_sql.seed_database(config.pb_data_dir, self.shape, templates)
        self.info["seed_seconds"] = round(time.monotonic() - t0, 1)
        log(f"{self.tag}seeded in {self.info['seed_seconds']} s: {self.info['counts']}")
        self.info["queries"] = query_costs(config.pb_data_dir / "data.db", self.shape)

    def start(self) -> None:
        t0 = time.monotonic()
        self.stack.start()
        self.info["start_seconds"] = round(time.monotonic() - t0, 1)
        self.files = token_files(self.stack.base_url, self.tmp, self.shape.n_users, self.shape.n_companies)
        warm_up(self.stack)

    def run(self, scenario: tuple, conns: int, duration: int) -> dict:
        (r,) = run_scenarios(self.stack, self.files, [scenario], [conns], duration, self.shape.n_users,
                             tag=self.tag).values()
        return r

    def stop(self) -> None:
        self.stack.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def combine(rounds: list[dict]) -> dict:
    """One cell from its rounds: median req/s, latencies and CPU ms per process; counts summed."""
    out = dict(rounds[0])
    out["rps_rounds"] = [round(r["rps"], 1) for r in rounds]
    for key in ("rps", "p50_ms", "p99_ms", "seconds"):
        out[key] = median([r[key] for r in rounds])
    out["cpu_ms"] = {k: median([r["cpu_ms"].get(k, 0.0) for r in rounds]) for k in rounds[0]["cpu_ms"]}
    for key in ("non2xx", "socket_errors", "requests", "ok", "new_users"):
        if key in out:
            out[key] = sum(r[key] for r in rounds)
    if "new_users" in out:
        out["new_users_per_s"] = out["new_users"] / sum(r["seconds"] for r in rounds)
    return out


def measure(sizes: list[int], scenarios: list, conns: int, duration: int, rounds: int) -> list[dict]:
    """Seed and start every size, then run the cells interleaved (round, scenario, size in rotating order),
    so that the machine's drift spreads over all sizes instead of landing on one."""
    stacks = [SizedStack(n) for n in sizes]
    try:
        for s in stacks:
            s.seed()
            s.start()
        cells: dict[tuple[int, str], list[dict]] = {}
        for k in range(rounds):
            for scenario in scenarios:
                order = stacks[k % len(stacks):] + stacks[:k % len(stacks)]
                for s in order:
                    cells.setdefault((s.shape.n_users, scenario[0]), []).append(s.run(scenario, conns, duration))
    finally:
        for s in stacks:
            s.stop()
    return [dict(s.info, results=[combine(cells[(s.shape.n_users, sc[0])]) for sc in scenarios]) for s in stacks]


# ----------------------------------------------------------------------------------------------- report

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
    if ratio is None:
        return ""
    return "yes" if abs(ratio - 1) <= TOLERANCE else "**no**"


def render_section(data: dict) -> str:
    """The "Cost curve" section of results.md, from scale.json (and the notes kept by hand)."""
    sizes = [s["users"] for s in data["sizes"]]
    routes = by_route(data)
    labels = {name: label for name, _, label, _ in SCENARIOS}
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
    last, first = f"{sizes[-1]:,}", f"{sizes[0]:,}"
    lines += ["", f"### req/s (c={data['conns']}) and whether it holds from {first} to {last} users "
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
    lines += ["", "### CPU per request (ms) by process, at each size", "",
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
    lines += ["", "### The statements behind the routes, on each seeded file (median ms, sqlite3 in Python)", "",
              "| statement | " + " | ".join(f"{n:,}" for n in sizes) + f" | plan at {sizes[-1]:,} |",
              "|---|" + "---:|" * len(sizes) + "---|"]
    for i, (label, _, _) in enumerate(QUERIES):
        cells = [s["queries"][i] for s in data["sizes"] if i < len(s["queries"])]
        lines.append(f"| {label} | " + " | ".join(f"{c['ms']:.3f}" for c in cells)
                     + f" | {cells[-1]['plan'] if cells else ''} |")
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


def draw_chart(data: dict, path: Path = CHART) -> None:
    """req/s and total CPU ms per request of each route against users (log x), one line per route."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    routes = by_route(data)
    fig, (ax_rps, ax_cpu) = plt.subplots(1, 2, figsize=(13, 5.5))
    for name, _, label, _ in SCENARIOS:
        cells = routes.get(name)
        if not cells:
            continue
        xs = sorted(cells)
        style = "--" if name.startswith("native") else "-"
        ax_rps.plot(xs, [cells[x]["rps"] for x in xs], style, marker="o", label=label)
        ax_cpu.plot(xs, [sum(cells[x]["cpu_ms"].values()) for x in xs], style, marker="o", label=label)
    for ax, title in ((ax_rps, f"req/s at c={data['conns']}"), (ax_cpu, "CPU ms per request (all processes)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax_rps.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"Cost curve ({data['generated']}, shared 2-core machine: compare within the run)")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "4")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--conns", type=int, default=int(os.environ.get("BENCH_CONNS", "8")))
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: redraw the chart and the section from bench/scale.json")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads(SCALE_JSON.read_text())
        draw_chart(data)
        splice_results(render_section(data))
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 1
    RAW.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    scenarios = [s for s in SCENARIOS if not only or s[0] in only]
    t0 = time.monotonic()
    sizes = measure(sorted(int(x) for x in args.sizes.split(",")), scenarios, args.conns, args.duration, args.rounds)
    data = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "conns": args.conns,
            "duration": args.duration, "rounds": args.rounds, "total_seconds": round(time.monotonic() - t0), "facts": machine_facts(),
            "sizes": sizes}
    SCALE_JSON.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    draw_chart(data)
    section = render_section(data)
    splice_results(section)
    print("\n" + section)
    log(f"wrote {SCALE_JSON}, {CHART} and the cost-curve section of {RESULTS} in {data['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
