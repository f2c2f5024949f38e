"""A seeded stack as the benches run it: free ports, a temp data dir, no rate limits, the WeChat dev stub;
the files wrk reads; CPU and memory of its processes from /proc."""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import requests

from bench import seed
from bench.photo import phone_photo
from ops.pbserver import PocketBaseServer
from ops.processes import free_port, proc_stat
from ops.stack import Stack, StackConfig, process_group_members

N_TOKENS = 64                     # seeded users whose tokens the token-carrying scenarios rotate over
# Content security off: the profile cell measures the route without it (profile_name turns it on).
SIDECAR_SETTINGS = {"CONTENT_SECURITY": "off"}
BENCH_SETTINGS = {"RATE_LIMITS": "off", "UPLOAD_RATE": "off", "WECHAT_APPID": "", "WECHAT_SECRET": "",
                  **SIDECAR_SETTINGS}


def log(msg: str) -> None:
    """One timestamped progress line on stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class SeededStack:
    """One size: a temp data dir seeded with n_users (bench/seed.py) and the whole stack running on it."""

    def __init__(self, n_users: int, **settings):
        self.shape = seed.Shape(n_users)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{n_users}-"))
        http_port = free_port()
        self.config = StackConfig.from_env(overrides={
            "HTTP_PORT": http_port, "PB_PORT": free_port(), "SIDECAR_PORT": free_port(),
            "PB_DATA_DIR": self.tmp / "pb_data", "RUN_DIR": self.tmp / "run",
            "PB_SUPERUSER_PASSWORD": secrets.token_urlsafe(24), "PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
            **BENCH_SETTINGS, **settings}, dotenv_path=None)
        self.stack = Stack(self.config)
        self.info: dict = {"users": n_users}
        self.files: dict[str, Path] = {}

    def seed(self) -> None:
        """PocketBase once for the schema and one template record per collection, stopped; then the rows
        straight into SQLite."""
        t0 = time.monotonic()
        c = self.config
        pb = PocketBaseServer(c.pb_data_dir, c.superuser_email, c.superuser_password,
                              log_path=self.tmp / "pocketbase-seed.log").start()
        try:
            templates = seed.create_templates(pb.url, pb.superuser_token())
        finally:
            pb.stop()
        self.info["counts"] = seed.seed_database(c.pb_data_dir, self.shape, templates)
        self.info["seed_seconds"] = round(time.monotonic() - t0, 1)
        log(f"{self.shape.n_users:,} users seeded in {self.info['seed_seconds']} s: {self.info['counts']}")

    def start(self) -> None:
        """The stack on the seeded data, the wrk input files written, every worker warm."""
        t0 = time.monotonic()
        self.stack.start()
        self.info["start_seconds"] = round(time.monotonic() - t0, 1)
        self.files = self.write_inputs()
        warm_up(self.stack)

    def write_inputs(self) -> dict[str, Path]:
        """What the wrk requests read: user tokens from our login route (refreshable: the native auth-refresh
        uses them too), the seeded company ids, the phone photo and a superuser token."""
        session = requests.Session()
        tokens = []
        for i in range(N_TOKENS):
            r = session.post(f"{self.stack.base_url}/pb/api/wechat/login", timeout=30,
                             json={"users_wx_code": f"benchuser{i * 37 % self.shape.n_users}"})
            r.raise_for_status()
            tokens.append(r.json()["token"])
        files = {"tokens": "\n".join(tokens), "superuser": self.stack.pb.superuser_token(),
                 "companies": "\n".join(seed.company_bid(i) for i in range(self.shape.n_companies))}
        paths = {name: self.tmp / f"{name}.txt" for name in files}
        for name, text in files.items():
            paths[name].write_text(text + "\n")
        paths["photo"] = self.tmp / "photo.jpg"
        paths["photo"].write_bytes(phone_photo())
        return paths

    def configure_sidecars(self, settings: dict[str, str]) -> None:
        """Restart the sidecars with settings (e.g. CONTENT_SECURITY) unless they run with them already; warm them
        up, and let every worker see every token's user once, as a running service has (sidecar/openids.py).
        PocketBase, the stub and nginx keep running."""
        stack = self.stack
        env = stack.sidecar_env if stack.sidecar_env is not None else stack.build_sidecar_env()
        wanted = {**SIDECAR_SETTINGS, **settings}
        if all(env.get(name) == value for name, value in wanted.items()):
            return
        env.update(wanted)
        stack.sidecar_env = env
        for name in [name for name in stack.processes if name.startswith("sidecar")]:
            stack.processes.pop(name).stop()
        for port in self.config.local_sidecar_ports:
            stack.start_sidecar(port)
        warm_up(stack)
        # A profile request without fields writes and checks nothing; its answer fills the worker's map.
        with requests.Session() as session:
            for _ in range(4 * self.config.sidecar_workers * len(self.config.local_sidecar_ports)):
                for token in self.files["tokens"].read_text().split():
                    session.post(stack.base_url + "/pb/api/wechat/profile", json={}, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})
        log(f"sidecars restarted with {settings or 'the bench settings'}")

    def count_users(self) -> int:
        """tbl_auth_users' totalItems (the first-login cell counts the users it made)."""
        r = requests.get(f"{self.config.pb_url}/api/collections/tbl_auth_users/records", timeout=30,
                         params={"perPage": 1, "fields": "id"},
                         headers={"Authorization": self.stack.pb.superuser_token()})
        r.raise_for_status()
        return r.json()["totalItems"]

    def stop(self) -> None:
        """Stop the stack and remove its data."""
        self.stack.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def warm_up(stack: Stack) -> None:
    """Every sidecar worker holds its superuser session and collection ids."""
    for i in range(40):
        requests.post(stack.base_url + "/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i}"}, timeout=30)


def group_ticks(pid: int) -> int:
    """Clock ticks (user + system) used so far by the process group led by pid."""
    return sum(int(f[11]) + int(f[12]) for f in map(proc_stat, process_group_members({pid})) if f)


def cpu_seconds(processes: dict) -> dict[str, float]:
    """CPU seconds used so far by each of the processes (ManagedProcess, with their children), by name."""
    tick = os.sysconf("SC_CLK_TCK")
    return {name: group_ticks(p.pid) / tick for name, p in processes.items()}


def rss_mib(stack: Stack) -> dict[str, float]:
    """VmRSS in MiB of each of the stack's process groups, by name."""
    def rss_kb(pid: int) -> int:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return {name: sum(map(rss_kb, process_group_members({p.pid}))) / 1024 for name, p in stack.processes.items()}
