"""`make profile AB="A=HEAD~1 B=."`: an A/B of sidecar versions by the CPU a route costs per request.

    python -m bench.ab A=HEAD~1 B=. [--route users_count] [--rounds 6] [--seconds 4] [--conns 8] [--users 2000]

A variant is LABEL=REF[:GUNICORN ARGS]: REF "." is the working tree, any other a git ref (extracted with
`git archive`); the arguments (separated by commas: `B=.:--workers=2,--backlog=64`) are added to its
gunicorn's, so a gunicorn setting is A/B'd with one ref twice.
One seeded stack (bench/stack.py) gives PocketBase and the WeChat stub; each variant is a gunicorn of its own
tree on them, loaded straight (no nginx) in turn, A B, B A, ... for --rounds rounds. Each run's CPU per
request of the variant's gunicorn, PocketBase and the stub is read from /proc: on a shared machine compare
these (total CPU: what issue #32 holds an override of a library's internals to), not req/s.
"""
from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

from bench.scenarios import BY_NAME
from bench.stack import SeededStack, log
from ops.processes import ROOT, ManagedProcess, free_port

ROUTES = ("users_count", "refresh_token", "login_returning", "profile", "upload")


def source_tree(ref: str, into: Path) -> Path:
    """The tree of a git ref extracted under `into` (the repository is only read); ROOT for "."."""
    if ref == ".":
        return ROOT
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True,
                             check=True).stdout
    dest = into / ("tree-" + "".join(c if c.isalnum() else "_" for c in ref))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def start_variant(sized: SeededStack, label: str, spec: str) -> tuple[ManagedProcess, str]:
    """The variant's gunicorn on a free port, with its own tree's code and gunicorn.conf.py: (process, URL)."""
    ref, _, extra = spec.partition(":")
    tree = source_tree(ref or ".", sized.tmp)
    port = free_port()
    env = dict(sized.stack.build_sidecar_env(), PYTHONPATH=str(tree))
    argv = [sys.executable, "-m", "gunicorn", "sidecar.wsgi:app", "-c", str(tree / "deploy" / "gunicorn.conf.py"),
            "--workers", str(sized.config.sidecar_workers), "--bind", f"127.0.0.1:{port}",
            *extra.replace(",", " ").split()]
    process = ManagedProcess(f"ab-{label}", argv, sized.tmp / f"ab-{label}.log", env=env, cwd=tree).start()
    url = f"http://127.0.0.1:{port}"
    process.wait_http(url + "/pb/api/system/health", 60, ok=lambda r: r.status_code == 200)
    return process, url


def summary(rows: list[dict], labels: list[str]) -> str:
    """Medians per variant and each later variant's ratio to the first (of the medians, and paired by round)."""
    lines = ["| variant | CPU ms/req total | sidecar | PocketBase | stub | total / first's | paired by round "
             "(median, rounds lower) | req/s | errors |", "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    first = [r for r in rows if r["variant"] == labels[0]]
    for label in labels:
        mine = [r for r in rows if r["variant"] == label]
        med = {k: statistics.median(r["cpu_ms"].get(k, 0.0) for r in mine) for k in ("sidecar", "pocketbase",
                                                                                    "wechat_stub")}
        total = statistics.median(sum(r["cpu_ms"].values()) for r in mine)
        base = statistics.median(sum(r["cpu_ms"].values()) for r in first)
        pairs = [sum(m["cpu_ms"].values()) / sum(f["cpu_ms"].values()) for m, f in zip(mine, first)]
        lines.append(f"| {label} | {total:.3f} | {med['sidecar']:.3f} | {med['pocketbase']:.3f} | "
                     f"{med['wechat_stub']:.3f} | {total / base:.3f} | {statistics.median(pairs):.3f}, "
                     f"{sum(p < 1 for p in pairs)}/{len(pairs)} | {statistics.median(r['rps'] for r in mine):.0f} "
                     f"| {sum(r['non2xx'] + r['socket_errors'] for r in mine)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", help="LABEL=REF[:GUNICORN ARGS]")
    parser.add_argument("--route", default="users_count", choices=ROUTES)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args(argv)
    specs = dict(v.split("=", 1) for v in args.variants)
    from bench.wrk import run_cell  # after argparse: --help needs no stack
    scenario = BY_NAME[args.route]
    sized = SeededStack(args.users)
    variants: dict[str, tuple[ManagedProcess, str]] = {}
    rows = []
    try:
        sized.seed()
        sized.start()
        for label, spec in specs.items():
            variants[label] = start_variant(sized, label, spec)
        shared = {name: sized.stack.processes[name] for name in ("pocketbase", "wechat_stub")}
        for label, (process, url) in variants.items():  # warm: sessions, keep-alive connections
            run_cell(sized, scenario, args.conns, 1, base=url, processes={"sidecar": process, **shared})
        labels = list(specs)
        for n in range(args.rounds):
            for label in labels if n % 2 == 0 else labels[::-1]:
                process, url = variants[label]
                r = run_cell(sized, scenario, args.conns, args.seconds, base=url,
                             processes={"sidecar": process, **shared})
                rows.append({"variant": label, **r})
                log(f"round {n + 1} {label}: {sum(r['cpu_ms'].values()):.3f} CPU ms/req, {r['rps']:.0f} req/s, "
                    f"errors {r['non2xx'] + r['socket_errors']}")
    finally:
        for process, _ in variants.values():
            process.stop()
        sized.stop()
    print(f"\nA/B of {args.route}, wrk -c{args.conns} {args.seconds} s x {args.rounds} rounds, "
          f"{sized.config.sidecar_workers} worker(s):\n" + summary(rows, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
