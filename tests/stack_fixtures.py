"""Pytest fixtures that run the whole stack (PocketBase, WeChat dev stub, gunicorn, nginx) as real processes.

Registered as a plugin by tests/conftest.py. `stack` is one stack for the session (rate limits off, dev
stub); `make_stack(**settings)` starts an extra stack with other settings, stopped after the test. Both
check at the end that no process of theirs is left running.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ops.processes import free_ports, retry_on_fresh_ports
from ops.stack import Stack, StackConfig
from tests.helpers import PB


def stack_settings(base_dir: Path, **settings) -> dict:
    """Settings for a stack of its own: free ports, private data and run dirs, dev stub, no rate limits."""
    # Picked together: separate free_port() calls may return one port twice.
    http_port, pb_port, sidecar_port = free_ports(3)
    defaults = {
        "HTTP_PORT": http_port,
        "PB_PORT": pb_port,
        "SIDECAR_PORT": sidecar_port,
        "PB_DATA_DIR": str(base_dir / "pb_data"),
        "RUN_DIR": str(base_dir / "run"),
        "NGINX_LISTEN": "127.0.0.1",
        "RATE_LIMITS": "off",
        # Set explicitly so a developer's environment never turns a test stack into a live one.
        "WECHAT_APPID": "",
        "WECHAT_SECRET": "",
        "WECHAT_API_BASE": "",
        "PB_SUPERUSER_EMAIL": "",
        "PB_SUPERUSER_PASSWORD": "",
        "PUBLIC_BASE_URL": "",
        "CORS_ALLOWED_ORIGINS": "*",
        # "" is the table's default (ops/settings.py), whatever the developer's environment says.
        "UPLOAD_MAX_BYTES": "",
        "UPLOAD_RATE": "",
        # Two cores run the tests: a small sidecar leaves room for PocketBase and nginx.
        "SIDECAR_WORKERS": 2,
    }
    defaults.update(settings)
    return defaults


def start_stack(base_dir: Path, **settings) -> Stack:
    """A started stack configured by stack_settings (no .env is read), on fresh ports should another
    process bind one of them first."""
    def start(ports: list[int]) -> Stack:
        picked = dict(zip(("HTTP_PORT", "PB_PORT", "SIDECAR_PORT"), ports))
        config = StackConfig.from_env(stack_settings(base_dir, **{**picked, **settings}), dotenv_path=None)
        return Stack(config).start()

    return retry_on_fresh_ports(start, count=3)


def stop_and_check(stack: Stack) -> None:
    """Stop the stack and fail if any of its processes survived."""
    stack.stop()
    leftover = stack.leftover_pids()
    assert leftover == [], f"processes of the stack still running after stop(): {leftover}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """The whole stack for the session: dev stub, rate limits off, nginx on 127.0.0.1."""
    started = start_stack(tmp_path_factory.mktemp("stack"))
    yield started
    stop_and_check(started)


@pytest.fixture(scope="session")
def stack_pb(stack) -> PB:
    """Superuser access to the session stack's PocketBase (directly, not through nginx)."""
    return PB(stack.pb)


@pytest.fixture()
def make_stack(tmp_path_factory):
    """Factory: make_stack(RATE_LIMITS="5r/s,burst=5", ...) starts another stack, stopped after the test."""
    started: list[Stack] = []

    def factory(**settings) -> Stack:
        extra = start_stack(tmp_path_factory.mktemp("extra-stack"), **settings)
        started.append(extra)
        return extra

    yield factory
    for extra in started:
        stop_and_check(extra)
