"""Start the pinned PocketBase with this project's migrations and hooks."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ops.processes import ROOT, ManagedProcess, free_port, pocketbase_binary, retry_on_fresh_ports

MIGRATIONS_DIR = ROOT / "pb_migrations"
HOOKS_DIR = ROOT / "pb_hooks"
# The data (phones, OCR text, password hashes, backups) is its owner's alone: PocketBase runs with this
# umask, so every file it creates is 0600 and every directory 0700.
DATA_UMASK = 0o077


def secure_data_dir(data_dir: Path) -> None:
    """Create data_dir as 0700, and make what is already in it 0700 (dirs) / 0600 (files)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    for parent, dirs, files in os.walk(data_dir):
        for name in dirs:
            os.chmod(os.path.join(parent, name), 0o700)
        for name in files:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def superuser_token(url: str, email: str, password: str, timeout: float = 15) -> str:
    """A fresh superuser token from the PocketBase at url; requests' errors when that fails."""
    response = requests.post(f"{url}/api/collections/_superusers/auth-with-password",
                             json={"identity": email, "password": password}, timeout=timeout)
    response.raise_for_status()
    return response.json()["token"]


@dataclass
class PocketBaseServer:
    """One PocketBase process: its data dir, port, superuser and log."""

    data_dir: Path
    superuser_email: str
    superuser_password: str
    # 0: a free port, picked again should another process bind it before PocketBase does.
    port: int = 0
    log_path: Path | None = None
    env: dict | None = None
    migrations_dir: Path = MIGRATIONS_DIR
    hooks_dir: Path = HOOKS_DIR
    process: ManagedProcess | None = None
    pick_port: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.port:
            self.pick_port = True
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _flags(self) -> list[str]:
        return [
            f"--dir={self.data_dir}",
            f"--migrationsDir={self.migrations_dir}",
            f"--hooksDir={self.hooks_dir}",
            "--automigrate=false",
        ]

    def _env(self) -> dict:
        """PocketBase's environment: the superuser for pb_hooks/superuser.pb.js (never its command line)."""
        return dict(self.env if self.env is not None else os.environ,
                    PB_SUPERUSER_EMAIL=self.superuser_email, PB_SUPERUSER_PASSWORD=self.superuser_password)

    def upsert_superuser(self) -> None:
        """Create or update the superuser without serving: `migrate up` boots PocketBase, whose bootstrap
        hook sets the superuser from the environment, then applies the migrations."""
        secure_data_dir(self.data_dir)
        result = subprocess.run([pocketbase_binary(), "migrate", "up", *self._flags()], capture_output=True,
                                text=True, env=self._env(), timeout=120, umask=DATA_UMASK)
        if result.returncode != 0:
            # Never show the password, should anything echo it back.
            raise RuntimeError("pocketbase could not set the superuser: "
                               + (result.stdout + result.stderr).replace(self.superuser_password, "***")[-2000:])

    def start(self, deadline: float = 60.0) -> "PocketBaseServer":
        """Serve (the bootstrap hook upserts the superuser) and wait until /api/health answers 200."""
        if self.pick_port:
            return retry_on_fresh_ports(lambda ports: self._serve(ports[0], deadline), first=[self.port])
        return self._serve(self.port, deadline)

    def _serve(self, port: int, deadline: float) -> "PocketBaseServer":
        self.port = port
        secure_data_dir(self.data_dir)
        log_path = self.log_path or self.data_dir / "pocketbase.log"
        self.process = ManagedProcess(
            "pocketbase",
            [pocketbase_binary(), "serve", f"--http=127.0.0.1:{self.port}", "--hooksWatch=false", *self._flags()],
            log_path, env=self._env(), umask=DATA_UMASK,
        ).start()
        self.process.wait_http(self.url + "/api/health", deadline, ok=lambda r: r.status_code == 200)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        if self.process:
            self.process.kill()

    def superuser_token(self) -> str:
        """A fresh superuser auth token."""
        return superuser_token(self.url, self.superuser_email, self.superuser_password)
