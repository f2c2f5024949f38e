"""The stack as the benchmark runs it: free ports, a temp data dir, no rate limits, the WeChat dev stub."""
from __future__ import annotations

import secrets
from pathlib import Path

import requests

from ops.processes import free_port
from ops.stack import Stack, StackConfig


def bench_config(tmp: Path, **settings) -> StackConfig:
    """A stack on free ports with its data and run dirs in tmp, no rate limits, the WeChat dev stub (and
    other settings, e.g. S3_* and REPLICA_URL for bench/replica.py)."""
    http_port = free_port()
    return StackConfig.from_env(overrides={
        "HTTP_PORT": http_port, "PB_PORT": free_port(), "SIDECAR_PORT": free_port(),
        "PB_DATA_DIR": tmp / "pb_data", "RUN_DIR": tmp / "run", "RATE_LIMITS": "off",
        "WECHAT_APPID": "", "WECHAT_SECRET": "", "PB_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}", **settings,
    }, dotenv_path=None)


def warm_up(stack: Stack) -> None:
    """Warm up the sidecar (superuser session, collection ids) in every worker."""
    for i in range(40):
        requests.post(stack.base_url + "/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i}"}, timeout=30)
