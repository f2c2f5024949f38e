"""The sidecar alone, for `make profile` (bench/profile_sidecar.py): PocketBase and the WeChat dev stub as
`make bench` starts them, and one gunicorn per variant of the sidecar, each loaded with wrk straight (no nginx).

A variant is a source tree (the working tree, or a git ref extracted with `git archive`) plus extra gunicorn
arguments, so an A/B of a code change is two refs and one of a gunicorn setting is two argument lists. The
sidecar's CPU per request is read from /proc (gunicorn master and workers, user + system), not req/s: the
machine may be shared, and CPU per request moves far less with other load than throughput does.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.procstats import group_ticks
from bench.wrk import run_wrk
from ops.processes import ROOT, ManagedProcess, free_port, proc_stat
from ops.stack import Stack, process_group_members

HEALTH = "/pb/api/system/health"
# The routes every request of which pays the fixed cost; the bench's own wrk scripts drive them.
ROUTES = {
    # name: (wrk script, path wrk is pointed at)
    "users_count": ("users_count.lua", "/pb/api/system/users-count"),
    "refresh_token": ("refresh_token.lua", "/"),
    "login_returning": ("login_returning.lua", "/"),
    "profile": ("profile.lua", "/"),
}
N_USERS = 200          # returning users the login scenario rotates over (logged in once before measuring)
N_TOKENS = 32          # their tokens, for refresh-token and profile


@dataclass
class Variant:
    """One sidecar under test: a label, its source tree and extra gunicorn arguments."""

    label: str
    ref: str = "."                      # "." = the working tree, else a git ref
    gunicorn_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    tree: Path | None = None
    process: ManagedProcess | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_variant(spec: str) -> Variant:
    """LABEL=REF[:GUNICORN ARGS...], e.g. `A=HEAD~1`, `B=.`, `sync=.:--worker-class sync --workers 3`."""
    label, sep, rest = spec.partition("=")
    if not sep or not label:
        raise ValueError(f"variant {spec!r}: expected LABEL=REF[:GUNICORN ARGS]")
    ref, _, args = rest.partition(":")
    return Variant(label, ref or ".", args.split())


def source_tree(ref: str, into: Path) -> Path:
    """The tree of a git ref, extracted under `into` (the repository is only read); ROOT for "."."""
    if ref == ".":
        return ROOT
    out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True)
    dest = into / ("tree-" + "".join(c if c.isalnum() else "_" for c in ref))
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


class SidecarAlone:
    """PocketBase + dev stub (from a bench Stack's config) and the variants' gunicorns; a context manager."""

    def __init__(self, stack: Stack, variants: list[Variant], tmp: Path, workers: int):
        self.stack = stack
        self.variants = variants
        self.tmp = tmp
        self.workers = workers
        self.files: dict[str, Path] = {}

    def __enter__(self) -> "SidecarAlone":
        try:
            self.stack.run_dir.mkdir(parents=True, exist_ok=True)
            self.stack.start_pocketbase()
            self.stack.start_stub()
            for variant in self.variants:
                self.start(variant)
            self.files = self.inputs(self.variants[0].url)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for variant in self.variants:
            if variant.process:
                variant.process.stop()
        self.stack.stop()

    def sidecar_env(self, tree: Path, extra: dict | None = None) -> dict:
        env = self.stack.build_sidecar_env()
        env.update(PYTHONPATH=str(tree), SIDECAR_GUNICORN_CONF=str(tree / "deploy" / "gunicorn.conf.py"),
                   **(extra or {}))
        return env

    def start(self, variant: Variant) -> None:
        """The variant's gunicorn on a free port: its own tree's gunicorn.conf.py, then its extra arguments."""
        variant.tree = source_tree(variant.ref, self.tmp)
        variant.port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "sidecar.wsgi:app",
                "-c", str(variant.tree / "deploy" / "gunicorn.conf.py"),
                "--workers", str(self.workers),
                "--bind", f"127.0.0.1:{variant.port}", "--name", f"sidecar-ab-{variant.label}", *variant.gunicorn_args]
        variant.process = ManagedProcess(f"sidecar-{variant.label}", argv, self.tmp / f"sidecar-{variant.label}.log",
                                         env=self.sidecar_env(variant.tree, variant.env), cwd=variant.tree).start()
        variant.process.wait_http(variant.url + HEALTH, 60, ok=lambda r: r.status_code == 200)

    def inputs(self, url: str) -> dict[str, Path]:
        """Log the returning users in once (creating them) and keep N_TOKENS of their tokens for the wrk scripts."""
        session = requests.Session()
        tokens = []
        for i in range(N_USERS):
            r = session.post(f"{url}/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i}"}, timeout=30)
            r.raise_for_status()
            if i < N_TOKENS:
                tokens.append(r.json()["token"])
        path = self.tmp / "tokens.txt"
        path.write_text("\n".join(tokens) + "\n")
        return {"tokens": path}

    def wrk_env(self, conns: int, round_no: int) -> dict[str, str]:
        return {"BENCH_USERS": str(N_USERS), "BENCH_TOKENS": str(self.files["tokens"]),
                "BENCH_COMPANIES": "", "BENCH_PREFIX": f"ab{conns}x{round_no}", "BENCH_PATH_PREFIX": "/pb"}

    def warm(self, variant: Variant, route: str, conns: int) -> None:
        """A short wrk run so every worker holds its superuser session and keep-alive connections."""
        script, path = ROUTES[route]
        run_wrk(f"warm-{route}", script, variant.url + path, conns, 1, self.wrk_env(conns, 0),
                tag=f"ab-{variant.label}-")

    def measure(self, variant: Variant, route: str, conns: int, seconds: int, round_no: int) -> dict:
        """One wrk run at the variant: requests, req/s and CPU ms per request of the sidecar and of PocketBase."""
        script, path = ROUTES[route]
        (user_before, system_before), pb_before = user_system_ticks(variant.process.pid), self.pocketbase_ticks()
        r = run_wrk(route, script, variant.url + path, conns, seconds, self.wrk_env(conns, round_no),
                    tag=f"ab-{variant.label}-")
        user_after, system_after = user_system_ticks(variant.process.pid)
        pb_ticks = self.pocketbase_ticks() - pb_before
        per_request = 1000 / os.sysconf("SC_CLK_TCK") / max(r["requests"], 1)
        return {"variant": variant.label, "route": route, "round": round_no, "requests": r["requests"],
                "rps": r["rps"], "non2xx": r["non2xx"] + r["socket_errors"],
                "sidecar_cpu_ms": (user_after - user_before + system_after - system_before) * per_request,
                "sidecar_system_ms": (system_after - system_before) * per_request,
                "pocketbase_cpu_ms": pb_ticks * per_request}

    def measure_in_process(self, variant: Variant, route: str, calls: int, round_no: int) -> dict:
        """The variant's app called in-process (bench/inprocess.py run on its tree): CPU ms per call."""
        env = self.sidecar_env(variant.tree, variant.env)
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "inprocess.py"), "--tree", str(variant.tree),
                              "--route", route, "--calls", str(calls), "--tokens", str(self.files["tokens"]),
                              "--users", str(N_USERS)], env=env, cwd=variant.tree, capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"in-process run of {variant.label} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        errors = sum(n for status, n in result["statuses"].items() if not status.startswith("2"))
        return {"variant": variant.label, "route": route, "round": round_no, "requests": calls, "rps": 0.0,
                "non2xx": errors, "sidecar_cpu_ms": result["cpu_ms"], "pocketbase_cpu_ms": 0.0}

    def pocketbase_ticks(self) -> int:
        return group_ticks(self.stack.processes["pocketbase"].pid)


def user_system_ticks(pid: int) -> tuple[int, int]:
    """Clock ticks in user and in system (kernel: sockets, epoll, futexes) mode of the group led by pid."""
    user = system = 0
    for member in process_group_members({pid}):
        fields = proc_stat(member)
        if fields:
            user, system = user + int(fields[11]), system + int(fields[12])
    return user, system
