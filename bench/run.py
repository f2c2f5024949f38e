"""`make bench`: start the whole stack on free ports with a temp data dir, seed it, load it with wrk.

    python -m bench.run [--duration 5] [--conns 1,8,32] [--only login_returning,...] [--output PATH] [--keep]

Writes bench/results.md (the table, machine, versions, targets) and keeps every wrk output in bench/raw/.
Environment: SIDECAR_WORKERS / SIDECAR_THREADS tune gunicorn as for `make run`; BENCH_PYSPY (a py-spy
binary) samples the sidecar's workers during the returning-user login at the largest connection count.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.cells import run_scenarios
from bench.machine import machine_facts
from bench.output import BENCH, RAW, log
from bench.procstats import memory
from bench.report import render
from bench.scenarios import select
from bench.seed_api import N_COMPANIES, N_USERS, seed
from bench.stack_setup import bench_config, warm_up
from bench.wrk import wrk_installed
from bench.wrk_inputs import token_files, upload_files
from ops.stack import Stack


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (defaults from BENCH_DURATION and BENCH_CONNS)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "5")))
    parser.add_argument("--conns", default=os.environ.get("BENCH_CONNS", "1,8,32"))
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--output", default=str(BENCH / "results.md"))
    parser.add_argument("--keep", action="store_true", help="keep the stack running until Enter (inspection)")
    return parser.parse_args(argv)


def measure(stack: Stack, tmp: Path, args: argparse.Namespace, conns_list: list[int]) -> tuple[dict, dict]:
    """Seed the running stack, write the wrk input files, warm up, run the cells: (results, seed info)."""
    seed_info = seed(stack.config.pb_url, stack.pb.superuser_token())
    log(f"seed done in {seed_info['seconds']} s: {seed_info['counts']}")
    files = {**token_files(stack.base_url, tmp, N_USERS, N_COMPANIES),
             **upload_files(tmp, stack.pb.superuser_token())}
    warm_up(stack)
    results = run_scenarios(stack, files, select(args.only), conns_list, args.duration, N_USERS)
    return results, seed_info


def write_report(stack: Stack, results: dict, seed_info: dict, args: argparse.Namespace,
                 conns_list: list[int]) -> None:
    """bench/raw/results.json (every figure) and results.md, also printed."""
    mem = memory(stack)
    facts = machine_facts()
    (RAW / "results.json").write_text(json.dumps(
        {"results": [dict(r) for r in results.values()], "memory": mem, "facts": facts, "seed": seed_info},
        ensure_ascii=False, indent=1))
    report = render(results, conns_list, mem, facts, stack.config, seed_info, args.duration)
    print("\n" + report)
    Path(args.output).write_text(report)
    log(f"wrote {args.output}; raw wrk output in {RAW}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on a fresh stack and write bench/results.md."""
    args = parse_args(argv)
    conns_list = [int(c) for c in args.conns.split(",")]
    if not wrk_installed():
        return 1
    RAW.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    config = bench_config(tmp)
    stack = Stack(config)
    try:
        log(f"starting the stack in {tmp} ({config.sidecar_workers} sidecar workers)")
        stack.start()
        results, seed_info = measure(stack, tmp, args, conns_list)
        write_report(stack, results, seed_info, args, conns_list)
        if args.keep:
            input(f"stack at {stack.base_url} (PB {config.pb_url}); Enter stops it ")
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
