"""No secret on a command line: `make superuser` and `make run` are watched process by process."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from ops.pbserver import superuser_token
from ops.processes import ROOT, free_port


class CommandLineWatcher:
    """Reads every process's /proc/<pid>/cmdline in a loop until stopped."""

    def __init__(self):
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        self.seen.add(Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(
                            errors="replace"))
                    except OSError:
                        pass

    def __enter__(self) -> "CommandLineWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def _environment(tmp_path: Path, password: str) -> dict:
    ports = {"HTTP_PORT": free_port(), "PB_PORT": free_port(), "SIDECAR_PORT": free_port()}
    return dict(os.environ, **{k: str(v) for k, v in ports.items()}, PB_DATA_DIR=str(tmp_path / "pb_data"),
                RUN_DIR=str(tmp_path / "run"), NGINX_LISTEN="127.0.0.1", RATE_LIMITS="off",
                PB_SUPERUSER_EMAIL="argv@example.com", PB_SUPERUSER_PASSWORD=password, WECHAT_APPID="",
                SIDECAR_WORKERS="1")


@pytest.mark.slow  # make run: a whole stack
def test_make_superuser_and_make_run_keep_the_password_off_every_command_line(tmp_path):
    password = "Argv-" + secrets.token_urlsafe(18)
    env = _environment(tmp_path, password)
    data_dir = env["PB_DATA_DIR"]
    with CommandLineWatcher() as watcher:
        done = subprocess.run(["make", "-s", "superuser"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert password not in done.stdout + done.stderr
        run = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert run.poll() is None, run.stdout.read()
                try:
                    if requests.get(f"http://127.0.0.1:{env['HTTP_PORT']}/pb/api/system/health",
                                    timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            # The superuser set by `make superuser` and kept by `make run` logs in with the password.
            assert superuser_token(f"http://127.0.0.1:{env['PB_PORT']}", "argv@example.com", password)
        finally:
            os.killpg(run.pid, signal.SIGTERM)
            output, _ = run.communicate(timeout=60)
    assert password not in output
    leaked = [line for line in watcher.seen if password in line]
    assert leaked == [], leaked
    # The watcher did see the processes it was meant to watch.
    assert any("pocketbase migrate up" in line and data_dir in line for line in watcher.seen), "missed migrate up"
    assert any("pocketbase serve" in line and data_dir in line for line in watcher.seen), "missed serve"
    for log in Path(env["RUN_DIR"]).glob("*.log"):
        assert password not in log.read_text(errors="replace"), log
