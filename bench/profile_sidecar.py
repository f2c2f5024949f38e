"""`make profile`: where the sidecar's CPU per request goes, and A/B runs of sidecar changes.

    python -m bench.profile_sidecar profile [--routes users_count,refresh_token,...] [--calls 2000]
    python -m bench.profile_sidecar ab A=HEAD~1 B=. [--route users_count] [--rounds 6] [--seconds 4]

Both start PocketBase and the WeChat dev stub as `make bench` does (temp dir, free ports, no rate limits)
and the sidecar under gunicorn (deploy/gunicorn.conf.py, SIDECAR_WORKERS x SIDECAR_THREADS, default 3 x 8),
loaded with wrk straight at gunicorn: the sidecar alone, without nginx.

`profile`, per route: the sidecar's CPU per request under gunicorn (from /proc, median of --rounds wrk
runs), the same requests called in-process as WSGI (no gunicorn, no client socket) and cProfile's split
of the in-process time into the parts of a request; the gunicorn row is the difference of the two.
--in-gunicorn adds cProfile inside gunicorn's workers (bench/gunicorn_profiled.py): gunicorn's own part. Under
gevent's workers cProfile cannot follow the switches between greenlets (most time lands in "other"): read
the split from the in-process profile and the gunicorn row (the difference) instead.

`ab`: one gunicorn per variant (LABEL=REF[:GUNICORN ARGS]; REF "." is the working tree, any other a git
ref, extracted with `git archive`), loaded in turn, A B B A A B ..., for --rounds rounds; with --in-process,
each round calls each variant's app in-process instead (a process per variant and round,
bench/inprocess.py): no gunicorn, so a code change's effect is not drowned in gunicorn's share and the
other load's noise. It prints each round's CPU per request and the medians, and the ratio B/A of each
pair: on a shared machine compare these, not req/s. Every figure is also written to
bench/raw/profile-*.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.gunicorn_profiled import profiled_variant, worker_stats
from bench.inprocess import Caller, breakdown, cpu_per_request, profile, route_requests, top_functions
from bench.output import RAW, log
from bench.sidecar_alone import N_USERS, ROUTES, SidecarAlone, Variant, parse_variant
from bench.stack_setup import bench_config
from bench.wrk import wrk_installed
from ops.stack import Stack
from ops.stack_config import StackConfig


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workers", type=int, default=int(os.environ.get("SIDECAR_WORKERS") or 0)
                        or StackConfig.sidecar_workers, help="gunicorn workers (default: as make run)")
    common.add_argument("--conns", type=int, default=8, help="wrk connections")
    common.add_argument("--seconds", type=int, default=4, help="length of one wrk run")
    parser = argparse.ArgumentParser(prog="python -m bench.profile_sidecar", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prof = sub.add_parser("profile", parents=[common],
                          help="per route: CPU per request under gunicorn, in-process, and its parts")
    prof.add_argument("--routes", default=",".join(ROUTES))
    prof.add_argument("--calls", type=int, default=2000, help="in-process calls per measurement")
    prof.add_argument("--rounds", type=int, default=3, help="wrk runs per route (median)")
    prof.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    prof.add_argument("--in-gunicorn", action="store_true",
                      help="also profile inside gunicorn's workers (every thread; one extra wrk run per route)")
    ab = sub.add_parser("ab", parents=[common], help="interleaved A/B of sidecar variants")
    ab.add_argument("variants", nargs="+", type=parse_variant, help="LABEL=REF[:GUNICORN ARGS]")
    ab.add_argument("--route", default="users_count", choices=sorted(ROUTES))
    ab.add_argument("--rounds", type=int, default=6)
    ab.add_argument("--in-process", action="store_true",
                    help="measure each variant's app called in-process (no gunicorn): steadier, for code changes")
    ab.add_argument("--calls", type=int, default=2000, help="in-process calls per round")
    args = parser.parse_args(argv)
    for name in getattr(args, "routes", "").split(",") if args.command == "profile" else []:
        if name not in ROUTES:
            parser.error(f"unknown route {name!r} (one of {', '.join(ROUTES)})")
    return args


def round_order(labels: list[str], round_no: int) -> list[str]:
    """The variants' order in a round: reversed every other round (A B, B A, ...), so neither always goes first."""
    return labels if round_no % 2 == 0 else labels[::-1]


def summarize(rows: list[dict], labels: list[str]) -> dict:
    """Median sidecar and PocketBase CPU ms per request of each variant; each later variant's ratio to the
    first: of the medians, and the median of the per-round ratios with how many rounds were below 1."""
    out: dict = {"variants": {}}
    for label in labels:
        mine = [r for r in rows if r["variant"] == label]
        out["variants"][label] = {
            "sidecar_cpu_ms": statistics.median(r["sidecar_cpu_ms"] for r in mine),
            "pocketbase_cpu_ms": statistics.median(r["pocketbase_cpu_ms"] for r in mine),
            "rps": statistics.median(r["rps"] for r in mine), "rounds": len(mine),
            "errors": sum(r["non2xx"] for r in mine)}
    base = labels[0]
    by_round = {(r["variant"], r["round"]): r["sidecar_cpu_ms"] for r in rows}
    for label in labels[1:]:
        pairs = [by_round[(label, n)] / by_round[(base, n)]
                 for (v, n) in by_round if v == label and (base, n) in by_round]
        out["variants"][label]["ratio_of_medians"] = \
            out["variants"][label]["sidecar_cpu_ms"] / out["variants"][base]["sidecar_cpu_ms"]
        out["variants"][label]["paired_ratio_median"] = statistics.median(pairs)
        out["variants"][label]["pairs_below_1"] = f"{sum(p < 1 for p in pairs)}/{len(pairs)}"
    return out


def ab_table(summary: dict) -> str:
    """The summary as a markdown table."""
    lines = ["| variant | sidecar CPU ms/req (median) | B/A of medians | B/A paired (median) | rounds B<A "
             "| PocketBase CPU ms/req | req/s (median) | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, v in summary["variants"].items():
        ratio = f"{v['ratio_of_medians']:.3f}" if "ratio_of_medians" in v else ""
        paired = f"{v['paired_ratio_median']:.3f}" if "paired_ratio_median" in v else ""
        lines.append(f"| {label} | {v['sidecar_cpu_ms']:.3f} | {ratio} | {paired} | {v.get('pairs_below_1', '')} "
                     f"| {v['pocketbase_cpu_ms']:.3f} | {v['rps']:.0f} | {v['errors']} |")
    return "\n".join(lines)


def run_ab(alone: SidecarAlone, args: argparse.Namespace) -> dict:
    labels = [v.label for v in alone.variants]
    by_label = {v.label: v for v in alone.variants}
    for variant in alone.variants if not args.in_process else []:
        alone.warm(variant, args.route, args.conns)
    rows = []
    for n in range(args.rounds):
        for label in round_order(labels, n):
            if args.in_process:
                row = alone.measure_in_process(by_label[label], args.route, args.calls, n + 1)
            else:
                row = alone.measure(by_label[label], args.route, args.conns, args.seconds, n + 1)
            rows.append(row)
            log(f"round {n + 1} {label:>10s} {args.route}: sidecar {row['sidecar_cpu_ms']:.3f} ms/req, "
                f"PocketBase {row['pocketbase_cpu_ms']:.3f} ms/req, {row['rps']:.0f} req/s, errors {row['non2xx']}")
    summary = summarize(rows, labels)
    summary.update(route=args.route, conns=args.conns, seconds=args.seconds, rows=rows,
                   variants_spec={v.label: {"ref": v.ref, "gunicorn_args": v.gunicorn_args} for v in alone.variants})
    how = (f"in-process, {args.calls} calls" if args.in_process else
           f"wrk -c{args.conns} {args.seconds} s, {args.workers} workers")
    summary["how"] = how
    print(f"\nA/B {args.route} ({how}) x {args.rounds} rounds:\n" + ab_table(summary))
    return summary


def in_process_app(alone: SidecarAlone):
    """The working tree's app, configured as the variants' gunicorns are, logging as sidecar/wsgi.py does."""
    os.environ.update(alone.sidecar_env(alone.variants[0].tree))
    from sidecar import create_app
    from sidecar.config import Config
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    return create_app(Config.from_env(load_dotenv_file=False))


def run_profile(alone: SidecarAlone, args: argparse.Namespace) -> dict:
    app = in_process_app(alone)
    tokens = alone.files["tokens"].read_text().split()
    variant = alone.variants[0]
    out = {}
    for route in args.routes.split(","):
        alone.warm(variant, route, args.conns)
        served = [alone.measure(variant, route, args.conns, args.seconds, n + 1) for n in range(args.rounds)]
        call = Caller(app, route_requests(route, tokens, N_USERS))
        for _ in range(200):
            call()
        cpu = statistics.median(cpu_per_request(call, args.calls) for _ in range(3))
        stats = profile(call, args.calls)
        gunicorn_cpu = statistics.median(r["sidecar_cpu_ms"] for r in served)
        system_cpu = statistics.median(r["sidecar_system_ms"] for r in served)
        parts = {name: share * cpu for name, share in breakdown(stats).items()}
        out[route] = {"gunicorn_cpu_ms": gunicorn_cpu, "system_cpu_ms": system_cpu, "in_process_cpu_ms": cpu,
                      "parts_ms": parts,
                      "pocketbase_cpu_ms": statistics.median(r["pocketbase_cpu_ms"] for r in served),
                      "statuses": dict(call.statuses), "rps": statistics.median(r["rps"] for r in served)}
        print(f"\n### {route}\n\n" + profile_table(out[route]))
        if args.top:
            print(top_functions(stats, args.top))
        if args.in_gunicorn:
            out[route]["in_gunicorn"] = profile_in_gunicorn(alone, route, args)
    return out


def profile_in_gunicorn(alone: SidecarAlone, route: str, args: argparse.Namespace) -> dict[str, float]:
    """cProfile inside a fresh gunicorn of the working tree (all threads of all workers) during one wrk run:
    its split of the workers' time, scaled to the CPU per request /proc gave for that run."""
    variant = profiled_variant(alone.tmp / f"prof-{route}")
    alone.start(variant)
    try:
        alone.warm(variant, route, args.conns)
        run = alone.measure(variant, route, args.conns, args.seconds, 1)
    finally:
        variant.process.stop()
    stats = worker_stats(Path(variant.env["PROFILE_DIR"]))
    parts = {name: share * run["sidecar_cpu_ms"] for name, share in breakdown(stats).items()}
    print(f"\nInside gunicorn ({route}, profiler on, {run['sidecar_cpu_ms']:.3f} ms/req with it):\n"
          + "\n".join(f"- {name}: {ms:.3f} ms ({ms / run['sidecar_cpu_ms']:.0%})" for name, ms in parts.items()))
    if args.top:
        print(top_functions(stats, args.top))
    return parts


def profile_table(figures: dict) -> str:
    """One route's figures as a markdown table: gunicorn's share, then the in-process parts."""
    total = figures["gunicorn_cpu_ms"]
    lines = ["| part | CPU ms/req | share |", "|---|---:|---:|",
             f"| gunicorn (HTTP parsing, workers, threads) and the client socket | "
             f"{total - figures['in_process_cpu_ms']:.3f} | {(total - figures['in_process_cpu_ms']) / total:.0%} |"]
    for name, ms in figures["parts_ms"].items():
        lines.append(f"| {name} | {ms:.3f} | {ms / total:.0%} |")
    lines.append(f"| **sidecar under gunicorn (from /proc)** | **{total:.3f}** | 100% |")
    if "system_cpu_ms" in figures:
        lines.append(f"| (of which in the kernel: sockets, epoll, futexes) | {figures['system_cpu_ms']:.3f} "
                     f"| {figures['system_cpu_ms'] / total:.0%} |")
    lines.append(f"| (PocketBase, for comparison) | {figures['pocketbase_cpu_ms']:.3f} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.command == "ab" and args.in_process) and not wrk_installed():
        return 1  # only an in-process A/B runs without wrk
    RAW.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="profile-"))
    variants = args.variants if args.command == "ab" else [Variant("current")]
    try:
        with SidecarAlone(Stack(bench_config(tmp)), variants, tmp, args.workers) as alone:
            result = run_ab(alone, args) if args.command == "ab" else run_profile(alone, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = RAW / f"profile-{args.command}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    log(f"figures in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
