"""The stack as the benchmark runs it: free ports, a temp data dir, no rate limits (nor UPLOAD_RATE), the WeChat
dev stub."""
from __future__ import annotations

import secrets
from pathlib import Path

import requests

from bench.scenarios import BENCH_SIDECAR_SETTINGS
from ops.processes import free_port
from ops.stack import Stack, StackConfig


def bench_config(tmp: Path, **settings) -> StackConfig:
    """A stack on free ports with its data and run dirs in tmp, no rate limits, the WeChat dev stub (and
    other settings, e.g. S3_* and REPLICA_URL for bench/replica.py)."""
    http_port = free_port()
    return StackConfig.from_env(overrides={
        "HTTP_PORT": http_port, "PB_PORT": free_port(), "SIDECAR_PORT": free_port(),
        "PB_DATA_DIR": tmp / "pb_data", "RUN_DIR": tmp / "run", "RATE_LIMITS": "off",
        "UPLOAD_RATE": "off",
        "WECHAT_APPID": "", "WECHAT_SECRET": "", "PB_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}", **BENCH_SIDECAR_SETTINGS, **settings,
    }, dotenv_path=None)


def warm_up(stack: Stack) -> None:
    """Warm up the sidecar (superuser session, collection ids) in every worker."""
    for i in range(40):
        requests.post(stack.base_url + "/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i}"}, timeout=30)


def configure_sidecars(stack: Stack, settings: dict[str, str], tokens_file: Path | None = None) -> bool:
    """Restart the stack's sidecars with settings (e.g. CONTENT_SECURITY) unless they run with them already, and
    warm them up (and their openid maps with the cells' users, tokens_file); whether they were restarted.
    PocketBase, the stub and nginx keep running."""
    env = stack.sidecar_env if stack.sidecar_env is not None else stack.build_sidecar_env()
    if all(env.get(name) == value for name, value in settings.items()):
        return False
    env.update(settings)
    stack.sidecar_env = env
    for name in [name for name in stack.processes if name.startswith("sidecar")]:
        stack.processes.pop(name).stop()
    for port in stack.config.local_sidecar_ports:
        stack.start_sidecar(port)
    warm_up(stack)
    if tokens_file:
        warm_openids(stack, tokens_file.read_text().split())
    return True


def warm_openids(stack: Stack, tokens: list[str]) -> None:
    """Let every worker see every user of the cell once, as a running service has (sidecar/openids.py): a profile
    request without fields writes nothing and checks nothing, and its answer fills the serving worker's map.
    Workers take requests as they come, so each token goes 4 times per worker (a pair left out: ~1%)."""
    rounds = 4 * stack.config.sidecar_workers * len(stack.config.local_sidecar_ports)
    with requests.Session() as session:
        for _ in range(rounds):
            for token in tokens:
                session.post(stack.base_url + "/pb/api/wechat/profile", json={}, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
