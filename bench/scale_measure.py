"""`make bench-scale`'s measurements: one seeded stack per size, the cells interleaved, rounds combined."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench import seed_sql
from bench.cells import run_scenarios
from bench.output import log
from bench.scale_queries import query_costs
from bench.stack_setup import bench_config, warm_up
from bench.wrk_inputs import token_files
from ops.pbserver import PocketBaseServer
from ops.stack import Stack


class SizedStack:
    """One size: a temp data dir seeded with n_users and the whole stack running on it."""

    def __init__(self, n_users: int, **settings):
        self.shape = seed_sql.Shape(n_users)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n_users}-"))
        self.config = bench_config(self.tmp, **settings)
        self.stack = Stack(self.config)
        self.tag = f"{n_users:>9,d} users  "
        self.info: dict = {"users": n_users}
        self.files: dict = {}

    def seed(self, queries: bool = True) -> None:
        """PocketBase once for the schema and the templates, stopped; then the rows straight into SQLite
        (and, with queries, the cost of the routes' queries on them)."""
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
        if queries:
            self.info["queries"] = query_costs(config.pb_data_dir / "data.db", self.shape)

    def start(self) -> None:
        """The stack on the seeded data, its wrk input files written and its workers warm."""
        t0 = time.monotonic()
        self.stack.start()
        self.info["start_seconds"] = round(time.monotonic() - t0, 1)
        self.files = token_files(self.stack.base_url, self.tmp, self.shape.n_users, self.shape.n_companies)
        warm_up(self.stack)

    def run(self, scenario: tuple, conns: int, duration: int) -> dict:
        """One cell on this size."""
        (r,) = run_scenarios(self.stack, self.files, [scenario], [conns], duration, self.shape.n_users,
                             tag=self.tag).values()
        return r

    def stop(self) -> None:
        """Stop the stack and remove its data."""
        self.stack.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def median(values: list[float]) -> float:
    """The median (the mean of the middle two for an even count)."""
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


def run_rounds(stacks: list[SizedStack], scenarios: list, conns: int, duration: int,
               rounds: int) -> dict[tuple[int, str], list[dict]]:
    """Every cell `rounds` times: {(users, scenario name): its rounds}, the sizes' order rotating each round."""
    cells: dict[tuple[int, str], list[dict]] = {}
    for k in range(rounds):
        for scenario in scenarios:
            order = stacks[k % len(stacks):] + stacks[:k % len(stacks)]
            for s in order:
                cells.setdefault((s.shape.n_users, scenario[0]), []).append(s.run(scenario, conns, duration))
    return cells


def measure(sizes: list[int], scenarios: list, conns: int, duration: int, rounds: int) -> list[dict]:
    """Seed and start every size, then run the cells interleaved (round, scenario, size in rotating order),
    so that the machine's drift spreads over all sizes instead of landing on one."""
    stacks = [SizedStack(n) for n in sizes]
    try:
        for s in stacks:
            s.seed()
            s.start()
        cells = run_rounds(stacks, scenarios, conns, duration, rounds)
    finally:
        for s in stacks:
            s.stop()
    return [dict(s.info, results=[combine(cells[(s.shape.n_users, sc[0])]) for sc in scenarios]) for s in stacks]
