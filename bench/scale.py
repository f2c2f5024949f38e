"""`make bench-scale`: the same routes at 10k, 100k and 1M users, to see whether their cost grows with the data.

    python -m bench.scale [--sizes 10000,100000,1000000] [--duration 4] [--rounds 3] [--conns 8] [--render]

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
import sys
import time

from bench.machine import machine_facts
from bench.output import RAW, log
from bench.scale_chart import CHART, draw_chart
from bench.scale_measure import measure
from bench.scale_report import RESULTS, SCALE_JSON, render_section, splice_results
from bench.scenarios import select
from bench.wrk import wrk_installed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (defaults from BENCH_SIZES, BENCH_DURATION, BENCH_ROUNDS and BENCH_CONNS)."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "4")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--conns", type=int, default=int(os.environ.get("BENCH_CONNS", "8")))
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: redraw the chart and the section from bench/scale.json")
    return parser.parse_args(argv)


def publish(data: dict) -> str:
    """The chart and the cost-curve section of results.md from the figures; the section."""
    draw_chart(data)
    section = render_section(data)
    splice_results(section)
    return section


def main(argv: list[str] | None = None) -> int:
    """Measure every size (or only redraw from scale.json) and publish the cost curve."""
    args = parse_args(argv)
    if args.render:
        publish(json.loads(SCALE_JSON.read_text()))
        return 0
    if not wrk_installed():
        return 1
    RAW.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    sizes = measure(sorted(int(x) for x in args.sizes.split(",")), select(args.only), args.conns, args.duration,
                    args.rounds)
    data = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "conns": args.conns,
            "duration": args.duration, "rounds": args.rounds, "total_seconds": round(time.monotonic() - t0),
            "facts": machine_facts(), "sizes": sizes}
    SCALE_JSON.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    section = publish(data)
    print("\n" + section)
    log(f"wrote {SCALE_JSON}, {CHART} and the cost-curve section of {RESULTS} in {data['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
