"""`make bench` and `make bench-scale`: seeded stacks on free ports, every scenario loaded with wrk, a report.

    python -m bench.run            # make bench: 10k users, c=1,8,32, 5 s per cell -> bench/results.md
    python -m bench.run --scale    # make bench-scale: 10k, 100k, 1M users, c=8, 3 rounds -> bench/scale.md
    [--sizes N,N] [--conns C,C] [--duration S] [--rounds R] [--only SCENARIO,...] [--output PATH]

Each size: PocketBase makes the schema and one template record per collection, is stopped, and bench/seed.py
clones the rows straight into SQLite (companies = users/10, three attachments for every other user,
documents = users); then the whole stack starts on that data. All sizes' stacks are up at once and each cell
runs on each size in turn, the order rotating every round, so the shared machine's drift spreads over all
sizes; a cell's figures are the medians of its rounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from bench.queries import query_costs
from bench.report import render
from bench.scenarios import select
from bench.stack import SeededStack, log, rss_mib
from bench.wrk import BENCH, run_cell, wrk_installed

PROFILES = {  # what each make target runs
    "bench": {"sizes": "10000", "conns": "1,8,32", "duration": 5, "rounds": 1, "output": BENCH / "results.md"},
    "scale": {"sizes": "10000,100000,1000000", "conns": "8", "duration": 4, "rounds": 3,
              "output": BENCH / "scale.md"},
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", action="store_true", help="make bench-scale's defaults")
    for name in ("sizes", "conns", "duration", "rounds", "output"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    for name, default in PROFILES["scale" if args.scale else "bench"].items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.sizes = sorted(int(x) for x in str(args.sizes).split(","))
    args.conns = [int(x) for x in str(args.conns).split(",")]
    args.duration, args.rounds, args.output = int(args.duration), int(args.rounds), Path(args.output)
    return args


def combine(rounds: list[dict]) -> dict:
    """One cell from its rounds: median req/s, latencies and CPU ms per process; counts summed."""
    out = dict(rounds[0], rps_rounds=[round(r["rps"]) for r in rounds])
    for key in ("rps", "p50_ms", "p99_ms"):
        out[key] = statistics.median(r[key] for r in rounds)
    measured = [r for r in rounds if r["requests"]] or rounds[:1]   # a round that finished no request has no CPU
    out["cpu_ms"] = {k: statistics.median(r["cpu_ms"].get(k, 0.0) for r in measured) for k in rounds[0]["cpu_ms"]}
    for key in ("requests", "ok", "non2xx", "socket_errors", "new_users", "seconds"):
        if key in out:
            out[key] = sum(r[key] for r in rounds)
    if "new_users" in out:
        out["new_users_per_s"] = out["new_users"] / out["seconds"]
    return out


def measure(stacks: list[SeededStack], args: argparse.Namespace) -> dict[tuple[int, str, int], dict]:
    """Every cell on every size, args.rounds times: {(users, scenario, conns): the combined cell}."""
    cells: dict[tuple[int, str, int], list[dict]] = {}
    for k in range(args.rounds):
        for scenario in select(args.only):
            for conns in [scenario.conns] if scenario.conns else args.conns:
                for sized in stacks[k % len(stacks):] + stacks[:k % len(stacks)]:
                    sized.configure_sidecars(scenario.settings)
                    before = sized.count_users() if scenario.name == "login_new" else 0
                    r = run_cell(sized, scenario, conns, args.duration)
                    if scenario.name == "login_new":
                        r["new_users"] = sized.count_users() - before
                    cells.setdefault((sized.shape.n_users, scenario.name, conns), []).append(r)
                    log(f"{sized.shape.n_users:>9,d} users  {scenario.label:58s} c={conns:<3d} {r['rps']:8.1f} req/s"
                        f"  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  non-2xx {r['non2xx']}"
                        f"  sock {r['socket_errors']}")
    return {key: combine(rounds) for key, rounds in cells.items()}


def main(argv: list[str] | None = None) -> int:
    """Seed and start every size, run the cells, write the report (also printed)."""
    args = parse_args(argv)
    if not wrk_installed():
        return 1
    t0, load_before = time.monotonic(), os.getloadavg()
    stacks = [SeededStack(n) for n in args.sizes]
    try:
        for sized in stacks:
            sized.seed()
            sized.info["queries"] = query_costs(sized.config.pb_data_dir / "data.db", sized.shape)
            sized.start()
        results = measure(stacks, args)
        for sized in stacks:
            sized.info["rss_mib"] = rss_mib(sized.stack)
    finally:
        for sized in stacks:
            sized.stop()
    run = {"argv": " ".join(sys.argv[1:] if argv is None else argv), "minutes": (time.monotonic() - t0) / 60,
           "load": (load_before, os.getloadavg()), "duration": args.duration, "rounds": args.rounds,
           "conns": args.conns, "sizes": [s.info for s in stacks], "workers": stacks[0].config.sidecar_workers}
    report = render(results, run)
    print("\n" + report)
    args.output.write_text(report)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
